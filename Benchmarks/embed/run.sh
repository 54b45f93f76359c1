#!/bin/bash
# End-to-end embedding, files to features: kindred embed against ../shared/bench/pipeline_peer.py
# (Pillow decode, resize, onnxruntime), same files, same run, 2 threads each; kindred twice, describing
# each linked file once (its default) and every path (--every-path).
# usage: Benchmarks/embed/run.sh FILELIST [STATE]   (FILELIST: one image path per line)
set -eu
cd "$(dirname "$0")/../.."
list=$1; state=${2:-Benchmarks/data/embed-state}
. Benchmarks/embed/model.sh
mapfile -t files < "$list"  # one invocation each, so neither tool is split by xargs
# Both tools read the files from the page cache: whichever ran first would otherwise pay the disk.
cat "${files[@]}" > /dev/null
/usr/bin/time -f '{"lib": "kindred", "max_rss_kb": %M, "wall_s": %e}' $k embed --state "$state" --threads 2 --out "$out/kindred.npy" --paths-out "$out/kindred-paths.txt" "${files[@]}" 2> "$out/kindred-errors.txt" || true
tail -1 "$out/kindred-errors.txt"
grep -c "	" "$out/kindred-errors.txt" | sed 's/^/kindred failures: /' || true
# By default kindred describes a file once however many paths (symbolic or hard links) name it;
# --every-path describes each path, as the peer does: both, so the gain is seen apart.
/usr/bin/time -f '{"lib": "kindred --every-path", "max_rss_kb": %M, "wall_s": %e}' $k embed --every-path --state "$state" --threads 2 --out "$out/kindred-every.npy" "${files[@]}" 2> "$out/kindred-every-errors.txt" || true
tail -1 "$out/kindred-every-errors.txt"
/usr/bin/time -f '{"lib": "pipeline_peer", "max_rss_kb": %M, "wall_s": %e}' "$py" ../shared/bench/pipeline_peer.py "$out/model.onnx" "$out/peer" --threads 2 "${files[@]}" 2> "$out/peer-errors.txt" || true
tail -2 "$out/peer-errors.txt"
