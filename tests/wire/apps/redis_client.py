"""redis-py calls for the wire tests (port argv[1])."""
import sys

import redis


def store(r):
    r.set("user:1", "hunter2-secret-value")
    return r.get("user:1")


def failing(r):
    try:
        r.incr("user:1")
    except redis.ResponseError as e:
        return str(e)


def batch(r):
    p = r.pipeline(transaction=False)
    p.rpush("queue", "a", "b", "c")
    p.lrange("queue", 0, -1)
    return p.execute()


def main():
    r = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]))
    print(store(r))
    print(failing(r))
    print(batch(r))
    r.delete("queue", "user:1")


if __name__ == "__main__":
    main()
