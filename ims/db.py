"""Small database helpers that keep SQLite (the embedded default) and PostgreSQL alike."""

from __future__ import annotations

from decimal import Decimal

from django.db import connection
from django.db.models import F
from django.db.models.functions import Collate


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def binary_collation() -> str:
    """The collation that sorts text byte by byte, as every output file is sorted."""
    return '"C"' if is_postgres() else "BINARY"


def by_bytes(field: str) -> Collate:
    """An ORDER BY term for `field` in byte order, whatever the database's collation."""
    return Collate(F(field), "C" if is_postgres() else "BINARY")


def as_decimal(value) -> Decimal | None:
    """A raw SQL numeric as Decimal (SQLite hands NUMERIC columns back as int or float)."""
    if value is None or isinstance(value, Decimal):
        return value
    return Decimal(str(value))
