#!/bin/bash
# Two kindredd builds' answers compared on one state: the first indexes every regular file of
# openclipart-png, then each build in turn serves that state and answers SIMILAR <path> k=10
# (fused, the default, with explain=1) for every Nth file; prints how many answers are identical
# (ids in order), how many share their ids in another order, and the largest score difference of
# an id both answered. For a change meant to rank as before at less cost.
# usage: Benchmarks/quality/answers-ab.sh KINDREDD_A KINDREDD_B [EVERY]   (EVERY default 7)
set -euo pipefail
cd "$(dirname "$0")/../.."
a=$1; b=$2; every=${3:-7}
cache=${KINDRED_CACHE:-$HOME/.cache/kindred}
root=$cache/openclipart/usr/share/openclipart/png
bin=.build/release
swift build -c release --product kindred >/dev/null
. Benchmarks/quality/openclipart.sh
openclipart_work answers-ab
n=0
for daemon in "$a" "$b"; do
  n=$((n + 1))
  "$daemon" --state "$state" --socket "$work/k.sock" --watch "$work/png" --threads 2 --log-level warning \
    2>>"$work/log" &
  pid=$!
  until $bin/kindred status --socket "$work/k.sock" >/dev/null 2>&1; do sleep 0.2; done
  wait_indexed
  find "$work/png" -type f | sort | awk -v n="$every" 'NR % n == 1' | python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); reader = s.makefile("rb")
for path in sys.stdin.read().splitlines():
    s.sendall(f"SIMILAR {path} k=10 explain=1\n".encode())
    head = reader.readline().decode().rstrip("\n")
    rows = [reader.readline().decode().rstrip("\n").split("\t") for _ in range(int(head[3:]))] if head.startswith("OK ") else []
    print(path + "\t" + " ".join(f"{r[2]}:{r[1]}" for r in rows))
' "$work/k.sock" > "$work/answers-$n"
  kill -TERM $pid; wait $pid || true; pid=
done
python3 - "$work" <<'PY'
import json, sys
first, second = [dict(l.rstrip("\n").split("\t", 1) for l in open(f"{sys.argv[1]}/answers-{n}")) for n in (1, 2)]
same = reordered = 0
largest = 0.0
for path, answer in first.items():
    x = [p.split(":") for p in answer.split()]
    y = [p.split(":") for p in second[path].split()]
    same += [i for i, _ in x] == [i for i, _ in y]
    reordered += [i for i, _ in x] != [i for i, _ in y] and sorted(i for i, _ in x) == sorted(i for i, _ in y)
    scores = dict(y)
    for i, score in x:
        if i in scores: largest = max(largest, abs(float(score) - float(scores[i])))
print(json.dumps({"queries": len(first), "identical": same, "same_ids_reordered": reordered,
                  "largest_score_difference": round(largest, 4)}))
PY
