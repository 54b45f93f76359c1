#!/usr/bin/env python3
"""PING latency while clients hammer kindredd's heavy verbs.

CLIENTS threads loop for SECONDS over SIMILAR-IMAGE (IMAGE's bytes, cnn and style), DUPLICATES
max_distance=16 and SIMILAR of the first indexed item narrowed with within=prefix:ROOT, each
waiting for its answer before sending the next (closed loop), while one more connection sends a
PING every 10 ms. Prints the PING percentiles, how many heavy requests were answered and how many
were refused as busy. kindredd must be running on SOCKET, with ROOT watched and indexed.

usage: heavy_abuse.py SOCKET ROOT IMAGE [CLIENTS] [SECONDS]      (defaults: 8 30)
"""
import socket, sys, threading, time

path, root, image = sys.argv[1], sys.argv[2], open(sys.argv[3], "rb").read()
clients = int(sys.argv[4]) if len(sys.argv) > 4 else 8
seconds = float(sys.argv[5]) if len(sys.argv) > 5 else 30


class Connection:
    def __init__(self):
        self.socket = socket.socket(socket.AF_UNIX)
        self.socket.connect(path)
        self.reader = self.socket.makefile("rb")

    def ask(self, line, payload=b""):
        self.socket.sendall(line.encode() + b"\n" + payload)
        first = self.reader.readline().decode()
        if first.startswith("OK "):
            for _ in range(int(first.split()[1])):
                self.reader.readline()
        return first


first_item = Connection().ask("SIMILAR 1 k=1")
item = "1" if first_item.startswith("OK") else None
requests = [("SIMILAR-IMAGE %d k=10" % len(image), image), ("SIMILAR-IMAGE %d space=style" % len(image), image),
            ("DUPLICATES max_distance=16", b"")]
if item:
    requests.append(("SIMILAR %s k=10 within=prefix:%s" % (item, root), b""))
stop = time.time() + seconds
answered, busy = [0], [0]
lock = threading.Lock()


def hammer(n):
    connection = Connection()
    i = n
    while time.time() < stop:
        line, payload = requests[i % len(requests)]
        reply = connection.ask(line, payload)
        with lock:
            if reply.startswith("ERR unavailable busy"):
                busy[0] += 1
            else:
                answered[0] += 1
        i += 1


threads = [threading.Thread(target=hammer, args=(n,)) for n in range(clients)]
for t in threads:
    t.start()
time.sleep(1)
pinger = Connection()
waits = []
while time.time() < stop - 0.5:
    start = time.perf_counter()
    pinger.ask("PING")
    waits.append((time.perf_counter() - start) * 1000)
    time.sleep(0.01)
for t in threads:
    t.join()
waits.sort()
pick = lambda q: waits[min(len(waits) - 1, int(len(waits) * q))]
print(f"{clients} clients on heavy verbs for {seconds:.0f} s: PING p50 {pick(0.5):.2f} ms, p99 {pick(0.99):.2f} ms, "
      f"max {waits[-1]:.2f} ms over {len(waits)} PINGs; heavy answered {answered[0]}, refused busy {busy[0]}")
