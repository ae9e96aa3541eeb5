"""Signed checkpoints of the event chain, kept by every service.

A checkpoint says: service S's chain (xinfang/storage/chain.py) had ``size`` links and the last
one was ``head`` at ``signed_at``, signed with S's own Ed25519 key. S publishes it as a
``ChainCheckpointSigned`` event; every service keeps the checkpoints it hears, S its own too, in
``chain_checkpoints``. The chain alone cannot show its newest events deleted together with their
links, nor a chain rewritten from an edit on (every later link recomputed): a checkpoint held in
another service's database does.

Keys: ``<NAME>_SIGNING_KEY`` (the 32-byte Ed25519 seed, base64), else a key file made at the
first start, ``<data dir>/keys/<name>.ed25519`` (mode 0600). Production sets the variable from a
secret, so that a new pod signs with the same key.
"""
from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import BigInteger, Column, MetaData, String, Table

from xinfang.storage.chain import Finding, Verdict
from xinfang.storage.types import UtcDateTime

EVENT = "ChainCheckpointSigned"

metadata = MetaData()
chain_checkpoints = Table(
    "chain_checkpoints", metadata,
    Column("event_id", String(36), primary_key=True),
    Column("service", String(32), nullable=False),      # whose chain
    Column("size", BigInteger, nullable=False),
    Column("head", String(64), nullable=False),
    Column("signed_at", UtcDateTime(), nullable=False),
    Column("key_id", String(16), nullable=False),
    Column("public_key", String(64), nullable=False),
    Column("signature", String(128), nullable=False),
    Column("received_at", UtcDateTime(), nullable=False),
)


def create_v1(op) -> None:
    """The table, as each service's migration creates it."""
    op.create_table(
        "chain_checkpoints",
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("service", sa.String(32), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("head", sa.String(64), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("public_key", sa.String(64), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_chain_checkpoints_service_size", "chain_checkpoints", ["service", "size"])


# ---------------------------------------------------------------- keys and signatures


def statement(service: str, size: int, head: str, signed_at: datetime) -> bytes:
    """The bytes signed (layout 1: never change it)."""
    at = signed_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"xinfang chain checkpoint 1\n{service}\n{size}\n{head}\n{at}".encode()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def public_bytes(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(public: bytes) -> str:
    return hashlib.sha256(public).hexdigest()[:16]


def signing_key(service: str, data_dir: Path) -> Ed25519PrivateKey:
    """The service's signing key, its key file made at the first start when there is none."""
    key = load_key(service, data_dir, create=True)
    assert key is not None
    return key


def load_key(service: str, data_dir: Path, *, create: bool = False) -> Ed25519PrivateKey | None:
    """The service's signing key: from ``<NAME>_SIGNING_KEY``, else its key file (made when
    ``create`` and missing). None when there is none and ``create`` is false."""
    seed = os.environ.get(f"{service.upper()}_SIGNING_KEY")
    if seed:
        try:
            return Ed25519PrivateKey.from_private_bytes(base64.b64decode(seed, validate=True))
        except ValueError as exc:
            raise SystemExit(f"{service.upper()}_SIGNING_KEY is not a base64 32-byte Ed25519 seed / "
                             f"{service.upper()}_SIGNING_KEY 不是 base64 编码的 32 字节 Ed25519 私钥种子") from exc
    path = data_dir / "keys" / f"{service}.ed25519"
    if path.exists():
        return Ed25519PrivateKey.from_private_bytes(base64.b64decode(path.read_text().strip()))
    if not create:
        return None
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat
    with os.fdopen(fd, "w") as f:
        f.write(_b64(key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())) + "\n")
    return key


@dataclass(frozen=True)
class Checkpoint:
    service: str
    size: int
    head: str
    signed_at: datetime
    key_id: str
    public_key: str
    signature: str

    @classmethod
    def signed(cls, key: Ed25519PrivateKey, service: str, size: int, head: str,
               signed_at: datetime | None = None) -> Checkpoint:
        at = (signed_at or datetime.now(UTC)).astimezone(UTC)
        public = public_bytes(key)
        return cls(service, size, head, at, key_id(public), _b64(public),
                   _b64(key.sign(statement(service, size, head, at))))

    @classmethod
    def of(cls, row) -> Checkpoint:
        """From a payload dict or a ``chain_checkpoints`` row."""
        m = row if isinstance(row, dict) else row._mapping
        at = m["signed_at"]
        if isinstance(at, str):
            at = datetime.fromisoformat(at.replace("Z", "+00:00"))
        return cls(m["service"], int(m["size"]), m["head"], at.astimezone(UTC), m["key_id"],
                   m["public_key"], m["signature"])

    def payload(self) -> dict:
        return dict(service=self.service, size=self.size, head=self.head, signed_at=self.signed_at,
                    key_id=self.key_id, public_key=self.public_key, signature=self.signature)

    def signature_ok(self) -> bool:
        try:
            pub = Ed25519PublicKey.from_public_bytes(base64.b64decode(self.public_key))
            pub.verify(base64.b64decode(self.signature), statement(self.service, self.size, self.head,
                                                                   self.signed_at))
            return key_id(base64.b64decode(self.public_key)) == self.key_id
        except (InvalidSignature, ValueError):
            return False

    def to_json(self) -> dict:
        return {**self.payload(), "signed_at": self.signed_at.isoformat()}


# ---------------------------------------------------------------- kept


def record(conn: sa.Connection, event_id: str, cp: Checkpoint) -> None:
    """Keep a checkpoint heard (a redelivery changes nothing)."""
    if conn.execute(sa.select(chain_checkpoints.c.event_id)
                    .where(chain_checkpoints.c.event_id == event_id)).first() is None:
        conn.execute(chain_checkpoints.insert().values(event_id=event_id, received_at=datetime.now(UTC),
                                                       **cp.payload()))


def held(conn: sa.Connection, service: str | None = None) -> list[Checkpoint]:
    q = sa.select(chain_checkpoints).order_by(chain_checkpoints.c.service, chain_checkpoints.c.size,
                                              chain_checkpoints.c.signed_at)
    if service is not None:
        q = q.where(chain_checkpoints.c.service == service)
    return [Checkpoint.of(r) for r in conn.execute(q)]


def latest_own(conn: sa.Connection, service: str) -> Checkpoint | None:
    row = conn.execute(sa.select(chain_checkpoints).where(chain_checkpoints.c.service == service)
                       .order_by(chain_checkpoints.c.size.desc()).limit(1)).first()
    return None if row is None else Checkpoint.of(row)


def covering(conn: sa.Connection, service: str, seq: int) -> Checkpoint | None:
    """The first checkpoint of ``service`` whose size reaches link ``seq`` (it vouches for that
    link and every one before it) and whose signature verifies; None until one is signed."""
    rows = conn.execute(sa.select(chain_checkpoints).where(chain_checkpoints.c.service == service,
                                                           chain_checkpoints.c.size >= seq)
                        .order_by(chain_checkpoints.c.size, chain_checkpoints.c.signed_at).limit(5))
    return next((cp for cp in map(Checkpoint.of, rows) if cp.signature_ok()), None)


# ---------------------------------------------------------------- checked against a chain


def check(service: str, verdict: Verdict | None, heads: dict[int, str],
          kept: Iterable[tuple[Checkpoint, str]], trusted: bytes | None = None) -> list[Finding]:
    """What the checkpoints of ``service`` (each with who held it) say about its chain as it is
    now (``verdict``, None when its store could not be read; ``heads``: the stored hash of the
    links at the checkpoints' sizes). ``trusted``: the service's public key, else the key of its
    earliest checkpoint is. Checks each signature and key; that the chain still reaches each size
    with the head signed there; that consecutive checkpoints agree (one chain, in time order)."""
    holders: dict[Checkpoint, list[str]] = {}  # the same checkpoint held by several, once
    for cp, holder in kept:
        if cp.service == service and holder not in holders.setdefault(cp, []):
            holders[cp].append(holder)
    cps = sorted(holders.items(), key=lambda e: (e[0].size, e[0].signed_at))
    if not cps:
        return []
    trusted_b64 = _b64(trusted) if trusted else cps[0][0].public_key
    out: list[Finding] = []

    def where(cp: Checkpoint) -> str:
        return (f"checkpoint of {cp.signed_at:%Y-%m-%d %H:%M:%S}Z, size {cp.size}, "
                f"held by {', '.join(sorted(holders[cp]))}")

    good: list[Checkpoint] = []
    for cp, _ in cps:
        if not cp.signature_ok():
            out.append(Finding(cp.size, None, f"the signature does not verify ({where(cp)})"))
        elif cp.public_key != trusted_b64:
            out.append(Finding(cp.size, None, f"signed by a key that is not {service}'s "
                                              f"(key {cp.key_id}; {where(cp)})"))
        else:
            good.append(cp)
    for a, b in zip(good, good[1:], strict=False):
        if a.size == b.size and a.head != b.head:
            out.append(Finding(b.size, None, f"two checkpoints of size {b.size} with different heads: a fork"))
        elif a.size < b.size and a.signed_at > b.signed_at:
            out.append(Finding(b.size, None, f"the checkpoint of size {b.size} is older than the one of size "
                                             f"{a.size}: not one chain in time order"))
    if verdict is not None:
        longest = max(good, key=lambda cp: cp.size, default=None)
        if longest is not None and longest.size > verdict.size:
            out.append(Finding(verdict.size + 1, None,
                               f"links {verdict.size + 1}–{longest.size} are missing: the newest events were "
                               f"deleted ({where(longest)})"))
        for cp in good:
            if 0 < cp.size <= verdict.size and heads.get(cp.size) != cp.head:
                out.append(Finding(cp.size, None, f"the chain up to here is not the one signed ({where(cp)}): "
                                                  "rewritten"))
    return out
