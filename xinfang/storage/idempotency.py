"""Idempotency keys: a POST that creates something, re-sent with the same ``Idempotency-Key``
(a client whose answer was cut off, a clerk's second click), answers what the first one did
instead of creating it twice.

The key is kept with the request's hash and the answer, per user, in the same transaction as
what the request created: either both are stored or neither. The same key with another body is
refused (422), as the IETF draft "The Idempotency-Key HTTP Header Field" and Stripe's API do.
A kernel table: a service adds it with ``create_v1`` in one of its migrations.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Column, Integer, MetaData, String, Table, Text
from sqlalchemy.exc import IntegrityError

from xinfang.errors import InvalidInput
from xinfang.storage.types import UtcDateTime

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 200

metadata = MetaData()
idempotency_keys = Table(
    "idempotency_keys", metadata,
    Column("scope", String(64), primary_key=True),      # the user who sent it: keys are theirs alone
    Column("key", String(MAX_KEY_LENGTH), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)


def create_v1(op) -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(64), primary_key=True),
        sa.Column("key", sa.String(MAX_KEY_LENGTH), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("response", sa.Text, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )


def checked_key(value: str | None) -> str | None:
    """The header's value, or a 422 naming it: 1 to 200 visible ASCII characters."""
    if value is None:
        return None
    if not 1 <= len(value) <= MAX_KEY_LENGTH or not all(33 <= ord(ch) <= 126 for ch in value):
        raise InvalidInput(f"{HEADER} must be 1 to {MAX_KEY_LENGTH} visible ASCII characters (a UUID is usual)",
                           f"{HEADER} 须为 1 至 {MAX_KEY_LENGTH} 个可见 ASCII 字符（通常用 UUID）", field=HEADER)
    return value


def request_hash(body: Any) -> str:
    """The hash of a request body as parsed (key order and spacing do not matter)."""
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_plain)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Remembered:
    status_code: int
    response: dict


def recall(conn, scope: str, key: str, body_hash: str) -> Remembered | None:
    """What the first request with this key answered; None if there was none. The same key with
    another body is a 422: it cannot be a retry."""
    t = idempotency_keys.c
    row = conn.execute(sa.select(t.request_hash, t.status_code, t.response)
                       .where(t.scope == scope, t.key == key)).first()
    if row is None:
        return None
    if row.request_hash != body_hash:
        raise InvalidInput(f"this {HEADER} was used before with another request: a retry must send the same "
                           "body, a new request a new key",
                           f"该 {HEADER} 已用于另一请求：重试须发送相同内容，新请求须使用新的键", field=HEADER)
    return Remembered(row.status_code, json.loads(row.response))


def remember(conn, scope: str, key: str, body_hash: str, status_code: int, response: dict) -> None:
    """Keep the answer with the key, in the caller's transaction (a concurrent first use of the
    same key makes the insert fail: the caller then recalls the winner's answer)."""
    conn.execute(idempotency_keys.insert().values(
        scope=scope, key=key, request_hash=body_hash, status_code=status_code,
        response=json.dumps(response, ensure_ascii=False, default=_plain), created_at=datetime.now(UTC)))


def run_once(db, scope: str, idempotency: tuple[str, str] | None, act: Callable[[Any], dict], *,
             status_code: int = 201) -> dict:
    """``act(uow)`` in one unit of work, its answer kept with the key if ``idempotency`` (the key
    and the request's hash) is given. A retry answers the kept answer, marked ``replayed``, and
    acts not again; a concurrent first use of the same key loses the insert, and answers the
    winner's answer. Any other integrity error is the caller's."""
    from xinfang.storage.unit_of_work import ReadView, UnitOfWork

    if idempotency is None:
        with UnitOfWork(db) as uow:
            return act(uow)
    key, body_hash = idempotency
    try:
        with UnitOfWork(db) as uow:
            first = recall(uow, scope, key, body_hash)
            if first is not None:
                return {**first.response, "replayed": True}
            out = act(uow)
            remember(uow, scope, key, body_hash, status_code, out)
            return out
    except IntegrityError:
        with ReadView(db) as view:  # everything of ours was rolled back: the winner's answer, if it is that
            first = recall(view, scope, key, body_hash)
        if first is None:
            raise
        return {**first.response, "replayed": True}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")
