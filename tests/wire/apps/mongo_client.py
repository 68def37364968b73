"""pymongo calls for the wire tests (port argv[1]) against a MongoDB-wire server."""
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
    except OperationFailure as e:
        return "failed"


def main():
    client = pymongo.MongoClient("127.0.0.1", int(sys.argv[1]), serverSelectionTimeoutMS=5000)
    db = client.shop
    add_things(db)
    print(find_odd(db))
    print(bad_command(db))
    client.close()


if __name__ == "__main__":
    main()
