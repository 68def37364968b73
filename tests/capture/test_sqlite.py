"""SQLite: Python's sqlite3 module, SQLite's C API, SQLAlchemy, and the sqlite3 CLI."""
import os
import subprocess

from harness import Suite, brief, parents

t = Suite()
db = t.path("app.db")

# GIVEN a program using the sqlite3 module (and the C API through ctypes) on a file
# WHEN it runs plain and under the preload
run = t.run("sqlite_app.py", db, "threads")
t.same_output(run, "sqlite_app")
spans = t.spans(run.session)
dbs = [s for s in spans if s["kind"] == "db"]
main = [s for s in dbs if s["tid"] == dbs[0]["tid"]] if dbs else []

# THEN each execution of a statement is one span, with the normalised text, the rows returned
# (SQLITE_ROW steps: Python's module reads one row ahead), the rows changed, and the error
want = [
    ["CREATE users", "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, password TEXT UNIQUE)", None, None, "ok", None],
    ["BEGIN", "BEGIN", None, None, "ok", None],
    ["INSERT users", "INSERT INTO users (name, password) VALUES (?, ?)", None, 1, "ok", None],
    ["INSERT users", "INSERT INTO users (name, password) VALUES (?, ?)", None, 1, "ok", None],
    ["INSERT users", "INSERT INTO users (name, password) VALUES (?, ?)", None, 1, "ok", None],
    ["COMMIT", "COMMIT", None, None, "ok", None],
    ["SELECT users", "SELECT id, name FROM users WHERE password = ? OR id > ? ORDER BY id", 2, None, "ok", None],
    ["SELECT users", "SELECT name FROM users ORDER BY id", 2, None, "ok", None],
    ["BEGIN", "BEGIN", None, None, "ok", None],
    ["UPDATE users", "UPDATE users SET name = ? || name WHERE id >= ?", None, 2, "ok", None],
    ["COMMIT", "COMMIT", None, None, "ok", None],
    ["SELECT nosuch", "SELECT * FROM nosuch WHERE password = ?", None, None, "error", ["SQLITE_ERROR", "no such table: nosuch"]],
    ["BEGIN", "BEGIN", None, None, "ok", None],
    ["INSERT users", "INSERT INTO users (name, password) VALUES (?, ?)", None, None, "error", ["SQLITE_CONSTRAINT_UNIQUE", "UNIQUE constraint failed: users.password"]],
    ["ROLLBACK", "ROLLBACK", None, None, "ok", None],
    ["CREATE t2", "CREATE TABLE t2 (a)", None, None, "ok", None],
    ["INSERT t2", "INSERT INTO t2 VALUES (?)", None, 1, "ok", None],
    ["INSERT t2", "INSERT INTO t2 VALUES (?)", None, 1, "ok", None],
    ["SELECT users", "SELECT shout(name) FROM users ORDER BY id", 3, None, "ok", None],
    ["INSERT t2", "INSERT INTO t2 VALUES (?)", None, 1, "ok", None],
    ["UPDATE t2", "UPDATE t2 SET a = a + ? WHERE a > ?", None, 2, "ok", None],
    ["SELECT t2", "SELECT a FROM t2 WHERE a > ? AND ? <> ? ORDER BY a", 2, None, "ok", None],
]
t.equal([brief(s) for s in main], want,
        "execute, executemany, executescript (one span per statement, no ';'), a failing "
        "prepare, a constraint error, rows returned and changed, sqlite3_exec's statements, "
        "sqlite3_prepare16_v2; SQLite's own schema reads and a query run inside a Python "
        "function called by SQLite are not spans")
t.equal(parents(spans, main),
        [(s[0], p) for s, p in zip(want, ["create"] + ["insert_many"] * 5 + ["select_rows", "select_first"]
                                    + ["update_rows"] * 3 + ["failing"] * 4 + ["script"] * 3
                                    + ["callback"] + ["c_api"] * 3)],
        "each span's parent is the Python function that ran the statement")
a = main[0]["attributes"] if main else {}
t.equal({k: a.get(k) for k in ("db.system", "db.name", "db.operation", "db.sql.table", "glass.driver")},
        {"db.system": "sqlite", "db.name": db, "db.operation": "CREATE", "db.sql.table": "users",
         "glass.driver": "libsqlite3"}, "attributes: system, file, operation, table, driver")
t.check(all(s["status"] == "error" for s in main if s["attributes"].get("error.type"))
        and all(s["attributes"].get("db.response.status_code") == "SQLITE_ERROR" for s in main[11:12]),
        "failed statements have status error and db.response.status_code")

# Threads: each thread's statements are its own spans, under its own function
workers = [s for s in dbs if s["tid"] != (dbs[0]["tid"] if dbs else None)]
by = {s["span_id"]: s for s in spans}
per = {}
for s in workers:
    per.setdefault(s["tid"], []).append(s)
t.check(len(per) == 2 and all(len(v) == 203 for v in per.values())
        and all(by[s["parent_id"]]["name"] == "worker" for s in workers)
        and all(v[-1]["attributes"].get("db.response.returned_rows") == 200 for v in per.values()),
        "two threads: 203 spans each (CREATE, BEGIN, 200 INSERT, SELECT of 200 rows), parent worker")

# The secret literal of a statement (and of a failing one) is nowhere in the session...
t.check(run.session and b"hunter2" not in t.session_bytes(run.session),
        "default policy: the literal 'hunter2' appears nowhere in the session's bytes")
# ...unless the policy asks for raw statements
raw = t.run("sqlite_app.py", db, policy=t.policy({"sql_text": "raw"}), plain=False)
rs = t.db_spans(raw.session)
t.check(b"hunter2" in t.session_bytes(raw.session) and any(
    s["attributes"].get("db.statement") == "SELECT id, name FROM users WHERE password = 'hunter2' "
    "OR id > 1 ORDER BY id" for s in rs), 'policy "sql_text": "raw" keeps the statement as written')

# "max_sql_length": a longer statement is cut to that many characters, ending in "..."; the
# span's name (operation and table) still comes from the whole statement
full = [(s["name"], s["attributes"].get("db.statement")) for s in main]
for mode, texts in (("normalized", full),
                    ("raw", [(s["name"], s["attributes"].get("db.statement"))
                             for s in rs if s["tid"] == rs[0]["tid"]] if rs else [])):
    cut = t.run("sqlite_app.py", db, policy=t.policy({"max_sql_length": 40, "sql_text": mode}),
                plain=False)
    cs = t.db_spans(cut.session)
    got = [(s["name"], s["attributes"].get("db.statement")) for s in cs if s["tid"] == cs[0]["tid"]]

    def fits(short, whole):
        if len(whole) <= 40:
            return short == whole
        return len(short) <= 40 and short.endswith("...") and whole.startswith(short[:-3]) \
            and len(short) >= 40 - 4
    t.check(len(got) == len(texts) and len(texts) > 10
            and any(len(w) > 40 for _, w in texts)
            and all(gn == wn and fits(g, w) for (gn, g), (wn, w) in zip(got, texts)),
            f'"max_sql_length": 40 with "sql_text": "{mode}": long statements cut to 40 '
            f'characters ending in "...", short ones whole, names from the whole statement '
            f'({[g for _, g in got if g and g.endswith("...")][:2]})')
t.check(b"hunter2" not in t.session_bytes(cut.session),
        '"max_sql_length" with raw text: the literal after the cut is not recorded')
off = t.run("sqlite_app.py", db, policy=t.policy({"capture": {"sql": False}}), plain=False)
t.check(off.traced.returncode == 0 and off.session and not t.db_spans(off.session)
        and any(s["kind"] == "function" for s in t.spans(off.session)),
        '"capture": {"sql": false}: functions traced, no db spans')

# SQLAlchemy's ORM on SQLite
# (pyenv interpreters have the standard library only: there is nothing to check without it)
if subprocess.run([t.python, "-c", "import sqlalchemy"], capture_output=True).returncode:
    t.skip(f"SQLAlchemy: not installed for {t.python}")
else:
    run = t.run("sqlalchemy_app.py", t.path("sa.db"))
    t.same_output(run, "sqlalchemy_app")
    spans = t.spans(run.session)
    t.equal([[p] + brief(s)[:4] for s, (_, p) in zip([s for s in spans if s["kind"] == "db"], parents(spans))], [
        ["setup", "PRAGMA", "PRAGMA read_uncommitted", 1, None],
        ["setup", "PRAGMA", 'PRAGMA main.table_info("users")', 0, None],
        ["setup", "PRAGMA", 'PRAGMA temp.table_info("users")', 0, None],
        ["setup", "CREATE users", "CREATE TABLE users ( id INTEGER NOT NULL, name VARCHAR(?), PRIMARY KEY (id) )", None, None],
        ["add", "BEGIN", "BEGIN", None, None],
        ["add", "INSERT users", "INSERT INTO users (name) VALUES (?)", None, 1],
        ["add", "INSERT users", "INSERT INTO users (name) VALUES (?)", None, 1],
        ["add", "COMMIT", "COMMIT", None, None],
        ["query", "SELECT users", "SELECT users.id AS users_id, users.name AS users_name FROM users "
         "WHERE users.name != ? ORDER BY users.id", 2, None],
    ], "SQLAlchemy: its PRAGMAs, DDL, the ORM's INSERTs and SELECT, each under the function")

# A program that is not Python inherits LD_PRELOAD: the wrappers only forward
script = (".headers on\nCREATE TABLE t (a, b);\nINSERT INTO t VALUES (1, 'x'), (2, 'y');\n"
          "SELECT * FROM t;\nSELECT * FROM nosuch;\n.tables\n")
res = []
for k, env in enumerate([t.env(), t.env(t.path("cli-out"))]):
    f = t.path(f"cli{k}.db")
    res.append(subprocess.run(["sqlite3", f], input=script, capture_output=True, text=True,
                              env=env))
t.check((res[0].stdout, res[0].stderr, res[0].returncode) ==
        (res[1].stdout, res[1].stderr, res[1].returncode) and "1|x" in res[0].stdout
        and not os.path.exists(t.path("cli-out")),
        "the sqlite3 CLI prints the same with LD_PRELOAD and records nothing")
t.done()
