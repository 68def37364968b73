"""SQLite through Python's sqlite3 module and through SQLite's C API (ctypes), on a file.

    sqlite_app.py DBFILE [threads]
"""
import ctypes
import os
import sqlite3
import sys
import threading

PATH = sys.argv[1]


def create(c):
    c.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, password TEXT UNIQUE)")


def insert_many(c):
    c.executemany("INSERT INTO users (name, password) VALUES (?, ?)",
                  [("ann", "pw1"), ("bob", "pw2"), ("cid", "pw3")])
    c.commit()


def select_rows(c):
    rows = c.execute("SELECT id, name FROM users WHERE password = 'hunter2' OR id > 1 "
                     "ORDER BY id").fetchall()
    print("rows", rows)


def select_first(c):
    cur = c.execute("SELECT name FROM users ORDER BY id")
    print("first", cur.fetchone())
    cur.close()  # the rest is never read: the statement is reset


def update_rows(c):
    cur = c.execute("UPDATE users SET name = 'x' || name WHERE id >= 2")
    print("updated", cur.rowcount)
    c.commit()


def failing(c):
    try:
        c.execute("SELECT * FROM nosuch WHERE password = 'hunter2'")
    except sqlite3.OperationalError as e:
        print("error", e)
    try:
        c.execute("INSERT INTO users (name, password) VALUES ('dan', 'pw1')")
    except sqlite3.IntegrityError as e:
        print("error", e)
    c.rollback()


def script(c):
    c.executescript("CREATE TABLE t2 (a);\n INSERT INTO t2 VALUES (1);\n"
                    " INSERT INTO t2 VALUES (2); ")


def callback(c):
    other = sqlite3.connect(":memory:")

    def shout(s):  # runs inside the outer statement's sqlite3_step
        return other.execute("SELECT upper(?)", (s,)).fetchone()[0]
    c.create_function("shout", 1, shout)
    print("shout", c.execute("SELECT shout(name) FROM users ORDER BY id").fetchall())


def c_api():
    """sqlite3_exec (not hooked: its statements are), sqlite3_prepare16_v2 (UTF-16 text)."""
    ctypes.CDLL("libsqlite3.so.0", mode=os.RTLD_GLOBAL)
    g = ctypes.CDLL(None)  # the global scope: the preload's wrappers first
    g.sqlite3_open.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
    g.sqlite3_exec.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p,
                               ctypes.c_void_p, ctypes.c_void_p]
    g.sqlite3_prepare16_v2.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int,
                                       ctypes.POINTER(ctypes.c_void_p), ctypes.c_void_p]
    g.sqlite3_step.argtypes = g.sqlite3_finalize.argtypes = [ctypes.c_void_p]
    g.sqlite3_close.argtypes = [ctypes.c_void_p]
    db = ctypes.c_void_p()
    g.sqlite3_open(PATH.encode(), ctypes.byref(db))
    rc = g.sqlite3_exec(db, b"INSERT INTO t2 VALUES (3); UPDATE t2 SET a = a + 10 WHERE a > 1",
                        None, None, None)
    print("exec", rc)
    st = ctypes.c_void_p()
    text = "SELECT a FROM t2 WHERE a > 1 AND 'é' <> 'ü' ORDER BY a".encode("utf-16-le") + b"\0\0"
    g.sqlite3_prepare16_v2(db, text, -1, ctypes.byref(st), None)
    n = 0
    while g.sqlite3_step(st) == 100:
        n += 1
    print("prepare16 rows", n, g.sqlite3_finalize(st))
    g.sqlite3_close(db)


def worker(k, out):
    c = sqlite3.connect(":memory:")
    c.execute("CREATE TABLE w (i INTEGER)")
    for i in range(200):
        c.execute("INSERT INTO w VALUES (?)", (i,))
    out[k] = len(c.execute("SELECT i FROM w").fetchall())
    c.close()


def threads():
    out = {}
    ts = [threading.Thread(target=worker, args=(k, out)) for k in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print("threads", sorted(out.items()))


def main():
    if os.path.exists(PATH):
        os.unlink(PATH)
    c = sqlite3.connect(PATH)
    create(c)
    insert_many(c)
    select_rows(c)
    select_first(c)
    update_rows(c)
    failing(c)
    script(c)
    callback(c)
    c.close()
    c_api()
    if "threads" in sys.argv[2:]:
        threads()


main()
