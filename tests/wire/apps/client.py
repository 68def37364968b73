"""HTTP client calls for the wire tests: urllib and http.client against BASE (argv[1])."""
import http.client
import socket
import sys
import urllib.error
import urllib.request

BASE = sys.argv[1]
PORT = int(BASE.rsplit(":", 1)[1])


def fetch(path, headers=None):
    req = urllib.request.Request(BASE + path, headers=headers or {})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def keep_alive():
    conn = http.client.HTTPConnection("127.0.0.1", PORT)
    codes = []
    for path in ("/users/1", "/users/2"):
        conn.request("GET", path)
        r = conn.getresponse()
        r.read()
        codes.append(r.status)
    conn.close()
    return codes


def refused():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2)
    except OSError:
        return "refused"


def main():
    print(fetch("/users/1"))
    print(fetch("/users/2?token=s3cr3t-value&page=2"))
    print(fetch("/users/99"))
    print(fetch("/boom"))
    print(fetch("/users/1", {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                             "Authorization": "Bearer sekrit-bearer-token",
                             "Cookie": "session=sekrit-cookie"}))
    print(fetch("/health"))
    print(keep_alive())
    print(refused())


if __name__ == "__main__":
    main()
