#!/bin/bash
# Ingestion rate: kindredd indexing DIR from an empty state (start to the moment STATUS shows
# every file indexed or failed and no scan running) against `kindred embed` on the same files,
# same threads, one after the other in one run.
#
# usage: [BIN=dir] Benchmarks/daemon/ingest.sh DIR [THREADS]
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=$(realpath "$1"); threads=${2:-2}
bin=${BIN:-.build/release}  # BIN=dir: another build's kindredd and kindred (not rebuilt)
[ -n "${BIN:-}" ] || { swift build -c release --product kindredd >/dev/null && swift build -c release --product kindred >/dev/null; }
state=$(mktemp -d)
trap 'rm -rf "$state"' EXIT
$bin/kindred model install --state "$state" >/dev/null
# kindredd takes image files and symbolic links to image files inside the root (openclipart-png
# ships 1,221 such links), so count with -L. `kindred embed` skips links: compare images per second.
total=$(find -L "$dir" -type f \( -iname '*.png' -o -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.webp' \) | wc -l)
# Both runs read the files from the page cache: whichever ran first would otherwise pay the disk.
find -L "$dir" -type f -exec cat {} + > /dev/null

echo "== kindred embed (offline), $total image files"
/usr/bin/time -f '{"peak_rss_kb":%M}' $bin/kindred embed --state "$state" --threads "$threads" --out "$state/x.npy" "$dir" 2>&1 | grep -E '^\{' || true

echo "== kindredd, from start to everything indexed"
start=$(date +%s.%N)
$bin/kindredd --state "$state" --socket "$state/k.sock" --watch "$dir" --threads "$threads" --log-level warning 2>"$state/log" &
pid=$!
# Poll STATUS every 0.1 s over one connection: spawning `kindred status` each time cost 21 ms of
# CPU per call (`perf stat -r 20 -e task-clock kindred status`), ~5 % of the 2 cores measured.
# At the end it writes STATUS's `ingest_*` rows (where the time went, thread-seconds by stage) as JSON.
read -r idx failed < <(python3 - "$state/k.sock" "$total" "$pid" "$state/stages.json" "$start" "$state/timeline.json" <<'PY'
import json, os, socket, sys, time
path, total, pid, stages = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
start, timeline = float(sys.argv[5]), sys.argv[6]
seen = []  # (seconds since kindredd started, files indexed or failed): where the run's time went
while True:
    try:
        s = socket.socket(socket.AF_UNIX); s.connect(path); break
    except OSError:
        os.kill(pid, 0)  # raises, ending the benchmark, if kindredd exited before listening
        time.sleep(0.05)
reader = s.makefile("r")
while True:
    s.sendall(b"STATUS\n")
    n = int(reader.readline().split()[1])
    status = dict(reader.readline().rstrip("\n").split("\t", 1) for _ in range(n))
    idx, failed = int(status.get("indexed", 0)), int(status.get("failed", 0))
    seen.append((time.time() - start, idx + failed))
    if status.get("scanning") == "no" and idx + failed >= total:
        with open(stages, "w") as f:
            json.dump({k[len("ingest_"):]: float(v) for k, v in status.items() if k.startswith("ingest_") and k != "ingest_problem"}, f)
        # When the first file was done, then 10, 50, 90, 99 and 100 % of them.
        marks = {"first": next(t for t, n in seen if n > 0)}
        marks.update({f"{p}%": next(t for t, n in seen if n >= total * p / 100) for p in (10, 50, 90, 99, 100)})
        with open(timeline, "w") as f:
            json.dump({k: round(v, 2) for k, v in marks.items()}, f)
        print(idx, failed); break
    time.sleep(0.1)
PY
)
end=$(date +%s.%N)
rss=$(awk '/VmHWM/{print int($2/1024)}' /proc/$pid/status)
kill -TERM $pid; wait $pid
python3 -c "t=$end-$start; print('{\"files\":$total,\"indexed\":$idx,\"failed\":$failed,\"wall_s\":%.1f,\"images_per_s\":%.1f,\"peak_rss_mb\":$rss}' % (t, $total/t))"
echo "== kindredd's stages (STATUS ingest_*: thread-seconds by stage; waiting = the network's thread waiting for decoded files)"
cat "$state/stages.json"; echo
echo "== kindredd's timeline (seconds from its start until the first file, then each share of the files, was done)"
cat "$state/timeline.json"; echo
