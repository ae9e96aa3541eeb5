"""Registry of event types: name -> current version, schema, and upcasters from older versions.

An upcaster turns the payload of version n into the payload of version n+1. Reading an
event applies the chain up to the current version, so stored and published events of an
older version stay readable forever; writers only ever write the current version.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import BaseModel

Upcaster = Callable[[dict], dict]


class UnknownEventType(LookupError):
    pass


@dataclass
class EventSpec:
    name: str
    version: int
    model: type[BaseModel]
    producer: str
    upcasters: dict[int, Upcaster] = field(default_factory=dict)  # from-version -> function


class EventRegistry:
    def __init__(self) -> None:
        self._by_name: dict[str, EventSpec] = {}
        self._by_model: dict[type, EventSpec] = {}

    def event(self, name: str, *, version: int = 1, producer: str):
        """Class decorator registering a payload model as the current schema of ``name``."""

        def deco(model: type[BaseModel]) -> type[BaseModel]:
            if name in self._by_name:
                raise ValueError(f"event type {name} registered twice")
            spec = EventSpec(name, version, model, producer)
            self._by_name[name] = spec
            self._by_model[model] = spec
            model.event_type = name  # type: ignore[attr-defined]
            model.schema_version = version  # type: ignore[attr-defined]
            return model

        return deco

    def upcaster(self, name: str, from_version: int):
        def deco(fn: Upcaster) -> Upcaster:
            self._by_name[name].upcasters[from_version] = fn
            return fn

        return deco

    def spec(self, name: str) -> EventSpec:
        try:
            return self._by_name[name]
        except KeyError:
            raise UnknownEventType(f"unknown event type {name!r}") from None

    def spec_for_model(self, model: type) -> EventSpec:
        return self._by_model[model]

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def specs(self) -> list[EventSpec]:
        return [self._by_name[n] for n in self.names()]

    def upcast(self, env):
        """Return the envelope with its payload at the current schema version, validated."""
        spec = self.spec(env.event_type)
        if env.schema_version > spec.version:
            raise UnknownEventType(
                f"{env.event_type} v{env.schema_version} is newer than this code knows (v{spec.version})"
            )
        payload = dict(env.payload)
        version = env.schema_version
        while version < spec.version:
            step = spec.upcasters.get(version)
            if step is None:
                raise UnknownEventType(f"no upcaster for {env.event_type} from v{version}")
            payload = step(payload)
            version += 1
        validated = spec.model.model_validate(payload).model_dump(mode="json")
        if version == env.schema_version and validated == env.payload:
            return env
        return env.model_copy(update={"payload": validated, "schema_version": version})

    def payload(self, env) -> BaseModel:
        """The typed payload of an (already upcast) envelope."""
        return self.spec(env.event_type).model.model_validate(env.payload)


registry = EventRegistry()
