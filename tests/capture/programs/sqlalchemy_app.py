"""SQLAlchemy's ORM on SQLite (pysqlite dialect).    sqlalchemy_app.py DBFILE"""
import os
import sys

import sqlalchemy as sa
from sqlalchemy.orm import Session, declarative_base

Base = declarative_base()


class User(Base):
    __tablename__ = "users"
    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.String(20))


def setup(engine):
    Base.metadata.create_all(engine)


def add(engine):
    with Session(engine) as s:
        s.add_all([User(name="ann"), User(name="bob")])
        s.commit()


def query(engine):
    with Session(engine) as s:
        users = s.query(User).filter(User.name != "hunter2").order_by(User.id).all()
        print("users", [u.name for u in users])


if os.path.exists(sys.argv[1]):
    os.unlink(sys.argv[1])
engine = sa.create_engine("sqlite:///" + sys.argv[1])
setup(engine)
add(engine)
query(engine)
