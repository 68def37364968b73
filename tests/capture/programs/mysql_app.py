"""MariaDB through MySQLdb (mysqlclient) and MariaDB Connector/C's API (ctypes).

    mysql_app.py PORT
"""
import ctypes
import os
import sys

import MySQLdb
import MySQLdb.cursors

PORT = int(sys.argv[1])


def setup(c):
    cur = c.cursor()
    cur.execute("DROP TABLE IF EXISTS users")
    cur.execute("CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(20), password VARCHAR(20))")


def insert(c):
    c.cursor().executemany("INSERT INTO users (id, name, password) VALUES (%s, %s, %s)",
                           [(1, "ann", "hunter2"), (2, "bob", "pw2"), (3, "cid", "pw3")])
    c.commit()


def select_rows(c):
    cur = c.cursor()
    cur.execute("SELECT id, name FROM users WHERE password <> %s ORDER BY id", ("zz",))
    print("rows", cur.fetchall())
    ss = c.cursor(MySQLdb.cursors.SSCursor)  # mysql_use_result: rows fetched one by one
    ss.execute("SELECT id FROM users ORDER BY id")
    print("streamed", list(ss))
    ss.close()


def update(c):
    cur = c.cursor()
    cur.execute("UPDATE users SET name = 'x' WHERE id >= 2")
    print("updated", cur.rowcount)
    c.commit()


def failing(c):
    cur = c.cursor()
    for q in ("SELECT * FROM users WHERE password = 'hunter2' ORDER BY nosuch",
              "SELECT * FORM users WHERE password = 'hunter2'"):
        try:
            cur.execute(q)
        except MySQLdb.Error as e:
            print("error", e.args[0])


def c_api():
    """mysql_send_query + mysql_read_query_result, and prepared statements."""
    ctypes.CDLL("libmariadb.so.3", mode=os.RTLD_GLOBAL)
    g = ctypes.CDLL(None)  # the global scope: the preload's wrappers first
    P, S = ctypes.c_void_p, ctypes.c_char_p
    for f in ("mysql_init", "mysql_real_connect", "mysql_store_result", "mysql_stmt_init"):
        getattr(g, f).restype = P
    g.mysql_init.argtypes = [P]
    g.mysql_real_connect.argtypes = [P, S, S, S, S, ctypes.c_uint, S, ctypes.c_ulong]
    g.mysql_send_query.argtypes = g.mysql_stmt_prepare.argtypes = [P, S, ctypes.c_ulong]
    g.mysql_read_query_result.argtypes = g.mysql_store_result.argtypes = [P]
    g.mysql_num_rows.argtypes = g.mysql_free_result.argtypes = [P]
    g.mysql_num_rows.restype = g.mysql_stmt_num_rows.restype = ctypes.c_ulonglong
    g.mysql_stmt_affected_rows.restype = ctypes.c_ulonglong
    for f in ("mysql_stmt_execute", "mysql_stmt_store_result", "mysql_stmt_num_rows",
              "mysql_stmt_affected_rows", "mysql_stmt_close", "mysql_stmt_errno"):
        getattr(g, f).argtypes = [P]
    g.mysql_stmt_init.argtypes = g.mysql_close.argtypes = [P]
    m = g.mysql_init(None)
    if not g.mysql_real_connect(m, b"127.0.0.1", b"app", b"app", b"app", PORT, None, 0):
        print("connect failed")
        return
    q = b"SELECT name FROM users WHERE id < 3"
    print("send", g.mysql_send_query(m, q, len(q)), g.mysql_read_query_result(m))
    r = g.mysql_store_result(m)
    print("stored", g.mysql_num_rows(r))
    g.mysql_free_result(r)
    for q in (b"SELECT id FROM users WHERE id > 1", b"UPDATE users SET name = 'y' WHERE id = 3",
              b"SELECT * FROM nosuch"):
        st = g.mysql_stmt_init(m)
        if g.mysql_stmt_prepare(st, q, len(q)):
            print("prepare failed", g.mysql_stmt_errno(st))
        elif g.mysql_stmt_execute(st) == 0:
            if q.startswith(b"SELECT"):
                g.mysql_stmt_store_result(st)
                print("stmt rows", g.mysql_stmt_num_rows(st))
            else:
                print("stmt changed", g.mysql_stmt_affected_rows(st))
        g.mysql_stmt_close(st)
    g.mysql_close(m)


def main():
    c = MySQLdb.connect(host="127.0.0.1", port=PORT, user="app", passwd="app", db="app")
    setup(c)
    insert(c)
    select_rows(c)
    update(c)
    failing(c)
    c.close()
    c_api()


main()
