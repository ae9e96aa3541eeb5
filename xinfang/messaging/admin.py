"""Create and list topics explicitly: fixed partitions, unlimited retention, a .dlq per stream.

Never rely on auto-creation (tansu would make 4 partitions, Kafka its own default)."""
from __future__ import annotations

import time

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from xinfang.contracts import all_topics


def admin_client(bootstrap: str, timeout: float = 20.0) -> KafkaAdminClient:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return KafkaAdminClient(bootstrap_servers=bootstrap, client_id="xinfang-admin", request_timeout_ms=10000)
        except KafkaError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def ensure_topics(bootstrap: str, partitions: int = 4, replication: int = 1,
                  topics: list[str] | None = None) -> list[str]:
    """Create the missing topics; return the names created."""
    wanted = topics or all_topics()
    admin = admin_client(bootstrap)
    try:
        existing = set(admin.list_topics())
        missing = [t for t in wanted if t not in existing]
        created: list[str] = []
        for name in missing:
            try:
                admin.create_topics([NewTopic(name, partitions, replication,
                                              topic_configs={"retention.ms": "-1", "cleanup.policy": "delete"})])
                created.append(name)
            except TopicAlreadyExistsError:
                pass
        return created
    finally:
        admin.close()


def list_topics(bootstrap: str) -> dict[str, int]:
    """Topic name -> partition count."""
    admin = admin_client(bootstrap)
    try:
        out: dict[str, int] = {}
        for t in admin.describe_topics():
            out[t.get("name") or t.get("topic")] = len(t.get("partitions") or [])
        return dict(sorted(out.items()))
    finally:
        admin.close()
