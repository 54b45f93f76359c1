#!/bin/bash
# SIMILAR latency, the fused default against the CNN space alone, on one idle kindredd: 8 clients
# (on the same 2 cores) and then 1, ROUNDS times (default 2). Prints a JSON line a load, with each
# ranking's p50/p99 and the fused ÷ cnn ratios.
#
# - 1 client: the two rankings are interleaved within one load (`kindred bench load --space
#   cnn,fused`: the client asks both about the same item, the order rotating), so their
#   percentiles share the machine's noise; loads of each ranking minutes apart differed by more
#   than the gap being measured (RESULTS.md, "Find similar").
# - 8 clients: every client asks the same ranking for a second, then the other
#   (`--phase-seconds 1`), so each ranking queues behind its own kind only, as in a daemon that
#   answers it alone, while twenty alternating phases share the noise. (Interleaved per request, a
#   fused query would queue behind a mix of both and its latency would understate the gap; loads
#   of each ranking in turn put the noise of minutes between them.)
# usage: [TAG=name] [BIN=dir] [ROUNDS=2] [SECONDS_LOAD=20] [CLIENTS="8 1"] Benchmarks/quality/fused-latency.sh N
#   (after `[TAG=name] SKIP_REFIT=1 Benchmarks/daemon/scale.sh N DATA`, whose state it serves:
#   N synthetic items with CNN and style vectors and pHashes)
set -euo pipefail
cd "$(dirname "$0")/../.."
n=$1
bin=${BIN:-.build/release}  # BIN=dir: another build's kindredd and kindred (not rebuilt)
work=Benchmarks/data/scale-$n${TAG:+-$TAG}
sock=$work/k.sock
[ -d "$work/state" ] || { echo "no $work/state: run Benchmarks/daemon/scale.sh $n DATA first" >&2; exit 2; }
[ -n "${BIN:-}" ] || { swift build -c release --product kindredd >/dev/null && swift build -c release --product kindred >/dev/null; }
. Benchmarks/daemon/serve.sh
serve >/dev/null
trap 'kill -TERM $pid 2>/dev/null && wait $pid 2>/dev/null; true' EXIT  # waited for: a run right after must not find its socket removed
for round in $(seq "${ROUNDS:-2}"); do
  for clients in ${CLIENTS:-8 1}; do
    phase=0; [ "$clients" = 1 ] || phase=1
    $bin/kindred bench load --socket "$sock" --state "$work/state" --clients "$clients" --seconds "${SECONDS_LOAD:-20}" \
      --mix similar --space cnn,fused --phase-seconds $phase | tail -1 | python3 -c '
import json, sys
load, (turn, clients, phase) = json.loads(sys.stdin.read()), sys.argv[1:]
cnn, fused = load["similar_cnn"], load["similar_fused"]
print(json.dumps({"round": int(turn), "clients": int(clients), "phase_seconds": float(phase),
                  "requests": load["requests"], "daemon_cpu_ms_per_request": load.get("daemon_cpu_ms_per_request"),
                  "cnn_p50_ms": cnn["p50_ms"], "cnn_p99_ms": cnn["p99_ms"],
                  "fused_p50_ms": fused["p50_ms"], "fused_p99_ms": fused["p99_ms"],
                  "p50_ratio": round(fused["p50_ms"] / cnn["p50_ms"], 3),
                  "p99_ratio": round(fused["p99_ms"] / cnn["p99_ms"], 3)}))' "$round" "$clients" "$phase"
  done
done
