"""PostgreSQL 15 through libpq: psycopg2 (sync, green, async), libpq's C API, and psql."""
import subprocess

from harness import Suite, brief, parents
from servers import Postgres, Unavailable

t = Suite()
try:
    pg = Postgres(t.tmp).__enter__()
except Unavailable as e:
    t.skip(f"PostgreSQL tests: {e}")
    t.done()
try:
    # GIVEN a real PostgreSQL server and a program using psycopg2 and libpq's API
    # WHEN it runs plain and under the preload
    run = t.run("pg_app.py", pg.dsn)
    t.same_output(run, "pg_app")
    spans = t.spans(run.session)
    dbs = [s for s in spans if s["kind"] == "db"]
    ERR_INT = ["22P02", 'invalid input syntax for type integer: "?"']
    want = [
        ["setup", "BEGIN", "BEGIN", None, None, "ok", None],
        ["setup", "DROP users", "DROP TABLE IF EXISTS users", None, None, "ok", None],
        ["setup", "CREATE users", "CREATE TABLE users (id serial PRIMARY KEY, name text, password text)", None, None, "ok", None],
        ["setup", "COMMIT", "COMMIT", None, None, "ok", None],
        ["insert", "BEGIN", "BEGIN", None, None, "ok", None],
        ["insert", "INSERT users", "INSERT INTO users (name, password) VALUES (?, ?)", None, 1, "ok", None],
        ["insert", "INSERT users", "INSERT INTO users (name, password) VALUES (?, ?)", None, 1, "ok", None],
        ["insert", "COMMIT", "COMMIT", None, None, "ok", None],
        ["select_rows", "BEGIN", "BEGIN", None, None, "ok", None],
        ["select_rows", "SELECT users", "SELECT id, name FROM users WHERE password <> ? ORDER BY id", 2, None, "ok", None],
        ["update", "UPDATE users", "UPDATE users SET name = upper(name) WHERE id > ?", None, 2, "ok", None],
        ["update", "COMMIT", "COMMIT", None, None, "ok", None],
        ["failing", "BEGIN", "BEGIN", None, None, "ok", None],
        ["failing", "SELECT users", "SELECT * FROM users WHERE id = ?", None, None, "error", ERR_INT],
        ["failing", "ROLLBACK", "ROLLBACK", None, None, "ok", None],
        ["failing", "BEGIN", "BEGIN", None, None, "ok", None],
        ["failing", "SELECT nosuch", "SELECT * FROM nosuch", None, None, "error", ["42P01", 'relation "nosuch" does not exist']],
        ["failing", "ROLLBACK", "ROLLBACK", None, None, "ok", None],
        ["run_query", "BEGIN", "BEGIN", None, None, "ok", None],
        ["run_query", "SELECT users", "SELECT * FROM users WHERE id = ?", None, None, "error", ERR_INT],
        ["escaping", "ROLLBACK", "ROLLBACK", None, None, "ok", None],
        ["green", "BEGIN", "BEGIN", None, None, "ok", None],
        ["green", "SELECT users", "SELECT name FROM users ORDER BY id", 2, None, "ok", None],
        ["green", "SELECT users", "SELECT password FROM users WHERE name = ? AND id = ?", None, None, "error", ERR_INT],
        ["async_mode", "SELECT users", "SELECT count(*) FROM users", 1, None, "ok", None],
        ["c_api", "SELECT users", "SELECT name FROM users WHERE id > $1", 2, None, "ok", None],
        ["c_api", "PREPARE SELECT users", "SELECT name FROM users WHERE id = $1", None, None, "ok", None],
        ["c_api", "SELECT users", "SELECT name FROM users WHERE id = $1", 1, None, "ok", None],
        ["c_api", "UPDATE users", "UPDATE users SET name = $1 WHERE id = $2", None, 1, "ok", None],
        ["c_api", "PREPARE DELETE users", "DELETE FROM users WHERE id = $1", None, None, "ok", None],
        ["c_api", "DELETE users", "DELETE FROM users WHERE id = $1", None, 0, "ok", None],
    ]
    # THEN one span per query with its normalised text (psycopg2 inlines parameters: they are
    # literals and become ?), rows, SQLSTATE and primary message, under the calling function
    t.equal([[p] + brief(s) for s, (_, p) in zip(dbs, parents(spans, dbs))], want,
            "psycopg2 sync (PQexec), green and async (PQsendQuery + PQgetResult), PQexecParams, "
            "PQprepare + PQexecPrepared, PQsendQueryParams, PQsendPrepare + "
            "PQsendQueryPrepared: statements, rows, errors, parents")
    a = dbs[1]["attributes"] if len(dbs) > 1 else {}
    t.equal({k: a.get(k) for k in ("db.system", "db.name", "server.address", "server.port",
                                   "glass.driver", "db.operation", "db.sql.table")},
            {"db.system": "postgresql", "db.name": "app", "server.address": "127.0.0.1",
             "server.port": pg.port, "glass.driver": "libpq", "db.operation": "DROP",
             "db.sql.table": "users"}, "attributes: system, database, server, driver")
    t.check(all(s["attributes"].get("db.response.status_code") == s["attributes"].get("error.type")
                for s in dbs if s["status"] == "error"), "errors carry the SQLSTATE as status code")
    rq = [s for s in spans if s["kind"] == "function" and s["name"] == "run_query"]
    t.check(len(rq) == 1 and rq[0]["status"] == "error" and
            rq[0]["error"]["type"] == "InvalidTextRepresentation" and
            '"?"' in (rq[0]["error"]["message"] or "") and
            "hunter2" not in (rq[0]["error"]["message"] or ""),
            f"a driver error escaping a traced function is recorded scrubbed "
            f"({rq[0]['error'] if rq else None})")
    t.check(b"hunter2" not in t.session_bytes(run.session),
            "default policy: 'hunter2' (inlined by psycopg2, echoed in an error) is nowhere in "
            "the session's bytes")
    raw = t.run("pg_app.py", pg.dsn, policy=t.policy({"sql_text": "raw"}), plain=False)
    t.check(any(s["attributes"].get("db.statement") == "SELECT * FROM users WHERE id = 'hunter2'"
                for s in t.db_spans(raw.session)), 'policy "sql_text": "raw": inlined values kept')

    # psql inherits LD_PRELOAD: the wrappers only forward
    cmd = ["psql", "-h", "127.0.0.1", "-p", str(pg.port), "-U", "postgres", "-d", "app", "-c",
           "SELECT id, name FROM users ORDER BY id", "-c", "SELECT * FROM nosuch"]
    res = [subprocess.run(cmd, capture_output=True, text=True, env=e)
           for e in (t.env(), t.env(t.path("psql-out")))]
    t.check((res[0].stdout, res[0].stderr, res[0].returncode) ==
            (res[1].stdout, res[1].stderr, res[1].returncode)
            and "(2 rows)" in res[0].stdout, "psql prints the same with LD_PRELOAD")
finally:
    pg.__exit__(None, None, None)
t.done()
