# Sourced by the scripts that serve all of openclipart-png from a kindredd of their own
# (category-daemon.sh, answers-ab.sh), which set cache, root and bin.

# A work directory with a state holding the installed weights, and png/: a tree of hard links to
# the package's regular files only (its symbolic links repeat files). Hard links must stay on the
# package's file system, so the directory goes beside it, in the cache. Sets work, state, total
# and pid (empty); at exit, stops $pid and removes the directory. $1: the directory's name.
openclipart_work() {
  work=$(mktemp -d "$cache/$1.XXXXXX")
  state=$work/state; mkdir -p "$state/weights" "$work/png"
  cp "$cache/demo-state/weights/"* "$state/weights/"
  pid=
  trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$work"' EXIT
  cp -al "$root/." "$work/png" && find "$work/png" -type l -delete
  total=$(find "$work/png" -type f | wc -l)
}

# Waits until the kindredd on $work/k.sock has scanned, and indexed or failed every one of $total files.
wait_indexed() {
  until [ "$($bin/kindred status --socket "$work/k.sock" | awk -F'\t' '$1=="indexed"{i=$2} $1=="failed"{f=$2} $1=="scanning"{s=$2} $1=="pending"{p=$2} END{print (s=="no" && p==0 && i+f>='"$total"') ? "yes" : "no"}')" = yes ]; do
    sleep 2
  done
}
