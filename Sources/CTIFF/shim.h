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
