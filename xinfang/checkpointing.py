"""Each producing service signs a checkpoint of its event chain every N new events or M minutes
(``XINFANG_CHECKPOINT_EVENTS``, ``XINFANG_CHECKPOINT_SECONDS``) and publishes it; every service
keeps the checkpoints it hears (xinfang/storage/checkpoints.py)."""
from __future__ import annotations

import logging
import threading
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from xinfang.contracts import Envelope, new_envelope, topic_for
from xinfang.contracts.events import ChainCheckpointSigned
from xinfang.contracts.topics import PRODUCERS
from xinfang.messaging.streams import Subscription, with_event
from xinfang.storage import ConcurrencyConflict, Database, UnitOfWork, chain
from xinfang.storage import checkpoints as kept

log = logging.getLogger("xinfang.checkpoints")
NATIONAL = "000000000000"  # the office of events that belong to no case


def stream_of(service: str) -> str:
    return f"chain:{service}"


class ChainShrank(Exception):
    """The chain is shorter than a checkpoint this process signed: its newest events were deleted."""


def sign(db: Database, service: str, key: Ed25519PrivateKey, *, at_least: int = 1,
         floor: int = 0) -> kept.Checkpoint | None:
    """Sign the chain's head as committed now, when at least ``at_least`` events came since the
    last checkpoint (its own event not counted); the checkpoint, or None. Never a chain shorter
    than ``floor`` (the largest size signed before): signing it would vouch for the deletion."""
    with db.read() as c:  # most ticks end here, without taking the writer's lock
        if _new_since(c, service, floor) < max(at_least, 1):
            return None
    with UnitOfWork(db) as uow:
        if _new_since(uow.conn, service, floor) < max(at_least, 1):
            return None
        size, head = chain.head(uow.conn)
        cp = kept.Checkpoint.signed(key, service, size, head)
        env = new_envelope(ChainCheckpointSigned(**cp.payload()), case_id=stream_of(service), office=NATIONAL,
                           actor=f"service:{service}", producer=service, occurred_at=cp.signed_at)
        stored = uow.append(stream_of(service), None, [env])
        kept.record(uow.conn, stored[0].event_id, cp)
    return cp


def _new_since(conn, service: str, floor: int = 0) -> int:
    size, _ = chain.head(conn)
    if size < floor:
        raise ChainShrank(f"{service}'s event chain has {size} links, fewer than the {floor} signed before: "
                          "its newest events were deleted (run `xinfang audit verify`)")
    last = kept.latest_own(conn, service)
    return size - (last.size + 1 if last else 0)


def on_checkpoint(uow: UnitOfWork, env: Envelope) -> None:
    kept.record(uow.conn, env.event_id, kept.Checkpoint.of(env.payload))


def with_checkpoints(subscriptions: list[Subscription], service: str) -> list[Subscription]:
    """The service's subscriptions, with the checkpoints of every other producing service kept."""
    for producer in PRODUCERS:
        if producer != service:
            subscriptions = with_event(subscriptions, topic_for(producer), kept.EVENT, on_checkpoint)
    return subscriptions


class Checkpointer:
    """The thread that signs: it looks at the chain's size every ``tick`` seconds (one indexed row)."""

    def __init__(self, db: Database, service: str, key: Ed25519PrivateKey, *, every_events: int,
                 every_seconds: float, tick: float = 1.0) -> None:
        self.db, self.service, self.key = db, service, key
        self.every_events, self.every_seconds, self.tick = every_events, every_seconds, tick
        self.signed = 0
        self.high = 0  # the largest size signed (or found signed at start): never signs below it
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with self.db.read() as c:
            last = kept.latest_own(c, self.service)
        self.high = last.size if last else 0
        self._thread = threading.Thread(target=self._run, name=f"{self.service}-checkpoints", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)

    def _sign(self, at_least: int) -> None:
        try:
            cp = sign(self.db, self.service, self.key, at_least=at_least, floor=self.high)
            if cp:
                self.signed += 1
                self.high = max(self.high, cp.size)
            self.last_error = None
        except ConcurrencyConflict:  # another replica signed meanwhile
            pass
        except ChainShrank as exc:  # stays in /health until someone looks; logged once
            if self.last_error != str(exc):
                log.error("%s", exc)
            self.last_error = str(exc)
        except Exception as exc:  # the database may be away for a while: try again next tick
            error = f"{type(exc).__name__}: {exc}"[:300]
            if self.last_error != error:
                log.warning("signing a checkpoint: %s", error)
            self.last_error = error

    def _run(self) -> None:
        since = time.monotonic()
        while not self._stop.wait(self.tick):
            due = time.monotonic() - since >= self.every_seconds
            before = self.signed
            self._sign(1 if due else self.every_events)
            if due or self.signed != before:
                since = time.monotonic()
