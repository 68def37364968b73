"""An HTTP exchange over loopback TCP: what the host itself sends and receives."""

import socket
import threading


def serve(srv):
    conn, _ = srv.accept()
    with conn:
        req = b""
        while b"\r\n\r\n" not in req:
            req += conn.recv(1024)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")


def fetch(port):
    with socket.create_connection(("127.0.0.1", port)) as c:
        c.sendall(b"GET /x?password=hunter2 HTTP/1.1\r\nHost: h\r\n\r\n")
        data = b""
        while True:
            part = c.recv(1024)
            if not part:
                return data
            data += part


def main():
    srv = socket.create_server(("127.0.0.1", 0))
    t = threading.Thread(target=serve, args=(srv,))
    t.start()
    data = fetch(srv.getsockname()[1])
    t.join()
    srv.close()
    print(data.split(b"\r\n")[0].decode(), data.endswith(b"hello"))


main()
