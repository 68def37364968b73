"""MariaDB through MariaDB Connector/C: MySQLdb (mysqlclient) and the C API."""
from harness import Suite, brief, parents
from servers import MariaDB, Unavailable

t = Suite()
try:
    my = MariaDB(t.tmp).__enter__()
except Unavailable as e:
    t.skip(f"MariaDB tests: {e}")
    t.done()
try:
    # GIVEN a real MariaDB server and a program using MySQLdb and libmariadb's API
    # WHEN it runs plain and under the preload
    run = t.run("mysql_app.py", str(my.port))
    t.same_output(run, "mysql_app")
    spans = t.spans(run.session)
    dbs = [s for s in spans if s["kind"] == "db"]
    # THEN one span per query: mysql_real_query (rows at mysql_store_result, or counted by
    # mysql_fetch_row after mysql_use_result), send + read_query_result, prepared statements;
    # MySQL's "near '...'" quote of the statement is normalised like the statement
    want = [
        ["main", "SET", "SET autocommit=?", None, None, "ok", None],
        ["setup", "DROP users", "DROP TABLE IF EXISTS users", None, None, "ok", None],
        ["setup", "CREATE users", "CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(?), password VARCHAR(?))", None, None, "ok", None],
        ["insert", "INSERT users", "INSERT INTO users (id, name, password) VALUES (?, ?, ?)", None, 3, "ok", None],
        ["insert", "COMMIT", "COMMIT", None, None, "ok", None],
        ["select_rows", "SELECT users", "SELECT id, name FROM users WHERE password <> ? ORDER BY id", 3, None, "ok", None],
        ["select_rows", "SELECT users", "SELECT id FROM users ORDER BY id", 3, None, "ok", None],
        ["update", "UPDATE users", "UPDATE users SET name = ? WHERE id >= ?", None, 2, "ok", None],
        ["update", "COMMIT", "COMMIT", None, None, "ok", None],
        ["failing", "SELECT users", "SELECT * FROM users WHERE password = ? ORDER BY nosuch", None, None, "error", ["1054", "Unknown column 'nosuch' in 'ORDER BY'"]],
        ["failing", "SELECT", "SELECT * FORM users WHERE password = ?", None, None, "error", ["1064", "You have an error in your SQL syntax; check the manual that corresponds to your MariaDB server version for the right syntax to use near 'FORM users WHERE password = ?' at line 1"]],
        ["c_api", "SELECT users", "SELECT name FROM users WHERE id < ?", 2, None, "ok", None],
        ["c_api", "SELECT users", "SELECT id FROM users WHERE id > ?", 2, None, "ok", None],
        ["c_api", "UPDATE users", "UPDATE users SET name = ? WHERE id = ?", None, 1, "ok", None],
        ["c_api", "SELECT nosuch", "SELECT * FROM nosuch", None, None, "error", ["1146", "Table '?' doesn't exist"]],
    ]
    t.equal([[p] + brief(s) for s, (_, p) in zip(dbs, parents(spans, dbs))], want,
            "MySQLdb (store and use result), send/read, prepared statements: statements, rows, "
            "errors with quoted values masked, parents")
    a = dbs[1]["attributes"] if len(dbs) > 1 else {}
    t.equal({k: a.get(k) for k in ("db.system", "db.name", "server.address", "server.port",
                                   "glass.driver")},
            {"db.system": "mariadb", "db.name": "app", "server.address": "127.0.0.1",
             "server.port": my.port, "glass.driver": "libmariadb"},
            "attributes: mariadb, schema, server, driver")
    t.check(all(s["attributes"].get("db.response.status_code") for s in dbs if s["status"] == "error"),
            "errors carry the SQLSTATE as status code (mysql_sqlstate)")
    t.check(b"hunter2" not in t.session_bytes(run.session),
            "default policy: 'hunter2' (in statements, in a syntax error's quote) is nowhere in "
            "the session's bytes")
    raw = t.run("mysql_app.py", str(my.port), policy=t.policy({"sql_text": "raw"}), plain=False)
    t.check(any("near 'FORM users WHERE password = 'hunter2'' at line 1" in
                (s["attributes"].get("error.message") or "") for s in t.db_spans(raw.session)),
            'policy "sql_text": "raw": messages kept as the server wrote them')
finally:
    my.__exit__(None, None, None)
t.done()
