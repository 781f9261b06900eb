#!/usr/bin/env bash
# Captures a real TLS ClientHello, as `openssl s_client` sends it, into a file.
#
#   src/jmh/sh/capture-clienthello.sh [SNI] [OUT]    (defaults: a.bench.test
#                                                     src/jmh/resources/clienthello-a.bin)
#   src/jmh/sh/capture-clienthello.sh --check FILE   (only decode and check an existing file)
#
# A one-shot capture listener on 127.0.0.1 (ephemeral port) accepts one
# connection, reads one whole TLS record (5-byte header + its length) and
# closes; `openssl s_client -servername SNI -alpn h2,http/1.1` is its client.
# The file is then decoded: record header 0x16 0x03 0x0x, handshake type 1
# (ClientHello), SNI and ALPN extensions are printed, and the SNI must match.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

decode() { # FILE [EXPECTED_SNI]
  python3 - "$@" <<'PY'
import struct, sys
path = sys.argv[1]
want = sys.argv[2] if len(sys.argv) > 2 else None
b = open(path, 'rb').read()
def fail(msg):
    sys.exit(f"{path}: {msg}")
if len(b) < 9 or b[0] != 0x16 or b[1] != 0x03:
    fail(f"not a TLS handshake record: {b[:5].hex()}")
rec_len = struct.unpack('>H', b[3:5])[0]
if len(b) != 5 + rec_len:
    fail(f"record length {rec_len} but file has {len(b) - 5} bytes after the header")
if b[5] != 0x01:
    fail(f"handshake type {b[5]} is not ClientHello (1)")
hs_len = int.from_bytes(b[6:9], 'big')
p = 9
legacy_version = b[p:p+2]; p += 2 + 32          # version, random
sid_len = b[p]; p += 1 + sid_len                  # session id
cs_len = struct.unpack('>H', b[p:p+2])[0]; p += 2 + cs_len
cm_len = b[p]; p += 1 + cm_len
ext_total = struct.unpack('>H', b[p:p+2])[0]; p += 2
end = p + ext_total
sni = alpn = None
exts = []
while p + 4 <= end:
    et, el = struct.unpack('>HH', b[p:p+4]); p += 4
    body = b[p:p+el]; p += el
    exts.append(et)
    if et == 0:      # server_name
        q = 2
        while q < len(body):
            nt = body[q]; nl = struct.unpack('>H', body[q+1:q+3])[0]
            if nt == 0:
                sni = body[q+3:q+3+nl].decode('ascii')
            q += 3 + nl
    elif et == 16:   # application_layer_protocol_negotiation
        q, alpn = 2, []
        while q < len(body):
            l = body[q]; alpn.append(body[q+1:q+1+l].decode('ascii')); q += 1 + l
print(f"{path.rsplit('/', 1)[-1]}: {len(b)} bytes, record header {b[:5].hex(' ')} "
      f"(type 0x16 handshake, version 0x{b[1]:02x}{b[2]:02x}, length {rec_len})")
print(f"  handshake: ClientHello, length {hs_len}, legacy_version 0x{legacy_version.hex()}, "
      f"{cs_len // 2} cipher suites, {len(exts)} extensions")
print(f"  SNI: {sni}   ALPN: {alpn}")
if want and sni != want:
    fail(f"SNI is {sni!r}, expected {want!r}")
if sni is None:
    fail("no SNI extension")
PY
}

if [[ "${1:-}" == "--check" ]]; then
  decode "${2:?--check needs a file}"
  exit 0
fi

sni="${1:-a.bench.test}"
out="${2:-$here/../resources/clienthello-a.bin}"

python3 - "$sni" "$out" <<'PY'
import socket, struct, subprocess, sys
sni, out = sys.argv[1], sys.argv[2]
ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ls.bind(('127.0.0.1', 0))          # loopback only, ephemeral port
ls.listen(1)
ls.settimeout(15)
port = ls.getsockname()[1]
client = subprocess.Popen(
    ['timeout', '15', 'openssl', 's_client', '-connect', f'127.0.0.1:{port}',
     '-servername', sni, '-alpn', 'h2,http/1.1'],
    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    conn, _ = ls.accept()
    conn.settimeout(10)
    data = b''
    while len(data) < 5 or len(data) < 5 + struct.unpack('>H', data[3:5])[0]:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    conn.close()
finally:
    ls.close()
    client.wait(timeout=20)
need = 5 + struct.unpack('>H', data[3:5])[0] if len(data) >= 5 else -1
if len(data) < need or need < 0:
    sys.exit(f"capture incomplete: got {len(data)} bytes")
open(out, 'wb').write(data[:need])
print(f"captured {need} bytes from openssl s_client -servername {sni} -alpn h2,http/1.1")
PY
decode "$out" "$sni"
