# Sourced by the dev sets' scripts: `describe OUT LIST NAME [kindred embed options]` writes
# OUT/NAME.npy and OUT/NAME.txt for the files listed in LIST (one path a line), with the release
# build's `kindred embed` and the demo state's weights, unless OUT/NAME.npy exists; failures go to
# OUT/NAME.err, the summary line to stdout.
state=${KINDRED_CACHE:-$HOME/.cache/kindred}/demo-state
k=.build/release/kindred
swift build -c release --product kindred >&2
describe() {
  local out=$1 list=$2 name=$3; shift 3
  [ -f "$out/$name.npy" ] && return 0
  mkdir -p "$out"
  local files; mapfile -t files < "$list"
  $k embed --state "$state" --threads 2 "$@" --out "$out/$name.npy" --paths-out "$out/$name.txt" "${files[@]}" 2> "$out/$name.err" | tail -1
}
