"""glass demo: a small inventory web app (Flask + the standard library's sqlite3).

    gunicorn --workers 2 --bind 127.0.0.1:8000 --chdir examples/demo-app app:app

Routes: GET / | GET, POST /items | GET /items/<id> | GET /report (slower: several layers of
the app's own code) | GET /boom (raises: 500). The database is $DEMO_DB (default: demo.db here).
"""

import os
import sqlite3

from flask import Flask, abort, g, jsonify, request

from inventory import service
from inventory.db import connect, init_db

DEFAULT_DB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "demo.db")


def create_app(db_path=None):
    db_path = db_path or os.environ.get("DEMO_DB", DEFAULT_DB)
    init_db(db_path)
    app = Flask(__name__)

    def db():
        if "db" not in g:
            g.db = connect(db_path)
        return g.db

    @app.teardown_appcontext
    def close_db(exc):
        conn = g.pop("db", None)
        if conn is not None:
            conn.close()

    @app.get("/")
    def index():
        return jsonify(service="inventory",
                       routes=["/items", "/items/<id>", "/report", "/boom"])

    @app.get("/items")
    def list_items():
        return jsonify(service.list_items(db()))

    @app.post("/items")
    def create_item():
        try:
            item = service.create_item(db(), request.get_json(force=True, silent=True) or {})
        except ValueError as e:
            return jsonify(error=str(e)), 400
        return jsonify(item), 201

    @app.get("/items/<int:item_id>")
    def get_item(item_id):
        item = service.get_item(db(), item_id)
        if item is None:
            abort(404)
        return jsonify(item)

    @app.get("/report")
    def report():
        return jsonify(service.build_report(db()))

    @app.get("/boom")
    def boom():
        service.sync_with_supplier(db())  # raises: the app answers 500
        return jsonify(ok=True)

    @app.errorhandler(sqlite3.Error)
    def database_error(e):
        return jsonify(error="database error: %s" % e), 503

    return app


app = create_app()
