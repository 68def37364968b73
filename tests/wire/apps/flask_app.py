"""A Flask app for the wire tests: a few routes over SQLite, a 404 and a 500."""
import os
import sqlite3

from flask import Flask, abort, jsonify

app = Flask(__name__)
DB = os.environ.get("WIRE_DB", "/tmp/glass-wire.db")


def load_user(uid):
    con = sqlite3.connect(DB)
    try:
        row = con.execute("SELECT id, name FROM users WHERE id = ?", (uid,)).fetchone()
    finally:
        con.close()
    return row


@app.route("/users/<int:uid>")
def get_user(uid):
    row = load_user(uid)
    if row is None:
        abort(404)
    return jsonify(id=row[0], name=row[1])


@app.route("/boom")
def boom():
    raise RuntimeError("boom on purpose")


@app.route("/health")
def health():
    return "ok"


def init_db():
    con = sqlite3.connect(DB)
    con.execute("CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, name TEXT)")
    con.execute("DELETE FROM users")
    con.executemany("INSERT INTO users VALUES (?, ?)", [(1, "ada"), (2, "bob")])
    con.commit()
    con.close()


if __name__ == "__main__":
    # the werkzeug development server, threaded: one thread per request
    import sys
    init_db()
    app.run(host="127.0.0.1", port=int(sys.argv[1]), threaded=True)
