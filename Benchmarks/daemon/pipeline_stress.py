#!/usr/bin/env python3
"""Random pipelines against a running kindredd, checking every answer comes back in order.

Each of CLIENTS threads loops for SECONDS: it opens a connection and writes a random pipeline of
PING, HELP, FORMAT, malformed lines, over-long lines and SIMILAR-IMAGE with random bytes (some
larger than the image budget), in random cuts, sometimes reading slowly, sometimes shutting down
its writing side early, sometimes vanishing mid-pipeline. Where it reads, it checks it got one
answer per request, each of the kind expected, in order. Prints counts; exits non-zero on a
mismatch or if kindredd stops answering PING.

usage: pipeline_stress.py SOCKET [CLIENTS] [SECONDS] [SEED]
"""
import json, random, socket, sys, threading, time

path = sys.argv[1]
clients = int(sys.argv[2]) if len(sys.argv) > 2 else 8
seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 60
seed = int(sys.argv[4]) if len(sys.argv) > 4 else 1
failures, counts, lock = [], {"pipelines": 0, "answers": 0, "vanished": 0}, threading.Lock()


def read_answer(f, fmt):
    """One answer: ('ok'|'err', code)."""
    line = f.readline()
    if not line:
        raise EOFError("closed")
    if fmt == "json":
        obj = json.loads(line)
        return ("ok", None) if obj["ok"] else ("err", obj["error"])
    if line.startswith(b"OK "):
        for _ in range(int(line.split()[1])):
            f.readline()
        return ("ok", None)
    return ("err", line.split()[1].decode())


def pipeline(rng):
    parts, expected, fmt = [], [], "text"
    for _ in range(rng.randint(1, 60)):
        kind = rng.random()
        if kind < 0.3:
            parts.append(b"PING\n"); expected.append((fmt, "ok"))
        elif kind < 0.4:
            parts.append(b"HELP\n"); expected.append((fmt, "ok"))
        elif kind < 0.5:
            fmt = rng.choice(["text", "json"]); parts.append(f"FORMAT {fmt}\n".encode()); expected.append((fmt, "ok"))
        elif kind < 0.6:
            parts.append(bytes(rng.randrange(32, 127) for _ in range(rng.randint(1, 40))).replace(b"\n", b" ") + b"\n")
            expected.append((fmt, None))  # whatever it is, one answer
        elif kind < 0.65:
            parts.append(b"X" * rng.randint(70_000, 200_000) + b"\n"); expected.append((fmt, "err"))
        else:
            n = rng.choice([1, 10, 1000, 100_000, 3_000_000])
            body = bytes(rng.getrandbits(8) for _ in range(min(n, 2000))) * (n // min(n, 2000) + 1)
            parts.append(f"SIMILAR-IMAGE {n}\n".encode() + body[:n]); expected.append((fmt, "err"))
    return b"".join(parts), expected


def client(index):
    rng = random.Random(seed * 1000 + index)
    deadline = time.time() + seconds
    while time.time() < deadline:
        data, expected = pipeline(rng)
        s = socket.socket(socket.AF_UNIX)
        s.connect(path)
        f = s.makefile("rb")
        mode = rng.random()
        if mode < 0.1:  # vanish mid-pipeline
            s.sendall(data[: rng.randint(0, len(data))])
            s.close()
            with lock: counts["vanished"] += 1
            continue
        writer_done = threading.Event()

        def write():
            view, at = memoryview(data), 0
            while at < len(view):
                cut = rng.randint(1, 70_000)
                s.sendall(view[at:at + cut]); at += cut
            if mode < 0.5:
                s.shutdown(socket.SHUT_WR)
            writer_done.set()

        w = threading.Thread(target=write); w.start()
        try:
            for fmt, kind in expected:
                if mode > 0.8:
                    time.sleep(0.001)  # a slow reader
                got, code = read_answer(f, fmt)
                if kind is not None and got != kind:
                    with lock: failures.append((index, fmt, kind, got, code))
                with lock: counts["answers"] += 1
        except Exception as e:
            with lock: failures.append((index, "exception", repr(e)))
        w.join(); s.close()
        with lock: counts["pipelines"] += 1


threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
for t in threads: t.start()
for t in threads: t.join()
s = socket.socket(socket.AF_UNIX); s.connect(path); s.sendall(b"PING\n"); alive = s.recv(100) == b"OK 1\npong\n"
print(json.dumps({**counts, "failures": len(failures), "alive": alive}))
for f in failures[:10]: print(f)
sys.exit(0 if alive and not failures else 1)
