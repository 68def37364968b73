"""pymongo over TLS (tls=True): the wire tests' calls (tests/wire/apps/mongo_client.py).

    mongo_tls.py PORT CAFILE
"""
import sys

import pymongo
from pymongo.errors import OperationFailure


def add_things(db):
    db.things.insert_many([{"n": i, "kind": "odd" if i % 2 else "even"} for i in range(5)])


def find_odd(db):
    return len(list(db.things.find({"kind": "odd"})))


def bad_command(db):
    try:
        db.command("noSuchCommandHere")
    except OperationFailure:
        return "failed"


client = pymongo.MongoClient("127.0.0.1", int(sys.argv[1]), tls=True, tlsCAFile=sys.argv[2],
                             serverSelectionTimeoutMS=5000)
db = client.shop
add_things(db)
print(find_odd(db))
print(bad_command(db))
client.close()
