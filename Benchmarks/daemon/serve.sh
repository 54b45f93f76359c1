# Sourced by the daemon benchmarks (run.sh, scale.sh), which set bin, work and sock.

# Starts kindredd on $work, sets pid, prints seconds until PING and until a SIMILAR is answered
# (SIMILAR answers `unavailable` until the indexes are loaded or built).
serve() {
  local t0; t0=$(date +%s.%N)
  $bin/kindredd --config "$work/kindred.toml" --state "$work/state" --socket "$sock" --threads 2 --log-level info 2>>"$work/kindredd.log" &
  pid=$!
  until $bin/kindred status --socket "$sock" >/dev/null 2>&1; do sleep 0.01; done
  local t1; t1=$(date +%s.%N)
  until $bin/kindred similar 1 -k 10 --socket "$sock" >/dev/null 2>&1; do sleep 0.01; done
  local t2; t2=$(date +%s.%N)
  echo "{\"to_ping_s\":$(echo "$t1 - $t0" | bc),\"to_similar_s\":$(echo "$t2 - $t0" | bc)}"
}

# Resident memory, split into anonymous (the indexes, the catalog cache) and file-backed (LMDB's
# mapped vectors: page cache, shared and reclaimable).
rss() { awk '/VmHWM|VmRSS|RssAnon|RssFile/{printf "%s %d MB  ", $1, $2/1024} END{print ""}' /proc/$pid/status; }
