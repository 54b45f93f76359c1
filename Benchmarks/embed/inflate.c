// PNG image data inflated three ways, the same files in one run: zlib a row at a time (as
// libspng asks for it), ISA-L as a stream in 64 KiB pieces (as InflatingPNGStream runs it), and
// libdeflate in one call into a buffer holding the whole image (for comparison only: it needs
// the inflated image in memory). Non-interlaced files only; every output is checked against
// zlib's by its CRC. Split at 64 MiB of inflated rows.
// usage: Benchmarks/embed/inflate.sh FILELIST
#include <isa-l/igzip_lib.h>
#include <libdeflate.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}
static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }

struct totals { int files, mismatches; double bytes, zlib, isal, libdeflate; };

int main(int argc, char **argv) {
    if (argc != 2) return fprintf(stderr, "usage: inflate FILELIST\n"), 2;
    FILE *list = fopen(argv[1], "r");
    if (!list) return perror(argv[1]), 1;
    struct totals small = {0}, large = {0};
    struct libdeflate_decompressor *whole = libdeflate_alloc_decompressor();
    struct inflate_state *stream = malloc(sizeof *stream);
    enum { piece = 65536 };
    uint8_t *out = malloc(piece);
    char path[4096];
    while (fgets(path, sizeof path, list)) {
        path[strcspn(path, "\n")] = 0;
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        rewind(f);
        uint8_t *file = malloc(size);
        if (size < 33 || fread(file, 1, size, f) != (size_t)size || file[28] != 0) {
            fclose(f), free(file);
            continue;
        }
        fclose(f);
        const uint32_t width = be32(file + 16), height = be32(file + 20);
        const int depth = file[24], colour = file[25];
        const int channels = colour == 2 ? 3 : colour == 4 ? 2 : colour == 6 ? 4 : 1;
        const size_t rowBytes = ((size_t)width * channels * depth + 7) / 8 + 1, rows = rowBytes * height;
        uint8_t *data = malloc(size);
        size_t dataBytes = 0;
        for (size_t at = 8; at + 12 <= (size_t)size;) {
            const uint32_t length = be32(file + at);
            if (at + 12 + length > (size_t)size) break;
            if (!memcmp(file + at + 4, "IDAT", 4)) memcpy(data + dataBytes, file + at + 8, length), dataBytes += length;
            at += 12 + length;
        }
        struct totals *t = rows > (64u << 20) ? &large : &small;

        double t0 = now();
        z_stream z = {0};
        inflateInit(&z);
        inflateValidate(&z, 0);  // as libspng with SPNG_CTX_IGNORE_ADLER32
        z.next_in = data, z.avail_in = dataBytes;
        uLong zcrc = 0;
        for (int status = Z_OK; status == Z_OK;) {
            z.next_out = out, z.avail_out = rowBytes < piece ? rowBytes : piece;
            const uInt asked = z.avail_out;
            status = inflate(&z, Z_SYNC_FLUSH);
            zcrc = crc32(zcrc, out, asked - z.avail_out);
        }
        inflateEnd(&z);
        double t1 = now();
        isal_inflate_init(stream);
        stream->crc_flag = ISAL_ZLIB;
        stream->next_in = data, stream->avail_in = dataBytes;
        uLong icrc = 0;
        for (;;) {
            stream->next_out = out, stream->avail_out = piece;
            if (isal_inflate(stream) != ISAL_DECOMP_OK) break;
            icrc = crc32(icrc, out, piece - stream->avail_out);
            if (stream->block_state == ISAL_BLOCK_FINISH || stream->avail_out == piece) break;
        }
        double t2 = now();
        uint8_t *all = malloc(rows);
        size_t produced = 0;
        libdeflate_zlib_decompress(whole, data, dataBytes, all, rows, &produced);
        double t3 = now();
        const uLong dcrc = crc32(0, all, produced);
        t->mismatches += (icrc != zcrc) + (dcrc != zcrc);
        t->files++, t->bytes += rows, t->zlib += t1 - t0, t->isal += t2 - t1, t->libdeflate += t3 - t2;
        free(all), free(data), free(file);
    }
    for (int i = 0; i < 2; i++) {
        const struct totals *t = i ? &large : &small;
        printf("%s 64 MiB inflated: %d files, %.1f MB; zlib %.3f s, ISA-L %.3f s (%.2fx), libdeflate %.3f s (%.2fx); "
               "outputs unlike zlib's: %d\n",
               i ? "over" : "up to", t->files, t->bytes / 1e6, t->zlib, t->isal, t->zlib / t->isal, t->libdeflate,
               t->zlib / t->libdeflate, t->mismatches);
    }
    return 0;
}
