# The two set-up commands (README): `make demo` runs the main job, `make test` runs the tests.
# Both install what they need first.

.PHONY: deps demo test format soak bench-store bench-ann clean

deps:
	scripts/setup.sh deps
	scripts/setup.sh weights
	scripts/setup.sh testdata

demo: deps
	scripts/setup.sh build
	scripts/demo.sh

# The module graph and the formatting (.swift-format), the suite, then a short run of each
# libFuzzer target (Fuzz/) from its kept corpus. `make format` applies the formatting.
test: deps
	scripts/check-imports.sh
	swift format lint --strict --recursive --parallel $(SWIFT_SOURCES)
	swift test
	Fuzz/run.sh 15

SWIFT_SOURCES = Package.swift Sources Tests Benchmarks Fuzz/Package.swift Fuzz/Sources

format:
	swift format format --in-place --recursive --parallel $(SWIFT_SOURCES)

# The long versions of the reliability tests: 200 SIGKILLs in the crash loop, 2,000 request
# sequences through the command service, ten minutes of each fuzz target.
soak: deps
	KINDRED_CRASH_LOOPS=200 swift test --filter CrashLoopTests
	KINDRED_FUZZ_SEQUENCES=2000 swift test --filter CommandServiceFuzzTests
	Fuzz/run.sh 600

bench-store: deps
	swift build -c release --product kindred-bench-store
	.build/release/kindred-bench-store --n 100000 --d 1280

# HNSW against hnswlib, FAISS and USearch (../shared/bench), 100k x 256.
bench-ann: deps
	Benchmarks/ann/run.sh 100000 256

clean:
	rm -rf .build
