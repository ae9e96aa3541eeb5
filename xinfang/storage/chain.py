"""The event store's hash chain: every stored event is linked, in the order its transaction
committed, to the one before it, so that an event edited, deleted or moved in the database shows.

``event_chain`` holds one row per event: ``seq`` (the event's place in the log, 1, 2, …), the
event's ``position`` in ``events`` and ``hash`` = SHA-256 of the previous hash (64 hex digits),
a newline and the event's canonical bytes, in hex; the first event's previous hash is 64 zeros. The canonical bytes are the stored
row as it never changes: its id, stream, version, type, schema version, case and the body exactly
as stored (its times, and personal data as stored, encrypted, so that rotating a key later
changes nothing here).

Links are made at commit (``UnitOfWork.commit``), after everything else the transaction did: on
PostgreSQL under a transaction-scoped advisory lock, so two transactions cannot both link to the
same head (a fork) and the lock is held only for the last two statements (nothing is waited for
while holding it, so it cannot take part in a deadlock); on SQLite the writer is alone already
(``BEGIN IMMEDIATE``). Deleting the newest events with their links is not visible here: that is
what checkpoints kept by other services are for.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from xinfang.storage.tables import event_chain, events

GENESIS = "0" * 64
_LOCK_KEY = 0x78696E66  # "xinf": one chain per database, so one constant key
_COLUMNS = (events.c.event_id, events.c.stream_id, events.c.version, events.c.event_type,
            events.c.schema_version, events.c.case_id, events.c.body)


def canonical(row) -> str:
    """The text of a stored event that is hashed (layout 1: never change it), from its columns
    (event_id, stream_id, version, event_type, schema_version, case_id, body). The time columns
    are copies of the body's times, kept for queries; the body, which every reader decodes, is
    hashed as stored."""
    return f"{row[0]}\n{row[1]}\n{row[2]}\n{row[3]}\n{row[4]}\n{row[5]}\n{row[6]}"


def link_hash(previous: str, row) -> str:
    return hashlib.sha256(f"{previous}\n{canonical(row)}".encode()).hexdigest()


def head(conn: sa.Connection) -> tuple[int, str]:
    """(size, head hash) of the chain as this connection sees it."""
    last = conn.execute(sa.select(event_chain.c.seq, event_chain.c.hash)
                        .order_by(event_chain.c.seq.desc()).limit(1)).first()
    return (0, GENESIS) if last is None else (int(last.seq), last.hash)


def link(conn: sa.Connection, positions: Iterable[int]) -> int:
    """Link the events at ``positions`` (appended by this transaction) to the chain's head, in
    position order; positions no longer present (their savepoint rolled back) are left out.
    Returns how many were linked."""
    wanted = sorted(set(positions))
    if not wanted:
        return 0
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    rows: list = []
    for i in range(0, len(wanted), 5000):
        rows += conn.execute(sa.select(events.c.position, *_COLUMNS)
                             .where(events.c.position.in_(wanted[i:i + 5000]))).all()
    rows.sort(key=lambda r: r[0])
    seq, previous = head(conn)
    links = []
    for row in rows:
        seq += 1
        previous = link_hash(previous, row[1:])
        links.append(dict(seq=seq, position=row[0], hash=previous))
    if links:
        conn.execute(event_chain.insert(), links)
    return len(links)


def link_all(conn: sa.Connection, batch: int = 10_000) -> int:
    """Link every event not linked yet, in position order: the migration that introduced the
    chain, over the events stored before it."""
    done = 0
    while True:
        after = conn.execute(sa.select(sa.func.max(event_chain.c.position))).scalar() or 0
        todo = conn.execute(sa.select(events.c.position).where(events.c.position > after)
                            .order_by(events.c.position).limit(batch)).scalars().all()
        if not todo:
            return done
        done += link(conn, todo)


@dataclass(frozen=True)
class Finding:
    seq: int
    position: int | None
    what: str

    def __str__(self) -> str:
        where = f"seq {self.seq}" + (f", position {self.position}" if self.position is not None else "")
        return f"{where}: {self.what}"


@dataclass
class Verdict:
    size: int = 0
    head: str = GENESIS
    findings: list[Finding] = field(default_factory=list)
    heads: dict[int, str] = field(default_factory=dict)  # stored hash of the links asked for

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def first(self) -> Finding | None:
        return self.findings[0] if self.findings else None


# canonical() in SQL: one text per row, not seven values, crosses the driver (the walk's main cost)
_NL = "'\n'"
_WALK = (f"SELECT c.seq, c.position, c.hash, e.position, e.event_id || {_NL} || e.stream_id || {_NL} || e.version "
         f"|| {_NL} || e.event_type || {_NL} || e.schema_version || {_NL} || e.case_id || {_NL} || e.body "
         "FROM event_chain c LEFT JOIN events e ON e.position = c.position ORDER BY c.seq")


def _walk(conn: sa.Connection, batch: int) -> Iterator[tuple]:
    """The links in seq order with their events (an event deleted gives NULLs), straight from
    the driver: SQLAlchemy's row processing alone cost more than the hashing."""
    raw: Any = conn.connection.dbapi_connection
    cur = raw.cursor(name="xinfang_audit_walk") if conn.dialect.name == "postgresql" else raw.cursor()
    try:
        if conn.dialect.name == "postgresql":
            cur.itersize = batch
        cur.execute(_WALK)
        while rows := cur.fetchmany(batch):
            yield from rows
    finally:
        cur.close()


def verify(conn: sa.Connection, progress: Callable[[int], None] | None = None, batch: int = 5000,
           limit: int = 20, heads_at: Iterable[int] = ()) -> Verdict:
    """Recompute every link; the findings (at most ``limit``), first the lowest seq. Checks: the
    seqs run 1, 2, … without a gap; each link's event is present; each hash is the previous hash
    and the event's bytes as they are now; every event is linked. After a bad link the walk goes
    on from the hash stored there, so one edited event is one finding, not every later one.
    ``heads_at``: seqs whose stored hash to give back (``Verdict.heads``), for the checkpoints."""
    out = Verdict()
    previous, expected = GENESIS, 1
    n = 0
    wanted = set(heads_at)

    def found(f: Finding) -> None:
        if len(out.findings) < limit:
            out.findings.append(f)

    sha256 = hashlib.sha256
    for row in _walk(conn, batch):
        seq, linked, stored, position = row[0], row[1], row[2], row[3]
        if seq != expected:
            found(Finding(expected, None, f"links {expected}–{seq - 1} are missing (deleted)"
                          if seq > expected else f"link {seq} appears twice"))
        expected = seq + 1
        if position is None:
            found(Finding(seq, linked, "the event is missing (deleted from events)"))
            previous = stored
        else:
            recomputed = sha256(f"{previous}\n{row[4]}".encode()).hexdigest()  # link_hash, inlined
            if recomputed != stored:
                found(Finding(seq, position, "the hash does not match: the event was edited or moved, "
                                             "or the link before it was"))
                previous = stored
            else:
                previous = recomputed
        if seq in wanted:
            out.heads[seq] = stored
        n += 1
        if progress and n % batch == 0:
            progress(batch)
    if progress:
        progress(n % batch)
    out.size, out.head = n, previous
    unlinked = conn.execute(sa.select(sa.func.count(), sa.func.min(events.c.position))
                            .where(events.c.position.not_in(sa.select(event_chain.c.position)))).one()
    if unlinked[0]:
        found(Finding(out.size + 1, unlinked[1], f"{unlinked[0]} event(s) are not in the chain "
                                                 "(inserted around the event store)"))
    return out


def count(conn: sa.Connection) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(event_chain)).scalar() or 0)
