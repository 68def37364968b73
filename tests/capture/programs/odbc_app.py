"""ODBC through pyodbc (unixODBC), with the driver named by the connection string.

    odbc_app.py CONNECTION-STRING
"""
import sys

import pyodbc


def setup(c):
    cur = c.cursor()
    cur.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(20), password VARCHAR(20))")
    c.commit()


def insert(c):
    cur = c.cursor()
    cur.execute("INSERT INTO users (id, name, password) VALUES (1, 'ann', 'hunter2')")
    cur.executemany("INSERT INTO users (id, name, password) VALUES (?, ?, ?)",
                    [(2, "bob", "pw2"), (3, "cid", "pw3")])
    c.commit()


def select_rows(c):
    cur = c.cursor()
    for k in ("zz", "pw2"):  # the same text twice: prepared once, executed twice
        cur.execute("SELECT id, name FROM users WHERE password <> ? ORDER BY id", k)
        print("rows", [tuple(r) for r in cur.fetchall()])
    cur.execute("SELECT name FROM users ORDER BY id")
    print("first", tuple(cur.fetchone()))
    cur.close()


def update(c):
    cur = c.cursor()
    cur.execute("UPDATE users SET name = 'x' WHERE id >= 2")
    print("updated", cur.rowcount)
    cur.execute("DELETE FROM users WHERE id = 99")
    print("deleted", cur.rowcount)
    c.commit()


def failing(c):
    cur = c.cursor()
    try:
        cur.execute("SELECT * FROM nosuch WHERE password = 'hunter2'")
    except pyodbc.Error as e:
        print("error", e.args[0], e.args[1])
    c.rollback()


def main():
    c = pyodbc.connect(sys.argv[1], autocommit=False)
    setup(c)
    insert(c)
    select_rows(c)
    update(c)
    failing(c)
    c.close()


main()
