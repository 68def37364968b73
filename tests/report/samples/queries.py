"""SQLite statements with literals, for the sqlite report's statement normalisation: the same
query shape with different literals, IN lists of different lengths, comments, a failing one."""
import sqlite3


def main():
    db = sqlite3.connect(":memory:")
    db.execute("create table users(id integer, name text, score real)")
    for i in range(3):
        db.execute(f"insert into users values ({i}, 'user {i}', {i}.5)")
    db.execute("select * from users where id in (1, 2)").fetchall()
    db.execute("select * from users where id in (1,2,3)").fetchall()
    db.execute("SELECT  *\n  FROM users -- by name\n WHERE name = 'it''s'").fetchall()
    db.execute("select * from users where name = ?", ("x",)).fetchall()
    try:
        db.execute("select * from nowhere where id = 42")
    except sqlite3.OperationalError:
        pass
    db.close()


if __name__ == "__main__":
    main()
