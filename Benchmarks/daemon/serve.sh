# Sourced by the daemon benchmarks (run.sh, scale.sh, ab.sh, ef_sweep.sh, refit_load.sh), which set bin,
# work and sock.

# Starts kindredd on $work, sets pid, prints seconds until PING and until a SIMILAR is answered
# (SIMILAR answers `unavailable` until the indexes are loaded or built).
serve() {
  local t0; t0=$(date +%s.%N)
  $bin/kindredd --config "$work/kindred.toml" --state "$work/state" --socket "$sock" --threads 2 --log-level info 2>>"$work/kindredd.log" &
  pid=$!
  until $bin/kindred status --socket "$sock" >/dev/null 2>&1; do alive; sleep 0.01; done
  local t1; t1=$(date +%s.%N)
  until $bin/kindred similar 1 -k 10 --socket "$sock" >/dev/null 2>&1; do alive; sleep 0.01; done
  local t2; t2=$(date +%s.%N)
  echo "{\"to_ping_s\":$(echo "$t1 - $t0" | bc),\"to_similar_s\":$(echo "$t2 - $t0" | bc)}"
}

# Resident memory, split into anonymous (the indexes, the catalog cache) and file-backed (LMDB's
# mapped vectors: page cache, shared and reclaimable).
rss() { awk '/VmHWM|VmRSS|RssAnon|RssFile/{printf "%s %d MB  ", $1, $2/1024} END{print ""}' /proc/$pid/status; }

# For the scripts that compare daemons or settings in one run: starts the kindredd binary $1 (default
# $bin/kindredd) on $work, sets pid, and returns once it answers SIMILAR with its CNN records read.
start_settled() {
  local lines; lines=$(wc -l < "$work/kindredd.log" 2>/dev/null || echo 0)
  "${1:-$bin/kindredd}" --config "$work/kindred.toml" --state "$work/state" --socket "$sock" --threads 2 \
    --log-level info 2>>"$work/kindredd.log" &
  pid=$!
  settle "$lines"
}

# For the scripts that compare daemons or settings in one run (ab.sh, ef_sweep.sh): waits until the
# kindredd just started answers SIMILAR and has read the CNN records ahead (SIMILAR re-ranks from
# the store; $1 is the line of $work/kindredd.log its start began at).
settle() {
  until $bin/kindred similar 1 -k 10 --socket "$sock" >/dev/null 2>&1; do alive; sleep 0.05; done
  until tail -n +"$(($1 + 1))" "$work/kindredd.log" | grep -q "CNN records"; do alive; sleep 1; done
}

# Ends the script when the kindredd just started ($pid) has exited: one that refuses its state at
# start (another writer holds it, a newer build migrated its catalog) would otherwise be waited
# for without end.
alive() {
  kill -0 "$pid" 2>/dev/null && return
  echo "kindredd exited at start: the end of $work/kindredd.log says why" >&2
  tail -n 3 "$work/kindredd.log" >&2
  exit 1
}

# SIMILAR (`space=cnn`, or SPACE=fused|style) under 8 clients (SECONDS_8 s, default 15), then 1
# client (10 s): a line each, after the label $1, with the CPU kindredd spent a request.
similar_loads() {
  local clients seconds
  for clients in 8 1; do
    seconds=${SECONDS_8:-15}; [ "$clients" = 1 ] && seconds=10
    $bin/kindred bench load --socket "$sock" --state "$work/state" --clients "$clients" \
      --seconds "$seconds" --mix similar --space "${SPACE:-cnn}" |
      grep -oE '"(daemon_cpu_ms_per_request|p50_ms|p99_ms|qps)":[0-9.]*' | head -4 | paste -sd' ' |
      sed "s|^|$1 ${SPACE:-cnn} clients $clients: |"
  done
}
