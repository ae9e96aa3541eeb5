"""The one envelope every event travels in, on Kafka and in each service's store.

The Kafka key is the case id, so all events of one case stay in order on one partition.
Times are UTC ISO-8601. ``payload`` is validated against the schema registered for
(``event_type``, ``schema_version``) and upcast to the current version when read.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from xinfang.ids import new_id


class DecodeError(ValueError):
    """A message that is not a valid event envelope (goes to the dead-letter topic)."""


def utcnow() -> datetime:
    return datetime.now(UTC)


class Envelope(BaseModel):
    model_config = ConfigDict(frozen=True)

    event_id: str = Field(default_factory=new_id)
    event_type: str
    schema_version: int
    case_id: str
    office: str = Field(description="12-digit division code of the office whose jurisdiction the case is in")
    actor: str
    producer: str = Field(description="the service that recorded the event")
    stream_version: int = 0
    occurred_at: datetime
    recorded_at: datetime = Field(default_factory=utcnow)
    correlation_id: str
    causation_id: str | None = None
    payload: dict[str, Any]

    @field_validator("occurred_at", "recorded_at")
    @classmethod
    def _aware_utc(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("timestamps must carry a time zone")
        return v.astimezone(UTC)

    @property
    def key(self) -> bytes:
        return self.case_id.encode()


def new_envelope(
    payload: BaseModel,
    *,
    case_id: str,
    office: str,
    actor: str,
    producer: str,
    occurred_at: datetime | None = None,
    correlation_id: str | None = None,
    causation: Envelope | None = None,
) -> Envelope:
    """Wrap a payload model (an instance of a registered event class) in a new envelope."""
    from xinfang.contracts.registry import registry

    spec = registry.spec_for_model(type(payload))
    event_id = new_id()
    return Envelope(
        event_id=event_id,
        event_type=spec.name,
        schema_version=spec.version,
        case_id=case_id,
        office=office,
        actor=actor,
        producer=producer,
        occurred_at=occurred_at or utcnow(),
        correlation_id=correlation_id or (causation.correlation_id if causation else event_id),
        causation_id=causation.event_id if causation else None,
        payload=payload.model_dump(mode="json"),
    )


def encode(envelope: Envelope) -> bytes:
    return envelope.model_dump_json().encode("utf-8")


def decode(raw: bytes | str | dict) -> Envelope:
    """Parse, validate and upcast an envelope. Raises DecodeError with the reason."""
    from xinfang.contracts.registry import UnknownEventType, registry

    try:
        data = raw if isinstance(raw, dict) else json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DecodeError(f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise DecodeError("envelope must be a JSON object")
    try:
        env = Envelope.model_validate(data)
    except ValidationError as exc:
        raise DecodeError(f"invalid envelope: {_errors(exc)}") from exc
    try:
        return registry.upcast(env)
    except UnknownEventType as exc:
        raise DecodeError(str(exc)) from exc
    except ValidationError as exc:
        raise DecodeError(f"invalid payload of {env.event_type} v{env.schema_version}: {_errors(exc)}") from exc


def _errors(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
