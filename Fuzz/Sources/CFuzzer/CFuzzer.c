// The declarations in include/CFuzzer.h are defined by libFuzzer (-sanitize=fuzzer).
