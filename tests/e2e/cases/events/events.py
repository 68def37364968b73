"""Exceptions and logging records inside spans."""
import json
import logging
import sys

logging.basicConfig(level=logging.DEBUG, stream=sys.stdout,
                    format="%(levelname)s %(name)s %(message)s")
log = logging.getLogger("app.db")
logging.getLogger("quiet").setLevel(logging.ERROR)


class BadStr:
    def __repr__(self):
        return "BadStr()"

    def __str__(self):
        raise TypeError("no str for you")


def lookup(d):
    try:
        return d["missing"]
    except KeyError:
        return None


def parse():
    try:
        json.loads("{bad")
    except ValueError as e:
        log.warning("bad json: %s password=%s", type(e).__name__, "hunter2")


def inner():
    raise RuntimeError("deep")


def outer():
    try:
        inner()
    except RuntimeError:
        log.debug("lazy %d", 5)
        log.info("recovered %s", {"token": "abc"})


if sys.version_info >= (3, 11):
    # except* is a syntax error before 3.11: compiled only where it exists
    exec(compile('''
def group():
    try:
        raise ExceptionGroup("grp", [ValueError("a"), TypeError("b")])
    except* ValueError:
        pass
    except* TypeError:
        pass
''', __file__, "exec"))
else:
    def group():
        try:
            raise ValueError("grp")
        except ValueError:
            pass


def noisy():
    logging.getLogger("quiet").info("filtered by its logger")
    log.error("big %s", "x" * 5000)
    log.info("cannot format %s", BadStr())


def main():
    lookup({})
    parse()
    outer()
    group()
    noisy()
    print("done")


main()
