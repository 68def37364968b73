"""Arguments and results of traced calls: built-ins, dataclasses, hostile __repr__, secrets."""
import dataclasses
import time

@dataclasses.dataclass
class User:
    id: int
    name: str

class BadRepr:
    def __repr__(self):
        raise TypeError("nope")

class Rec:
    def __repr__(self):
        return repr(self)


class Slow:
    def __repr__(self):
        time.sleep(0.01)
        return "Slow()"

def get_user(user_id, name="x", *args, password=None, **kw):
    return User(user_id, name)

def things(a, b, c):
    return {"a": a, "b": [b, 1.5, None, True], "c": c}

def bad(x, y):
    return BadRepr()

def gen(n):
    yield n
    return "finished"

def main():
    get_user(123, "John", 1, 2, password="hunter2", token="t", other=3)
    things("x" * 2000, b"\x00ab'", list(range(100)))
    bad(BadRepr(), Rec())
    things(Slow(), {"password": "pw", "n": 1, "k": {1, 2}}, ("t",))
    list(gen(3))
    print("ok", get_user(7).name)

main()
