#!/usr/bin/env python3
"""Times request lines against a running kindredd over one connection: each line once to warm
up, then 20 times, printing the mean milliseconds and the answer's first line.

usage: python3 Benchmarks/daemon/ask_timed.py SOCKET 'SIMILAR 37 k=10 space=cnn' ['LINE' ...]"""
import socket
import sys
import time

path, lines = sys.argv[1], sys.argv[2:]
connection = socket.socket(socket.AF_UNIX)
connection.connect(path)
stream = connection.makefile("rwb")


def ask(line):
    stream.write((line + "\n").encode())
    stream.flush()
    head = stream.readline().decode().strip()
    if head.startswith("OK"):
        for _ in range(int(head.split()[1])):
            stream.readline()
    return head


for line in lines:
    ask(line)
    start, repeats = time.perf_counter(), 20
    for _ in range(repeats):
        head = ask(line)
    print(f"{line!r}: {(time.perf_counter() - start) / repeats * 1000:.2f} ms, {head[:120]}")
