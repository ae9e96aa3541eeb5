"""The one shape of an aggregate: state folded from its own stored events, in order.

A subclass (a dataclass whose first field is the stream's id) says how each event changes it in
``when``, one ``case`` per event class. Commands are its other methods: they check the rules on
the current state and return new events, never change the state themselves; the caller appends
the events and, to go on deciding, applies them.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Self

from pydantic import BaseModel

from xinfang.contracts import Envelope, registry


class Aggregate:
    version: int  # the stream version of the last event applied

    def __init__(self, stream_id: str) -> None:  # pragma: no cover - dataclass subclasses define their own
        raise NotImplementedError

    @classmethod
    def from_events(cls, stream_id: str, events: Iterable[Envelope]) -> Self:
        aggregate = cls(stream_id)
        for env in events:
            aggregate.apply(env)
        return aggregate

    def apply(self, env: Envelope) -> None:
        """Fold one stored event (upcast to its current schema) into the state."""
        self.when(registry.payload(env), env)
        self.version = env.stream_version or self.version + 1

    def when(self, event: BaseModel, env: Envelope) -> Any:
        """How ``event`` changes the state; an event class not matched changes nothing."""
        raise NotImplementedError
