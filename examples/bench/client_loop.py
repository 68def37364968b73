"""The client of the client-loop benchmark: N GETs of 1 KB on one kept-alive connection with
http.client, over TLS for an https URL, each from a small function (a span per request).

    client_loop.py URL N [CAFILE]
"""
import http.client
import ssl
import sys
import urllib.parse


def fetch(conn, path):
    conn.request("GET", path)
    r = conn.getresponse()
    return len(r.read())


def main():
    u = urllib.parse.urlsplit(sys.argv[1])
    if u.scheme == "https":
        ctx = ssl.create_default_context(cafile=sys.argv[3])
        conn = http.client.HTTPSConnection(u.hostname, u.port, context=ctx)
    else:
        conn = http.client.HTTPConnection(u.hostname, u.port)
    total = 0
    for _ in range(int(sys.argv[2])):
        total += fetch(conn, "/data")
    conn.close()
    print(total)


main()
