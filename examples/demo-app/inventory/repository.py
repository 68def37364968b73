"""Data access: SQL in, plain dicts out."""


def row_to_item(row):
    return {"id": row["id"], "name": row["name"], "category": row["category"],
            "price": row["price"], "qty": row["qty"]}


def all_items(conn):
    return [row_to_item(r) for r in conn.execute("SELECT * FROM items ORDER BY id")]


def iter_items(conn, category=None):
    """Yields items one by one (a generator: glass records it as one span with its resumes)."""
    if category is None:
        cursor = conn.execute("SELECT * FROM items ORDER BY id")
    else:
        cursor = conn.execute("SELECT * FROM items WHERE category = ? ORDER BY id", (category,))
    for row in cursor:
        yield row_to_item(row)


def find_item(conn, item_id):
    row = conn.execute("SELECT * FROM items WHERE id = ?", (item_id,)).fetchone()
    return row_to_item(row) if row is not None else None


def insert_item(conn, name, category, price, qty):
    with conn:
        cur = conn.execute("INSERT INTO items (name, category, price, qty) VALUES (?, ?, ?, ?)",
                           (name, category, price, qty))
    return cur.lastrowid


def daily_sales(conn, item_id):
    rows = conn.execute("SELECT day, qty FROM sales WHERE item_id = ? ORDER BY day", (item_id,))
    return [qty for _, qty in rows]
