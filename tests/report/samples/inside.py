"""A span's events, arguments and links: a caught and an escaping exception, log records, a
thread started inside a span. Run with samples/inside-policy.json."""
import logging
import sys
import threading

logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(levelname)s %(message)s")
log = logging.getLogger("shop")


def lookup(key, password):
    try:
        return {}[key]
    except KeyError:
        log.warning("no %s", key)
        return None


def fail(n):
    raise ValueError(f"bad {n}")


def caller():
    try:
        fail(3)
    except ValueError:
        pass
    return "done"


def worker():
    log.info("in the worker")


def main():
    lookup("sku", "hunter2")
    caller()
    t = threading.Thread(target=worker)
    t.start()
    t.join()


main()
