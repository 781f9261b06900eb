#!/usr/bin/env python3
"""What a relay on 127.0.0.1:PROXY_PORT must do for every connection, checked against a backend of
its own on 127.0.0.1:BACKEND_PORT (check-floors.sh starts the relay routed there).

  relay-check.py PROXY_PORT BACKEND_PORT

The first byte a client sends tells the backend what to do: R answers 200 bytes and closes, H
reads to the FIN and answers the length and SHA-256 of what it got, B sends 64 MiB and closes. Checked:
short connections, short connections closed from both ends at once by four clients side by side
(a relay that closes a socket while an operation naming it is still queued ends another connection's
stream early: HandleUpstream.closeWhenIdle), half-close with 10 B, 300 kB and 5 MB, 64 MiB to a slow
reader, a FIN right after the first bytes, clients that reset mid-transfer. Prints one line per check; exits 1 if any
failed."""
import hashlib
import os
import socket
import sys
import threading
import time

PROXY, BACKEND = int(sys.argv[1]), int(sys.argv[2])
BULK_MIB = 64


def serve(listener):
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=answer, args=(conn,), daemon=True).start()


def answer(conn):
    try:
        mode = conn.recv(1)
        if mode == b"R":
            conn.recv(65536)
            conn.sendall(b"x" * 200)
        elif mode == b"H":
            digest, n = hashlib.sha256(), 0
            while data := conn.recv(65536):
                digest.update(data)
                n += len(data)
            conn.sendall(f"{n} {digest.hexdigest()}".encode())
        elif mode == b"B":
            block = os.urandom(1 << 20)
            for _ in range(BULK_MIB):
                conn.sendall(block)
    except OSError:
        pass  # the clients that reset on purpose
    finally:
        conn.close()


def dial():
    return socket.create_connection(("127.0.0.1", PROXY), timeout=30)


def read_to_eof(conn, pause_until=0):
    got = bytearray()
    while data := conn.recv(1 << 16):
        got += data
        if len(got) < pause_until:
            time.sleep(0.001)
    return bytes(got)


listener = socket.create_server(("127.0.0.1", BACKEND), backlog=128)
threading.Thread(target=serve, args=(listener,), daemon=True).start()
failures = 0


def check(name, ok, detail=""):
    global failures
    print(f"{name}: {'ok' if ok else 'FAILED ' + detail}")
    failures += not ok


bad = 0
for _ in range(300):
    with dial() as c:
        c.sendall(b"Rhello")
        bad += read_to_eof(c) != b"x" * 200
check("300 short connections, 200 bytes back each", bad == 0, f"{bad} wrong")
wrong = []


def closing_together(count):
    for _ in range(count):
        with dial() as c:
            c.sendall(b"Rhello")
            c.shutdown(socket.SHUT_WR)
            got = read_to_eof(c)
            if got != b"x" * 200:
                wrong.append(len(got))


clients = [threading.Thread(target=closing_together, args=(500,)) for _ in range(4)]
for t in clients:
    t.start()
for t in clients:
    t.join()
check("2,000 short connections closed from both ends at once, 4 side by side, 200 bytes back each",
      not wrong, f"{len(wrong)} wrong, lengths {sorted(set(wrong))[:10]}")
for size in (10, 300_000, 5_000_000):
    body = os.urandom(size)
    with dial() as c:
        c.sendall(b"H" + body)
        c.shutdown(socket.SHUT_WR)
        reply = read_to_eof(c).decode()
    check(f"half-close after {size} bytes", reply == f"{size} {hashlib.sha256(body).hexdigest()}", reply)
with dial() as c:
    c.sendall(b"B")
    got = len(read_to_eof(c, pause_until=8 << 20))
check(f"{BULK_MIB} MiB to a slow reader", got == BULK_MIB << 20, f"{got} bytes")
with dial() as c:
    c.sendall(b"Hab")
    c.shutdown(socket.SHUT_WR)
    reply = read_to_eof(c).decode()
check("FIN right after the first bytes", reply == f"2 {hashlib.sha256(b'ab').hexdigest()}", reply)
for _ in range(50):
    c = dial()
    c.sendall(b"B")
    c.recv(1000)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
    c.close()  # a reset, with the backend still sending
print("50 clients reset mid-transfer: done (check-floors.sh then counts the relay's descriptors)")
sys.exit(1 if failures else 0)
