#!/bin/bash
# Copy detection dev set through a real kindredd: it indexes copies.py's collection (200
# originals + 5,000 distractors) from an empty state, then every transformed copy is sent with
# SIMILAR-IMAGE k=1, fused (the default) and space=cnn, over one connection. Prints recall@1 per
# transform and each ranking's query latency.
# usage: [BIN=dir] [CONFIGS="a.toml b.toml"] Benchmarks/quality/copies-daemon.sh [COPIES]
#   CONFIGS: settings files for kindredd (a [similar] section to compare): the state is indexed
#   once, then kindredd is restarted on it with each in turn and every query asked again.
#   STATE=dir: index into dir and keep it (a dir already indexed is reused), so builds of the
#   ranking can be compared on one state without indexing again.
set -euo pipefail
cd "$(dirname "$0")/../.."
copies=$(realpath "${1:-Benchmarks/data/quality/copies}")
bin=${BIN:-.build/release}  # BIN=dir: another build's kindredd and kindred (not rebuilt)
[ -n "${BIN:-}" ] || { swift build -c release --product kindredd >/dev/null && swift build -c release --product kindred >/dev/null; }
cache=${KINDRED_CACHE:-$HOME/.cache/kindred}
if [ -n "${STATE:-}" ]; then
  state=$(realpath -m "$STATE"); mkdir -p "$state/weights"
  trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT
else
  state=$(mktemp -d); mkdir -p "$state/weights"
  trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$state"' EXIT
fi
cp "$cache/demo-state/weights/"* "$state/weights/"
total=$(find "$copies/collection" -type f | wc -l)
start=$(date +%s.%N)
$bin/kindredd --state "$state" --socket "$state/k.sock" --watch "$copies/collection" --threads 2 --log-level warning 2>"$state/log" &
pid=$!
until $bin/kindred status --socket "$state/k.sock" >/dev/null 2>&1; do sleep 0.2; done
until [ "$($bin/kindred status --socket "$state/k.sock" | awk -F'\t' '$1=="indexed"{i=$2} $1=="failed"{f=$2} $1=="scanning"{s=$2} END{print (s=="no" && i+f>='"$total"') ? "yes" : "no"}')" = yes ]; do sleep 2; done
echo "indexed $total files in $(echo "$(date +%s.%N) - $start" | bc) s" >&2
ask_all() {
python3 - "$state/k.sock" "$copies" <<'PY'
import json, os, socket, sys, time
path, copies = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX); s.connect(path); reader = s.makefile('rb')
def ask(line, payload=b''):
    s.sendall(line.encode() + b'\n' + payload)
    head = reader.readline().decode().rstrip('\n')
    if not head.startswith('OK '): return head, []
    return head, [reader.readline().decode().rstrip('\n').split('\t') for _ in range(int(head[3:]))]
queries = os.path.join(copies, 'queries')
for ranking in ['fused', 'cnn']:
    hits, latency = {}, []
    for kind in sorted(os.listdir(queries)):
        for name in sorted(os.listdir(os.path.join(queries, kind))):
            data = open(os.path.join(queries, kind, name), 'rb').read()
            t = time.perf_counter()
            head, rows = ask(f'SIMILAR-IMAGE {len(data)} k=1 space={ranking}', data)
            latency.append(time.perf_counter() - t)
            found = os.path.splitext(os.path.basename(rows[0][3]))[0] if rows else head
            hits.setdefault(kind, []).append(found == os.path.splitext(name)[0] and '/originals/' in (rows[0][3] if rows else ''))
    latency.sort()
    row = {'ranking': ranking, **{k: round(sum(v) / len(v), 4) for k, v in hits.items()},
           'all': round(sum(sum(v) for v in hits.values()) / sum(len(v) for v in hits.values()), 4),
           'p50_ms': round(1000 * latency[len(latency) // 2], 1), 'p99_ms': round(1000 * latency[int(len(latency) * 0.99)], 1)}
    print(json.dumps(row))
PY
}
if [ -z "${CONFIGS:-}" ]; then ask_all; exit; fi
for config in $CONFIGS; do
  kill -TERM $pid; wait $pid || true
  $bin/kindredd --config "$config" --state "$state" --socket "$state/k.sock" --watch "$copies/collection" --threads 2 \
    --log-level warning 2>>"$state/log" &
  pid=$!
  until $bin/kindred similar 1 -k 1 --socket "$state/k.sock" >/dev/null 2>&1; do sleep 0.5; done
  echo "config $config" >&2
  ask_all | sed "s|^{|{\"config\": \"$(basename "$config")\", |"
done
