#!/usr/bin/env python3
"""Clients that each send all but the last byte of a 64 MiB SIMILAR-IMAGE and hold on.

Opens N connections one after another, each sending `SIMILAR-IMAGE 67108864` and 63 MiB of its
bytes, and prints kindredd's resident memory every 10 connections; then checks that a new
connection still gets PING answered. kindredd must be running on SOCKET with pid PID.

usage: image_hoard.py SOCKET N PID
"""
import socket, sys, time

path, n, pid = sys.argv[1], int(sys.argv[2]), sys.argv[3]
count = 64 << 20
chunk = b"\0" * (1 << 20)
held = []


def resident():
    fields = [line.strip() for line in open(f"/proc/{pid}/status") if line.startswith(("VmRSS", "VmHWM"))]
    return "  ".join(fields)


for i in range(n):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.sendall(f"SIMILAR-IMAGE {count}\n".encode())
    for _ in range(63):
        s.sendall(chunk)
    held.append(s)
    if i % 10 == 9:
        print(f"{i + 1} connections: {resident()}")
time.sleep(1)
print(f"after 1 s: {resident()}")
s = socket.socket(socket.AF_UNIX)
s.connect(path)
s.sendall(b"PING\n")
print("PING from a new connection:", s.recv(100))
