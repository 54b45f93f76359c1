// libtiff: TIFF and BigTIFF in strips or tiles, every photometric interpretation, multipage and
// reduced-resolution directories; its writer makes the test fixtures (Debian: libtiff-dev).
#include <tiffio.h>

// TIFFGetField and TIFFSetField are variadic, which Swift cannot call: one typed wrapper for each
// way Kindred and its tests use them.
static inline int kk_tiff_get_u32(TIFF *tiff, uint32_t tag, uint32_t *value) {
    return TIFFGetField(tiff, tag, value);
}
static inline int kk_tiff_get_u32_defaulted(TIFF *tiff, uint32_t tag, uint32_t *value) {
    return TIFFGetFieldDefaulted(tiff, tag, value);
}
static inline int kk_tiff_get_u16_defaulted(TIFF *tiff, uint32_t tag, uint16_t *value) {
    return TIFFGetFieldDefaulted(tiff, tag, value);
}
static inline int kk_tiff_get_subifds(TIFF *tiff, uint16_t *count, uint64_t **offsets) {
    return TIFFGetField(tiff, TIFFTAG_SUBIFD, count, offsets);
}
static inline int kk_tiff_set_u32(TIFF *tiff, uint32_t tag, uint32_t value) {
    return TIFFSetField(tiff, tag, value);
}
static inline int kk_tiff_set_u16(TIFF *tiff, uint32_t tag, uint16_t value) {
    return TIFFSetField(tiff, tag, (int)value);
}
static inline int kk_tiff_set_extra_samples(TIFF *tiff, uint16_t count, const uint16_t *kinds) {
    return TIFFSetField(tiff, TIFFTAG_EXTRASAMPLES, count, kinds);
}
static inline int kk_tiff_set_colormap(TIFF *tiff, const uint16_t *red, const uint16_t *green, const uint16_t *blue) {
    return TIFFSetField(tiff, TIFFTAG_COLORMAP, red, green, blue);
}
static inline int kk_tiff_set_subifds(TIFF *tiff, uint16_t count, const uint64_t *offsets) {
    return TIFFSetField(tiff, TIFFTAG_SUBIFD, count, offsets);
}
static inline int kk_tiff_get_icc(TIFF *tiff, uint32_t *count, void **profile) {
    return TIFFGetField(tiff, TIFFTAG_ICCPROFILE, count, profile);
}

// TIFFRGBAImage's "put" routine for 8-bit contiguous CMYK, replacing libtiff's naive ink
// inversion: it stores each pixel's four inks as they are (C, M, Y, K from the low byte up) in
// the raster, for the caller to colour-manage. Same walk as libtiff's own 8-bit routines.
static void kk_tiff_put_cmyk8(TIFFRGBAImage *image, uint32_t *raster, uint32_t x, uint32_t y, uint32_t width,
                              uint32_t height, int32_t fromSkew, int32_t toSkew, unsigned char *samples) {
    (void)x;
    (void)y;
    const int perPixel = image->samplesperpixel;
    fromSkew *= perPixel;
    for (; height > 0; --height) {
        for (uint32_t i = width; i > 0; --i) {
            *raster++ = (uint32_t)samples[0] | (uint32_t)samples[1] << 8 | (uint32_t)samples[2] << 16 |
                        (uint32_t)samples[3] << 24;
            samples += perPixel;
        }
        raster += toSkew;
        samples += fromSkew;
    }
}
static inline void kk_tiff_use_cmyk8(TIFFRGBAImage *image) { image->put.contig = kk_tiff_put_cmyk8; }
static inline int kk_tiff_set_icc(TIFF *tiff, uint32_t count, const void *profile) {
    return TIFFSetField(tiff, TIFFTAG_ICCPROFILE, count, profile);
}
