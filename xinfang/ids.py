"""Identifiers for new events and cases: UUIDs of version 7 (RFC 9562), whose first 48 bits are
the Unix time in milliseconds and the rest random.

Every store keeps a unique index on event ids (the event store, the outbox, each consumer's
inbox, reporting's log and facts) and indexes cases by id. With random (version 4) ids each
insert lands on a random page of those indexes; once an index outgrows the database's cache,
nearly every insert reads and rewrites a page of its own (on PostgreSQL also a full-page image
in the WAL after each checkpoint). Time-ordered ids insert near the end of the index, as an
append does. Ids made before this change stay valid: nothing reads meaning from an id.
"""
from __future__ import annotations

import os
import time
import uuid
from datetime import datetime

_MS = (1 << 48) - 1


def uuid7(at: datetime | None = None) -> uuid.UUID:
    """A version-7 UUID for now (or for ``at``, an aware time: for a history made after the fact)."""
    ms = time.time_ns() // 1_000_000 if at is None else int(at.timestamp() * 1000)
    rand = int.from_bytes(os.urandom(10), "big")   # 80 random bits: 12 for rand_a, 62 for rand_b
    value = ((ms & _MS) << 80) | (0x7 << 76) | ((rand >> 62 & 0xFFF) << 64) | (0b10 << 62) | (rand & ((1 << 62) - 1))
    return uuid.UUID(int=value)


def new_id(at: datetime | None = None) -> str:
    return str(uuid7(at))
