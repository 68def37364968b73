"""Socket waits for the wire tests: a client of a protocol glass does not follow, against a
peer (argv[1] = port) that answers b"slow" requests after 80 ms and the others at once; then
two name lookups."""
import socket
import sys


def ask(s, msg):
    s.sendall(msg)
    return s.recv(100)


def slow(s):
    return ask(s, b"\x01slow\n")


def quick(s):
    return ask(s, b"\x01quick\n")


def resolve(port):
    """Name lookups: localhost (from /etc/hosts), and one refused without any lookup."""
    found = bool(socket.getaddrinfo("localhost", port, type=socket.SOCK_STREAM))
    try:
        socket.getaddrinfo("localhost", port, flags=socket.AI_NUMERICHOST)
        refused = False
    except socket.gaierror:
        refused = True
    return found, refused


def main():
    with socket.create_connection(("127.0.0.1", int(sys.argv[1]))) as s:
        print(quick(s), slow(s), quick(s), quick(s))
    print(resolve(int(sys.argv[1])))


if __name__ == "__main__":
    main()
