#!/usr/bin/env python3
"""How long a newcomer waits behind clients that pipeline requests and hang up.

N clients each send VERB fifty times and close at once; then a fresh connection sends 200 PINGs.
Prints the first PING's wait (the work those clients left queued on kindredd's event loop) and
the median of the rest. kindredd must be running on SOCKET.

usage: vanishing_clients.py SOCKET [VERB] [N]      (defaults: HELP 200)
"""
import socket, sys, time

path = sys.argv[1]
verb = (sys.argv[2] if len(sys.argv) > 2 else "HELP").encode() + b"\n"
clients = int(sys.argv[3]) if len(sys.argv) > 3 else 200

def connect():
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    return s

for _ in range(clients):
    c = connect()
    c.sendall(verb * 50)
    c.close()

newcomer = connect()
reader = newcomer.makefile("rb")
waits = []
for _ in range(200):
    start = time.perf_counter()
    newcomer.sendall(b"PING\n")
    reader.readline(); reader.readline()
    waits.append((time.perf_counter() - start) * 1000)
print(f"{verb.strip().decode()} x 50 from {clients} vanishing clients: first PING {waits[0]:.1f} ms, "
      f"then median {sorted(waits[1:])[99]:.2f} ms, max {max(waits[1:]):.2f} ms")
