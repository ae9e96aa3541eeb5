"""One topic per producing service, created explicitly; one dead-letter topic per stream."""
from __future__ import annotations

PRODUCERS = ("intake", "routing", "supervision")

TOPICS: dict[str, str] = {p: f"xinfang.{p}.events" for p in PRODUCERS}


def topic_for(producer: str) -> str:
    return TOPICS[producer]


def dlq_topic(topic: str) -> str:
    return f"{topic}.dlq"


def all_topics() -> list[str]:
    out: list[str] = []
    for t in TOPICS.values():
        out += [t, dlq_topic(t)]
    return out
