"""A SIGALRM storm (setitimer, every 200 us) while the program makes heavy calls on two threads,
sleeps, and exchanges HTTP over a loopback TCP socket: every blocking call is interrupted
(EINTR) again and again, and the handler itself calls Python functions.

stdout holds only what does not depend on timing; the number of signals handled goes to
handled.txt, for the test to compare with the recording."""

import os
import signal
import socket
import threading
import time

handled = []  # appended to: a handler can run nested inside another one (between bytecodes),
# and `n += 1` would then lose a count


def tick():
    return 1


def on_alarm(signum, frame):
    handled.append(tick())


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def thread_work(out):
    out.append(sum(fib(15) for _ in range(5)))


def serve(srv):
    conn, _ = srv.accept()
    with conn:
        req = b""
        while b"\r\n\r\n" not in req:
            req += conn.recv(1)  # one byte at a time: many interruptible waits
        body = b"x" * 50000
        head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)
        for i in range(0, len(head + body), 997):
            conn.sendall((head + body)[i:i + 997])
            time.sleep(0.0005)


def http_get(port):
    with socket.create_connection(("127.0.0.1", port)) as c:
        c.sendall(b"GET /storm?token=abc HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while True:
            part = c.recv(4096)
            if not part:
                break
            data += part
            if len(data) >= 50000 and b"\r\n\r\n" in data:
                head, _, body = data.partition(b"\r\n\r\n")
                if len(body) == 50000:
                    break
        return data.split(b"\r\n")[0].decode(), len(data)


def main():
    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, 0.0002, 0.0002)
    out = []
    th = threading.Thread(target=thread_work, args=(out,), name="fibber")
    th.start()
    results = [fib(18) for _ in range(3)]
    srv = socket.create_server(("127.0.0.1", 0))
    st = threading.Thread(target=serve, args=(srv,), name="server")
    st.start()
    status, size = http_get(srv.getsockname()[1])
    st.join()
    srv.close()
    time.sleep(0.05)  # interrupted many times, PEP 475 sleeps the rest
    r, w = os.pipe()
    os.write(w, b"pipe ok")
    got = os.read(r, 100)
    th.join()
    signal.setitimer(signal.ITIMER_REAL, 0)
    time.sleep(0.01)  # a signal sent just before is handled now
    signal.signal(signal.SIGALRM, signal.SIG_IGN)  # and none after the count below
    print("fib", results, "thread", out, "http", status, size, got.decode())
    with open("handled.txt", "w") as f:
        f.write(str(len(handled)))
    print("handled some", len(handled) > 10)


main()
