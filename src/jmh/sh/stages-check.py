#!/usr/bin/env python3
"""What the stage floor (RingFloor with -Dsnigate.floor.stages=on) must do, checked against a backend
of its own on 127.0.0.1:BACKEND_PORT and the access log it wrote (check-floors.sh starts the relay
routed there for the name a.bench.test, its standard output in LOG).

  stages-check.py PROXY_PORT BACKEND_PORT HELLO LOG

HELLO is the rig's ClientHello for a.bench.test. Checked: 200 connections, one after the other,
each sending the hello and getting the backend's 200 bytes and its FIN, logged as forwarded with
both byte counts; the same hello for b.bench.test (same length) refused as no_route without a
byte to the backend; plain HTTP refused as plain_http. Prints one line per check; exits 1 if any
failed."""
import json
import socket
import sys
import threading
import time

PROXY, BACKEND, HELLO, LOG = int(sys.argv[1]), int(sys.argv[2]), open(sys.argv[3], "rb").read(), sys.argv[4]
SHORT = 200
ANSWER = b"y" * 200
backend_hellos = []
failed = False


def serve(listener):
    while True:
        conn, _ = listener.accept()
        with conn:
            got = b""
            while len(got) < len(HELLO) and (data := conn.recv(65536)):
                got += data
            backend_hellos.append(got)
            conn.sendall(ANSWER)


def exchange(first):
    """What came back before the proxy's FIN; None if neither came within 10 s."""
    with socket.create_connection(("127.0.0.1", PROXY), timeout=10) as s:
        s.sendall(first)
        got = b""
        try:
            while data := s.recv(65536):
                got += data
        except TimeoutError:
            return None
        return got


def check(name, ok, detail=""):
    global failed
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else ": " + detail))
    failed |= not ok


def log_lines(n):
    for _ in range(100):
        with open(LOG) as f:
            lines = [json.loads(line) for line in f if line.startswith("{")]
        if len(lines) >= n:
            return lines
        time.sleep(0.1)  # the access log's writer flushes every 50 ms
    return lines


listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", BACKEND))
listener.listen(64)
threading.Thread(target=serve, args=(listener,), daemon=True).start()

answers = [exchange(HELLO) for _ in range(SHORT)]
check(f"{SHORT} connections answered", all(a == ANSWER for a in answers),
      f"{sum(a != ANSWER for a in answers)} answers not the backend's 200 bytes")
check("the backend got each hello whole", len(backend_hellos) == SHORT and all(h == HELLO for h in backend_hellos),
      f"{len(backend_hellos)} hellos, {sum(h != HELLO for h in backend_hellos)} not the one sent")
lines = log_lines(SHORT)
forwarded = [l for l in lines if l["outcome"] == "forwarded" and l["reason"] is None and l["sni"] == "a.bench.test"
             and l["route"] == "a.bench.test" and l["upstream"] == f"127.0.0.1:{BACKEND}"
             and l["bytes_from_client"] == len(HELLO) and l["bytes_to_client"] == len(ANSWER) and l["ja4"]]
check(f"{SHORT} access-log lines, forwarded with both byte counts", len(lines) == SHORT and len(forwarded) == SHORT,
      f"{len(lines)} lines, {len(forwarded)} as expected; first: {lines[:1]}")

other = HELLO.replace(b"a.bench.test", b"b.bench.test")
check("another name is refused", other != HELLO and exchange(other) == b"", "an answer came back, or no close")
check("plain HTTP is refused", exchange(b"GET / HTTP/1.1\r\nHost: a.bench.test\r\n\r\n") == b"",
      "an answer came back, or no close")
lines = log_lines(SHORT + 2)
reasons = [l["reason"] for l in lines[SHORT:]]
check("logged as no_route and plain_http", sorted(map(str, reasons)) == ["no_route", "plain_http"], f"{reasons}")
check("nothing more reached the backend", len(backend_hellos) == SHORT, f"{len(backend_hellos)} connections")
sys.exit(1 if failed else 0)
