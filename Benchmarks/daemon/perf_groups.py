"""Where a kindredd profile's samples went, by call chain: each sample is counted under the first
group (in the order below) one of whose patterns matches a frame of its chain. liblmdb has no
frame pointers, so an LMDB sample's callers are lost: it counts under "LMDB". With --under
PATTERN, the samples whose chain holds PATTERN instead, by their leaf symbol and by the frame just
below PATTERN's outermost match.

usage: perf script -i perf.data | python3 Benchmarks/daemon/perf_groups.py [--under PATTERN]
  (after `perf record -F 2999 -g -p PID -- sleep 12` under `kindred bench load`)
"""
import collections, re, sys

GROUPS = [
    ("the walk", r"searchLayer|i8_dot|i4_dot"),
    ("the recorder's exact re-read", r"RecordedVectors.*Recorder"),
    ("the search's exact re-rank", r"HNSWIndexC6rerank"),
    ("the fused ranking: its candidates' CNN vectors", r"FusionV16CandidateVectors"),
    ("the fused ranking: the rest", r"KindredEngine6Fusion"),
    ("SQLite", r"GRDB|sqlite3"),
    ("the rest of answering a request (parsing, the item's lookup, the answer's text)",
     r"CommandService|ConnectionHandler"),
    ("the event loop", r"SelectableEventLoop|NIOPosix"),
]


def samples(lines):
    """Each sample's frames, leaf first."""
    stack = None
    for line in lines:
        line = line.rstrip("\n")
        if not line.strip():
            if stack:
                yield stack
            stack = None
        elif line[0] in " \t":
            parts = line.strip().split(None, 1)
            if stack is not None and len(parts) == 2:
                stack.append(parts[1])
        else:
            stack = []
    if stack:
        yield stack


def bare(frame):
    return re.sub(r"\+0x[0-9a-f]+.*", "", frame)


def main():
    under = sys.argv[sys.argv.index("--under") + 1] if "--under" in sys.argv else None
    counts, children, total = collections.Counter(), collections.Counter(), 0
    for stack in samples(sys.stdin):
        total += 1
        if under:
            marks = [i for i, f in enumerate(stack) if re.search(under, f)]
            if marks:
                counts[bare(stack[0])[:110]] += 1
                outer = max(marks)
                children[bare(stack[outer - 1])[:110] if outer > 0 else "(itself)"] += 1
            continue
        if "liblmdb" in stack[0]:
            counts["LMDB"] += 1
            continue
        name = next((n for n, p in GROUPS if any(re.search(p, f) for f in stack)), None)
        counts[name or "other: " + bare(stack[0])[:60]] += 1
    print(f"{total} samples")
    for title, counter in ([("leaf symbols", counts), ("below it", children)] if under else [("groups", counts)]):
        if under:
            print(f"-- {title} (shares of all samples)")
        for key, n in counter.most_common(20):
            print(f"{100 * n / total:6.2f} %  {key}")


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:  # piped into head
        pass
