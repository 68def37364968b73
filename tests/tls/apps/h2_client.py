"""An HTTP/2 request over TLS with ALPN h2, framed by hand (Debian has no python3-h2).

    h2_client.py PORT CAFILE
"""
import socket
import ssl
import struct
import sys


def frame(kind, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def read_frame(s):
    head = b""
    while len(head) < 9:
        chunk = s.recv(9 - len(head))
        if not chunk:
            return None
        head += chunk
    n = int.from_bytes(head[:3], "big")
    body = b""
    while len(body) < n:
        body += s.recv(n - len(body))
    return head[3], head[4], int.from_bytes(head[5:9], "big") & 0x7FFFFFFF, body


def fetch():
    ctx = ssl.create_default_context(cafile=sys.argv[2])
    ctx.set_alpn_protocols(["h2"])
    with socket.create_connection(("127.0.0.1", int(sys.argv[1]))) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            print(s.selected_alpn_protocol())
            s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0, b""))
            # HEADERS (END_STREAM|END_HEADERS), HPACK literal-free indexed fields:
            # :method GET (2), :scheme https (7), :path / (4), :authority literal
            auth = b"127.0.0.1"
            block = bytes([0x82, 0x87, 0x84, 0x41, len(auth)]) + auth
            s.sendall(frame(1, 0x5, 1, block))
            data = b""
            while True:
                f = read_frame(s)
                if f is None:
                    break
                kind, flags, stream, body = f
                if kind == 4 and not flags & 1:
                    s.sendall(frame(4, 1, 0, b""))  # SETTINGS ACK
                if kind == 0 and stream == 1:
                    data += body
                    if flags & 1:
                        break
            print(data.decode().strip())


fetch()
