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
targets=${*:-fuzz-protocol fuzz-decoders fuzz-tiff fuzz-gif fuzz-bmp fuzz-heif fuzz-jpeg2000 fuzz-raw fuzz-weights fuzz-snapshot fuzz-placement fuzz-service}
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
  log=$work.log
  "$bin/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -artifact_prefix=crashes/"$target"- \
    -print_final_stats=1 "$work" "$seeds" >"$log" 2>&1 || true
  grep -E "^(#[0-9]+ *DONE|stat::number_of_executed_units|stat::peak_rss_mb|stat::slowest_unit_time_sec)" "$log" >&2 || true
  rm -rf "$work"
  # libFuzzer writes an input that took 10 s or more but finished before its watchdog looked
  # (every 6 s) as slow-unit-, with no report. Run alone again, one that is fast was the shared
  # machine stalling, not the input: said, and dropped. One that is slow again fails the run.
  for slow in crashes/"$target"-slow-unit-*; do
    [ -e "$slow" ] || continue
    start=$(date +%s)
    "$bin/$target" -timeout=10 -rss_limit_mb=2048 "$slow" >/dev/null 2>&1 || true
    took=$(($(date +%s) - start))
    if [ "$took" -lt 5 ]; then
      echo "$target: $slow took 10 s or more once and $took s alone (the machine stalled); not kept" >&2
      rm -f "$slow"
    else
      echo "$target: $slow takes $took s alone" >&2
    fi
  done
  if ls crashes/"$target"-* >/dev/null 2>&1; then
    # What went wrong (a sanitizer's report, a timeout, running out of memory) and where.
    echo "$target: inputs in Fuzz/crashes/; the fuzzer's last words:" >&2
    sed -n '/ERROR\|deadly signal\|Fatal error\|timeout\|out-of-memory\|Slowest unit/,$p' "$log" | head -80 >&2
    rm -f "$log"
    exit 1
  fi
  rm -f "$log"
done
