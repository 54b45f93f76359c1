// How many 256-bit VPMADDWD, VFMADD231PS, and VPMADDWD-with-VPADDD pairs this core retires a
// nanosecond: twelve independent accumulators each, so the rate is the execution units', not an
// instruction's latency. Says what the AVX2 int16 kernel (cnn_i16.c) can gain over the fp32 FMA
// kernel on a CPU (RESULTS.md, "On a Zen 3 EPYC, and int16 on AVX2").
// Build and run: clang -O2 -o /tmp/madd Benchmarks/embed/madd.c && /tmp/madd
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

#define ROUNDS 100000000L

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

// Each accumulator a read-write operand of its own, so the compiler cannot merge two equal ones
// into one register (which would chain the instructions on each other's latency).
#define ACCUMULATORS(a) \
    "+x"(a[0]), "+x"(a[1]), "+x"(a[2]), "+x"(a[3]), "+x"(a[4]), "+x"(a[5]), "+x"(a[6]), "+x"(a[7]), "+x"(a[8]), \
        "+x"(a[9]), "+x"(a[10]), "+x"(a[11])
__attribute__((target("avx2,fma"))) int main(void) {
    __m256i a[12];
    __m256 f[12];
    for (int i = 0; i < 12; i++) a[i] = _mm256_set1_epi32(i + 1), f[i] = _mm256_set1_ps((float)(i + 1));
    const __m256i x = _mm256_set1_epi16(3);
    const __m256 y = _mm256_set1_ps(1.0f);

    double t = now();
    for (long i = 0; i < ROUNDS; i++)
        __asm__ volatile("vpmaddwd %12,%0,%0\n vpmaddwd %12,%1,%1\n vpmaddwd %12,%2,%2\n vpmaddwd %12,%3,%3\n"
                         "vpmaddwd %12,%4,%4\n vpmaddwd %12,%5,%5\n vpmaddwd %12,%6,%6\n vpmaddwd %12,%7,%7\n"
                         "vpmaddwd %12,%8,%8\n vpmaddwd %12,%9,%9\n vpmaddwd %12,%10,%10\n vpmaddwd %12,%11,%11"
                         : ACCUMULATORS(a)
                         : "x"(x));
    printf("vpmaddwd ymm: %.2f per ns\n", 12.0 * ROUNDS / (now() - t) / 1e9);

    t = now();
    for (long i = 0; i < ROUNDS; i++)
        __asm__ volatile("vfmadd231ps %12,%12,%0\n vfmadd231ps %12,%12,%1\n vfmadd231ps %12,%12,%2\n"
                         "vfmadd231ps %12,%12,%3\n vfmadd231ps %12,%12,%4\n vfmadd231ps %12,%12,%5\n"
                         "vfmadd231ps %12,%12,%6\n vfmadd231ps %12,%12,%7\n vfmadd231ps %12,%12,%8\n"
                         "vfmadd231ps %12,%12,%9\n vfmadd231ps %12,%12,%10\n vfmadd231ps %12,%12,%11"
                         : ACCUMULATORS(f)
                         : "x"(y));
    printf("vfmadd231ps ymm: %.2f per ns\n", 12.0 * ROUNDS / (now() - t) / 1e9);

    // Six multiply-adds, each beside an add into another accumulator: the int16 kernel's pair.
    t = now();
    for (long i = 0; i < ROUNDS; i++)
        __asm__ volatile("vpmaddwd %12,%0,%0\n vpaddd %12,%1,%1\n vpmaddwd %12,%2,%2\n vpaddd %12,%3,%3\n"
                         "vpmaddwd %12,%4,%4\n vpaddd %12,%5,%5\n vpmaddwd %12,%6,%6\n vpaddd %12,%7,%7\n"
                         "vpmaddwd %12,%8,%8\n vpaddd %12,%9,%9\n vpmaddwd %12,%10,%10\n vpaddd %12,%11,%11"
                         : ACCUMULATORS(a)
                         : "x"(x));
    printf("vpmaddwd+vpaddd pairs: %.2f pairs per ns\n", 6.0 * ROUNDS / (now() - t) / 1e9);
    return 0;
}
