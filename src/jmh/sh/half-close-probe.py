#!/usr/bin/env python3
"""Whether an SNI proxy on 127.0.0.1:PROXY_PORT keeps half-close, against a backend of its own on
127.0.0.1:BACKEND_PORT (where the proxy sends HELLO_FILE's name).

  half-close-probe.py PROXY_PORT BACKEND_PORT HELLO_FILE

Two connections, each opened with the ClientHello. On the first the backend answers and sends FIN,
the client reads the answer to its end and then sends more and its own FIN: a proxy that keeps
half-close delivers those bytes. On the second the client sends FIN first and the backend answers
after it: a proxy that keeps half-close delivers the answer. Prints "yes", or "no: " and what went
missing; run-peers.sh puts it in its "half-close" column."""
import socket
import sys
import threading

PROXY, BACKEND = int(sys.argv[1]), int(sys.argv[2])
HELLO = open(sys.argv[3], "rb").read()
LATE, ANSWER = b"sent after the server's FIN", b"answered after the client's FIN"


def read_to_eof(conn):
    got = bytearray()
    try:
        while data := conn.recv(65536):
            got += data
    except OSError:
        pass  # a reset ends what arrives as surely as a FIN
    return bytes(got)


def backend(listener, server_fin_first, seen):
    conn, _ = listener.accept()
    conn.settimeout(5)
    try:
        got = bytearray()
        while len(got) < len(HELLO) and (data := conn.recv(65536)):
            got += data
        if server_fin_first:
            conn.sendall(b"answer")
            conn.shutdown(socket.SHUT_WR)
            seen.append(bytes(got[len(HELLO):]) + read_to_eof(conn))
        else:
            read_to_eof(conn)
            conn.sendall(ANSWER)
            conn.shutdown(socket.SHUT_WR)
    except OSError:
        pass  # the proxy closed the connection: what the client sees says so
    finally:
        conn.close()


def probe(server_fin_first):
    listener = socket.create_server(("127.0.0.1", BACKEND), reuse_port=False)
    seen = []
    server = threading.Thread(target=backend, args=(listener, server_fin_first, seen))
    server.start()
    client = socket.create_connection(("127.0.0.1", PROXY), timeout=5)
    try:
        client.sendall(HELLO)
        if server_fin_first:
            read_to_eof(client)
            try:
                client.sendall(LATE)
                client.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            read_to_eof(client)
        else:
            client.shutdown(socket.SHUT_WR)
            seen.append(read_to_eof(client))
    finally:
        client.close()
        server.join(10)
        listener.close()
    return seen[0] if seen else b""


missing = []
try:
    if probe(server_fin_first=True) != LATE:
        missing.append("the client's bytes after the server's FIN")
    if probe(server_fin_first=False) != ANSWER:
        missing.append("the server's answer after the client's FIN")
except OSError as e:
    missing.append(f"a connection ({e})")
print("yes" if not missing else "no: " + " and ".join(missing) + " did not arrive")
