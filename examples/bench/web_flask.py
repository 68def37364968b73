"""The web benchmark's Flask app: SQLAlchemy over SQLite, one query per request.

gunicorn --workers 2 --chdir examples/bench web_flask:app (scripts/bench --only web)."""
import os

from flask import Flask, jsonify
from sqlalchemy import Column, Integer, String, create_engine, select
from sqlalchemy.orm import Session, declarative_base

Base = declarative_base()


class Product(Base):
    __tablename__ = "products"
    id = Column(Integer, primary_key=True)
    name = Column(String(64))
    price = Column(Integer)


engine = create_engine("sqlite:///" + os.environ.get("BENCH_DB", "/tmp/glass-bench-web.db"))
Base.metadata.create_all(engine)
with Session(engine) as s:
    if not s.scalar(select(Product).limit(1)):
        s.add_all(Product(id=i, name=f"product {i}", price=100 + i) for i in range(1, 101))
        s.commit()

app = Flask(__name__)


def price_of(pid):
    with Session(engine) as s:
        p = s.get(Product, pid)
        return {"id": p.id, "name": p.name, "price": p.price}


@app.route("/products/<int:pid>")
def product(pid):
    return jsonify(price_of(pid))
