"""Conditions "column is one of these many values", for batched reads and writes, and "column
starts with this prefix" (``starts_with``).

PostgreSQL gets one array parameter (``= ANY(:values)``): a statement with hundreds of IN
parameters is parsed and planned afresh each time, and on a table without statistics yet (a
fresh bulk load) its plan was seen to cost 400 ms against 15 ms for the array. SQLite has no
arrays: chunks of IN, each answered from the index.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator

import psycopg
import sqlalchemy as sa
from psycopg import postgres
from psycopg.adapt import Dumper
from sqlalchemy.dialects.postgresql import ARRAY

SQLITE_CHUNK = 500


class _ArrayText(str):
    """A text[] value already written out in PostgreSQL's array syntax."""


class _ArrayTextDumper(Dumper):
    oid = postgres.types["text"].array_oid

    def dump(self, obj: str) -> bytes:
        return obj.encode()


psycopg.adapters.register_dumper(_ArrayText, _ArrayTextDumper)


class _TextArray(ARRAY):
    """A list of strings as one text[] parameter, written out here: psycopg dumps a list element
    by element in Python (60 ms for 20,000 ids, against 9 ms here), and a replay's batch passes
    four such lists. Sent typed as text[], so the server parses it at bind time and plans with
    the values, as for psycopg's own list."""

    cache_ok = True

    def __init__(self) -> None:
        super().__init__(sa.Text)

    def bind_processor(self, dialect):
        def process(values):
            if values is None:
                return None
            return _ArrayText("{" + ",".join("NULL" if v is None else
                                             '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
                                             for v in values) + "}")
        return process


def member(dialect: str, column, *, name: str | None = None, values: list | None = None):
    """``column`` is one of a list: the list is the parameter ``name`` (given at execution, for a
    statement built once), or ``values`` bound now. Pass at most one chunk (``chunks``) at a time."""
    if dialect == "postgresql":
        if isinstance(column.type, sa.String):
            return column == sa.any_(sa.bindparam(name, values, type_=_TextArray()))
        return column == sa.any_(sa.bindparam(name, values, type_=ARRAY(column.type)))
    return column.in_(sa.bindparam(name, values, expanding=True))


def chunks(dialect: str, values: Iterable) -> Iterator[list]:
    """``values`` in the pieces one ``member`` condition takes: all at once on PostgreSQL."""
    values = list(values)
    step = len(values) if dialect == "postgresql" else SQLITE_CHUNK
    for i in range(0, len(values), max(step, 1)):
        yield values[i:i + step]


def one_of(conn: sa.Connection, column, values: Iterable) -> Iterator:
    """Yields conditions that together select the rows whose ``column`` is in ``values``; run the
    statement once per condition and join the results (nothing is yielded for no values)."""
    for part in chunks(conn.dialect.name, values):
        yield member(conn.dialect.name, column, values=part)


def starts_with(col, prefix: str):
    """``col`` starts with ``prefix``, with a range first that an index on the column answers:
    ``LIKE 'p%'`` uses a btree only under the C collation, so on PostgreSQL with any other a
    county's cases were found by reading every case of the province (300 ms at 1.1 million
    cases). The LIKE keeps the condition exact in any collation."""
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return sa.and_(col >= prefix, col < upper, col.startswith(prefix))
