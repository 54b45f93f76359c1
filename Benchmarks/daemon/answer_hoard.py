#!/usr/bin/env python3
"""Clients that pipeline requests with large answers and never read them.

Opens N connections; each sends REQUEST (a line, e.g. "SIMILAR 1 k=1000 explain=1" or "MAP")
REPEAT times at once and then reads nothing. Prints kindredd's resident memory every 64
connections (PACE seconds apart, default 0), then every 5 s for HOLD seconds (default 60) while the connections stay open, then
what a new connection is answered. With PROBE set (a request line, e.g. "THUMBS limit=1"), each
5 s line also shows the first line a new connection is answered to it: whether the hoarders
still keep others out. kindredd must be running on SOCKET with pid PID.

usage: answer_hoard.py SOCKET PID N REPEAT REQUEST...
"""
import os, socket, sys, time

path, pid, n, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
request = (" ".join(sys.argv[5:]) + "\n").encode()
held = []


def resident():
    fields = [line.split() for line in open(f"/proc/{pid}/status") if line.startswith(("VmRSS", "RssAnon"))]
    return "  ".join(f"{name} {int(kb) // 1024} MB" for name, kb, _ in fields)


for i in range(n):
    s = socket.socket(socket.AF_UNIX)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(path)
    s.setblocking(False)
    try:
        s.send(request * repeat)
    except BlockingIOError:
        pass
    held.append(s)
    time.sleep(float(os.environ.get("PACE", "0")))
    if i % 64 == 63 or i + 1 == n:
        print(f"{i + 1} connections: {resident()}", flush=True)
hold = int(os.environ.get("HOLD", "60"))
probe = os.environ.get("PROBE")


def probed():
    if not probe:
        return ""
    c = socket.socket(socket.AF_UNIX)
    c.connect(path)
    c.settimeout(30)
    c.sendall(probe.encode() + b"\n")
    head = c.makefile("rb").readline().decode().strip()
    c.close()
    return f"  {probe}: {head[:60]}"


for waited in range(5, hold + 1, 5):
    time.sleep(5)
    print(f"{waited} s: {resident()}{probed()}", flush=True)
s = socket.socket(socket.AF_UNIX)
s.connect(path)
s.settimeout(30)
start = time.time()
s.sendall(b"PING\n" + request)
reply = s.recv(200)
print(f"a new connection: {reply[:120]!r} in {time.time() - start:.2f} s")
