"""What the services set differently on the two brokers they run on, in one place
(docs/architecture.md, "Brokers", says why for each).

``XINFANG_BROKER`` names the broker: ``tansu`` (the embedded default of ``xinfang up``) or
``kafka`` (Apache Kafka: the test fixture, ``xinfang up --broker kafka``, Compose, production).
"""
from __future__ import annotations

from dataclasses import dataclass, field

BROKERS = ("tansu", "kafka")


@dataclass(frozen=True)
class BrokerProfile:
    name: str
    # how long a fetch may wait for data: tansu answers only on its own polling cycle, after up to
    # half of it, so a short wait is the latency; Kafka answers as soon as one byte is there
    fetch_max_wait_ms: int
    # the outbox relay's KafkaProducer
    relay_producer: dict = field(default_factory=dict)
    # the Faust app's producer (dead letters only)
    faust_producer: dict = field(default_factory=dict)
    # the broker keeps nothing across a restart: the stores must be published again
    loses_topics_on_restart: bool = False


TANSU = BrokerProfile(
    "tansu",
    fetch_max_wait_ms=20,
    # no InitProducerId (no idempotent producer), and batches of more than one record misbehave:
    # one record per request, one request in flight, so order holds through retries
    relay_producer={"enable_idempotence": False, "acks": "all", "linger_ms": 0,
                    "max_in_flight_requests_per_connection": 1, "retries": 5},
    faust_producer={"producer_max_batch_size": 1, "producer_linger": 0.0},
    loses_topics_on_restart=True,
)

KAFKA = BrokerProfile(
    "kafka",
    fetch_max_wait_ms=500,
    # the idempotent producer: retries after a lost connection write nothing twice and keep the
    # order of a partition with up to 5 requests in flight; normal batching
    relay_producer={"enable_idempotence": True, "acks": "all", "linger_ms": 5,
                    "max_in_flight_requests_per_connection": 5, "batch_size": 256 * 1024},
    faust_producer={"producer_max_batch_size": 16384, "producer_linger": 0.005},
)

_PROFILES = {p.name: p for p in (TANSU, KAFKA)}


def profile(name: str | None = None) -> BrokerProfile:
    """The profile of ``name``, else of ``XINFANG_BROKER`` (default tansu)."""
    if name is None:
        from xinfang.config import settings

        name = settings().broker
    try:
        return _PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown broker {name!r}: choose one of {', '.join(BROKERS)} / "
                         f"未知的消息代理 {name!r}，可选：{', '.join(BROKERS)}") from None
