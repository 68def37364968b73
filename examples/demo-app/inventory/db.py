"""SQLite connections and the schema (stdlib sqlite3)."""

import sqlite3

SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    category TEXT NOT NULL,
    price REAL NOT NULL,
    qty INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sales (
    id INTEGER PRIMARY KEY,
    item_id INTEGER NOT NULL REFERENCES items(id),
    day INTEGER NOT NULL,
    qty INTEGER NOT NULL
);
"""

SEED_ITEMS = [
    (1, "pencil", "office", 0.8, 500), (2, "notebook", "office", 3.5, 120),
    (3, "stapler", "office", 12.0, 30), (4, "mug", "kitchen", 7.5, 60),
    (5, "kettle", "kitchen", 35.0, 12), (6, "teapot", "kitchen", 22.0, 8),
    (7, "lamp", "home", 45.0, 15), (8, "cushion", "home", 18.0, 40),
    (9, "rug", "home", 120.0, 5), (10, "cable", "tech", 9.0, 200),
    (11, "charger", "tech", 25.0, 70), (12, "headphones", "tech", 80.0, 25),
]


def connect(path):
    conn = sqlite3.connect(path, timeout=10)
    conn.row_factory = sqlite3.Row
    return conn


def init_db(path):
    """Creates and seeds the database; safe to run from several workers at once."""
    conn = connect(path)
    try:
        with conn:
            conn.executescript(SCHEMA)
            conn.executemany("INSERT OR IGNORE INTO items VALUES (?, ?, ?, ?, ?)", SEED_ITEMS)
            sales = []
            for item_id, _, _, _, _ in SEED_ITEMS:
                for day in range(30):
                    sales.append((item_id * 100 + day, item_id, day, (item_id * 7 + day * 3) % 11))
            conn.executemany("INSERT OR IGNORE INTO sales VALUES (?, ?, ?, ?)", sales)
    finally:
        conn.close()
