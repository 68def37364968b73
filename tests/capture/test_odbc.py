"""ODBC through unixODBC: pyodbc with the SQLite3 and the PostgreSQL Unicode drivers, and isql."""
import os
import subprocess

from harness import Suite, brief, parents
from servers import Postgres, Unavailable

t = Suite()


def odbc_want(first_error):
    """What odbc_app.py's statements are, whatever the driver (only the error differs)."""
    return [
        ["setup", "CREATE users", "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(?), password VARCHAR(?))", None, None, "ok", None],
        ["setup", "COMMIT", "COMMIT", None, None, "ok", None],
        ["insert", "INSERT users", "INSERT INTO users (id, name, password) VALUES (?, ?, ?)", None, 1, "ok", None],
        ["insert", "INSERT users", "INSERT INTO users (id, name, password) VALUES (?, ?, ?)", None, 1, "ok", None],
        ["insert", "INSERT users", "INSERT INTO users (id, name, password) VALUES (?, ?, ?)", None, 1, "ok", None],
        ["insert", "COMMIT", "COMMIT", None, None, "ok", None],
        ["select_rows", "SELECT users", "SELECT id, name FROM users WHERE password <> ? ORDER BY id", 3, None, "ok", None],
        ["select_rows", "SELECT users", "SELECT id, name FROM users WHERE password <> ? ORDER BY id", 2, None, "ok", None],
        ["select_rows", "SELECT users", "SELECT name FROM users ORDER BY id", 1, None, "ok", None],
        ["update", "UPDATE users", "UPDATE users SET name = ? WHERE id >= ?", None, 2, "ok", None],
        ["update", "DELETE users", "DELETE FROM users WHERE id = ?", None, 0, "ok", None],
        ["update", "COMMIT", "COMMIT", None, None, "ok", None],
        ["failing", "SELECT nosuch", "SELECT * FROM nosuch WHERE password = ?", None, None, "error", first_error],
        ["failing", "ROLLBACK", "ROLLBACK", None, None, "ok", None],
        ["main", "ROLLBACK", "ROLLBACK", None, None, "ok", None],  # pyodbc's close()
    ]


def check_driver(label, cs, prepare, want, attrs, inner):
    # GIVEN pyodbc on a driver; WHEN the program runs plain and under the preload
    run = t.run("odbc_app.py", cs, prepare=prepare)
    t.same_output(run, f"{label}: odbc_app (including pyodbc's error text: diagnostics intact)")
    spans = t.spans(run.session)
    odbc = [s for s in spans if s["kind"] == "db" and s["attributes"].get("glass.driver") == "unixodbc"]
    # THEN one span per execution (SQLExecDirectW, SQLPrepareW once + SQLExecute twice,
    # executemany's SQLExecute per row), SQLEndTran's COMMIT/ROLLBACK, rows fetched or changed
    t.equal([[p] + brief(s) for s, (_, p) in zip(odbc, parents(spans, odbc))], want,
            f"{label}: statements, rows, errors and parents of the ODBC spans")
    a = odbc[0]["attributes"] if odbc else {}
    t.equal({k: a.get(k) for k in attrs}, attrs, f"{label}: attributes from SQLGetInfo")
    others = [s for s in spans if s["kind"] == "db" and s not in odbc]
    inner(others, {s["span_id"] for s in odbc})
    t.check(b"hunter2" not in t.session_bytes(run.session),
            f"{label}: default policy: 'hunter2' is nowhere in the session's bytes")
    return run


# SQLite3 driver: it runs libsqlite3 inside our ODBC wrappers: no sqlite span of its own
db = t.path("odbc.db")


def fresh():
    if os.path.exists(db):
        os.unlink(db)


check_driver("SQLite3", f"DRIVER={{SQLite3}};Database={db}", fresh,
             odbc_want(["HY000", "[SQLite]no such table: nosuch (1)"]),
             {"db.system": "sqlite", "db.name": db, "glass.odbc.driver": "sqlite3odbc.so"},
             lambda others, ids: t.check(not others, "SQLite3: the driver's own libsqlite3 calls "
                                         "(connect PRAGMAs, each execution) make no spans"))
raw = t.run("odbc_app.py", f"DRIVER={{SQLite3}};Database={db}", prepare=fresh, plain=False,
            policy=t.policy({"sql_text": "raw"}))
t.check(any(s["attributes"].get("db.statement") == "INSERT INTO users (id, name, password) "
            "VALUES (1, 'ann', 'hunter2')" for s in t.db_spans(raw.session)),
        'SQLite3: policy "sql_text": "raw" keeps the literal')

# isql (not Python) inherits LD_PRELOAD: the wrappers only forward
ini = t.path("odbc.ini")
with open(ini, "w") as f:
    f.write(f"[t]\nDriver=SQLite3\nDatabase={db}\n")
script = "SELECT id, name FROM users ORDER BY id\nSELECT * FROM nosuch\n"
res = [subprocess.run(["isql", "-b", "-v", "t"], input=script, capture_output=True, text=True,
                      env=dict(e, ODBCINI=ini)) for e in (t.env(), t.env(t.path("isql-out")))]
t.check((res[0].stdout, res[0].stderr, res[0].returncode) ==
        (res[1].stdout, res[1].stderr, res[1].returncode) and "3 rows fetched" in res[0].stdout,
        "isql prints the same with LD_PRELOAD")

# PostgreSQL Unicode driver on a real server
try:
    pg = Postgres(t.tmp).__enter__()
except Unavailable as e:
    t.skip(f"ODBC on PostgreSQL: {e}")
    t.done()
try:
    cs = (f"DRIVER={{PostgreSQL Unicode}};SERVER=127.0.0.1;PORT={pg.port};DATABASE=app;"
          "UID=postgres;PWD=x;SSLMODE=disable")

    def drop():
        subprocess.run(["psql", "-q", "-h", "127.0.0.1", "-p", str(pg.port), "-U", "postgres",
                        "-d", "app", "-c", "DROP TABLE IF EXISTS users"], capture_output=True,
                       env=t.env())

    def nested(others, ids):
        # psqlodbc looks up column metadata with libpq while the application describes the
        # result: a query of its own, nested under the ODBC statement's span
        t.check(all(s["attributes"].get("glass.driver") == "libpq" and s["parent_id"] in ids
                    for s in others),
                f"PostgreSQL Unicode: the driver's own queries ({len(others)}) are libpq spans "
                "under the ODBC span; no execution is counted twice")

    check_driver("PostgreSQL Unicode", cs, drop,
                 odbc_want(["42P01", 'ERROR: relation "nosuch" does not exist;\n'
                            "Error while executing the query"]),
                 {"db.system": "postgresql", "db.name": "app", "server.address": "127.0.0.1",
                  "glass.odbc.driver": "psqlodbcw.so"}, nested)
    # SQL_SUCCESS_WITH_INFO: the notices pyodbc reads after the call are still there
    run = t.run("odbc_notice.py", cs)
    t.same_output(run, "PostgreSQL Unicode: odbc_notice")
    t.check("NOTICE: hello 42" in run.traced.stdout and [brief(s)[:2] for s in t.db_spans(run.session)]
            == [["DROP nosuch_table", "DROP TABLE IF EXISTS nosuch_table"], ["DO", "DO ?"]],
            "PostgreSQL Unicode: statements that succeed with information are spans and their "
            "diagnostics reach pyodbc")
finally:
    pg.__exit__(None, None, None)
t.done()
