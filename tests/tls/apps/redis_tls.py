"""redis-py over TLS (ssl=True): the wire tests' calls (tests/wire/apps/redis_client.py).

    redis_tls.py PORT CAFILE
"""
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


r = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]), ssl=True, ssl_ca_certs=sys.argv[2],
                ssl_cert_reqs="required")
print(store(r))
print(failing(r))
print(batch(r))
r.delete("queue", "user:1")
