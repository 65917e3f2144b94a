"""User lookups for the admin pages."""

import sqlite3


def connect(path: str) -> sqlite3.Connection:
    return sqlite3.connect(path)


def get_user(db: sqlite3.Connection, user_id: str) -> tuple | None:
    cur = db.execute("SELECT id, name, email FROM users WHERE id = ?", (user_id,))
    return cur.fetchone()


def count_users(db: sqlite3.Connection) -> int:
    return db.execute("SELECT COUNT(*) FROM users").fetchone()[0]
