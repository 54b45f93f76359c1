#!/bin/sh
# Builds the libFuzzer targets (coverage + AddressSanitizer) and runs each for SECONDS (default
# 20; `make soak` runs 600), starting from the corpus kept in Tests/FuzzCorpus/TARGET. New inputs
# go to a scratch corpus, not the repository; crashes are written to Fuzz/crashes/ and fail the run.
#
# usage: Fuzz/run.sh [SECONDS] [TARGET...]
set -eu
cd "$(dirname "$0")"
seconds=${1:-20}
[ $# -gt 0 ] && shift
targets=${*:-fuzz-protocol fuzz-decoders fuzz-tiff fuzz-gif fuzz-bmp fuzz-heif fuzz-jpeg2000 fuzz-raw fuzz-weights fuzz-snapshot fuzz-service}
flags="-c release -Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=fuzzer-no-link,address -Xswiftc -use-ld=lld"
# shellcheck disable=SC2086
swift build $flags >&2
# shellcheck disable=SC2086
bin=$(swift build $flags --show-bin-path)
mkdir -p crashes
# Third-party one-time allocations LeakSanitizer would call leaks (each explained in the file).
LSAN_OPTIONS="suppressions=$(pwd)/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export LSAN_OPTIONS
for target in $targets; do
  seeds=../Tests/FuzzCorpus/$target
  work=$(mktemp -d)
  echo "== $target: $seconds s from $(ls "$seeds" | wc -l) seeds" >&2
  "$bin/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -artifact_prefix=crashes/"$target"- \
    -print_final_stats=1 "$work" "$seeds" 2>&1 | grep -E "^(#[0-9]+ *DONE|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==ERROR|SUMMARY)" >&2 || true
  rm -rf "$work"
  if ls crashes/"$target"-* >/dev/null 2>&1; then echo "$target: crash inputs in Fuzz/crashes/" >&2; exit 1; fi
done
