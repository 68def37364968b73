"""PostgreSQL through psycopg2 (sync, green and async modes) and libpq's C API (ctypes).

    pg_app.py DSN
"""
import ctypes
import os
import select
import sys

import psycopg2
import psycopg2.extensions
import psycopg2.extras

DSN = sys.argv[1]


def setup(c):
    cur = c.cursor()
    cur.execute("DROP TABLE IF EXISTS users")
    cur.execute("CREATE TABLE users (id serial PRIMARY KEY, name text, password text)")
    c.commit()


def insert(c):
    c.cursor().executemany("INSERT INTO users (name, password) VALUES (%s, %s)",
                           [("ann", "pw1"), ("bob", "hunter2")])
    c.commit()


def select_rows(c):
    cur = c.cursor()
    cur.execute("SELECT id, name FROM users WHERE password <> %s ORDER BY id", ("zz",))
    print("rows", cur.fetchall())


def update(c):
    cur = c.cursor()
    cur.execute("UPDATE users SET name = upper(name) WHERE id > 0")
    print("updated", cur.rowcount)
    c.commit()


def failing(c):
    cur = c.cursor()
    try:
        cur.execute("SELECT * FROM users WHERE id = %s", ("hunter2",))
    except psycopg2.Error as e:
        print("error", e.pgcode, e.diag.message_primary)
    c.rollback()
    try:
        cur.execute("SELECT * FROM nosuch")
    except psycopg2.Error as e:
        print("error", e.pgcode, e.diag.message_primary)
    c.rollback()


def run_query(cur, sql, args):
    cur.execute(sql, args)


def escaping(c):
    """The driver's error escapes a traced function: the exception glass records with that
    span quotes the inlined value, and must be scrubbed like the statement."""
    try:
        run_query(c.cursor(), "SELECT * FROM users WHERE id = %s", ("hunter2",))
    except psycopg2.Error as e:
        print("escaped", e.pgcode)
    c.rollback()


def green():
    psycopg2.extensions.set_wait_callback(psycopg2.extras.wait_select)
    try:
        c = psycopg2.connect(DSN)
        cur = c.cursor()
        cur.execute("SELECT name FROM users ORDER BY id")
        print("green", cur.fetchall())
        try:
            cur.execute("SELECT password FROM users WHERE name = 'hunter2' AND id = 'x'")
        except psycopg2.Error as e:
            print("error", e.pgcode)
        c.close()
    finally:
        psycopg2.extensions.set_wait_callback(None)


def wait(conn):
    while True:
        state = conn.poll()
        if state == psycopg2.extensions.POLL_OK:
            return
        if state == psycopg2.extensions.POLL_WRITE:
            select.select([], [conn.fileno()], [])
        else:
            select.select([conn.fileno()], [], [])


def async_mode():
    c = psycopg2.connect(DSN, async_=1)
    wait(c)
    cur = c.cursor()
    cur.execute("SELECT count(*) FROM users")
    wait(c)
    print("async", cur.fetchall())
    c.close()


def c_api():
    """PQexecParams, PQprepare + PQexecPrepared, PQsendQueryParams, PQsendPrepare +
    PQsendQueryPrepared, each with PQgetResult until NULL."""
    ctypes.CDLL("libpq.so.5", mode=os.RTLD_GLOBAL)
    g = ctypes.CDLL(None)  # the global scope: the preload's wrappers first
    P = ctypes.c_void_p
    g.PQconnectdb.restype = P
    g.PQconnectdb.argtypes = [ctypes.c_char_p]
    for f in ("PQexecParams", "PQprepare", "PQexecPrepared", "PQgetResult"):
        getattr(g, f).restype = P
    arr = ctypes.c_char_p * 2
    g.PQexecParams.argtypes = [P, ctypes.c_char_p, ctypes.c_int, P, arr, P, P, ctypes.c_int]
    g.PQsendQueryParams.argtypes = g.PQexecParams.argtypes
    g.PQprepare.argtypes = [P, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int, P]
    g.PQsendPrepare.argtypes = g.PQprepare.argtypes
    g.PQexecPrepared.argtypes = [P, ctypes.c_char_p, ctypes.c_int, arr, P, P, ctypes.c_int]
    g.PQsendQueryPrepared.argtypes = g.PQexecPrepared.argtypes
    g.PQntuples.argtypes = g.PQclear.argtypes = g.PQresultStatus.argtypes = [P]
    g.PQgetResult.argtypes = g.PQfinish.argtypes = [P]
    conn = g.PQconnectdb(DSN.encode())

    def drain():
        out = []
        while True:
            r = g.PQgetResult(conn)
            if not r:
                return out
            out.append((g.PQresultStatus(r), g.PQntuples(r)))
            g.PQclear(r)

    r = g.PQexecParams(conn, b"SELECT name FROM users WHERE id > $1", 1, None, arr(b"0", None),
                       None, None, 0)
    print("execparams", g.PQresultStatus(r), g.PQntuples(r))
    g.PQclear(r)
    r = g.PQprepare(conn, b"byid", b"SELECT name FROM users WHERE id = $1", 1, None)
    g.PQclear(r)
    r = g.PQexecPrepared(conn, b"byid", 1, arr(b"2", None), None, None, 0)
    print("execprepared", g.PQresultStatus(r), g.PQntuples(r))
    g.PQclear(r)
    print("send", g.PQsendQueryParams(conn, b"UPDATE users SET name = $1 WHERE id = $2", 2, None,
                                      arr(b"carl", b"1"), None, None, 0), drain())
    print("sendprepare", g.PQsendPrepare(conn, b"del", b"DELETE FROM users WHERE id = $1", 1,
                                         None), drain())
    print("sendprepared", g.PQsendQueryPrepared(conn, b"del", 1, arr(b"99", None), None, None,
                                                0), drain())
    g.PQfinish(conn)


def main():
    c = psycopg2.connect(DSN)
    setup(c)
    insert(c)
    select_rows(c)
    update(c)
    failing(c)
    escaping(c)
    c.close()
    green()
    async_mode()
    c_api()


main()
