"""Event contracts shared by every service: the envelope, the event types and their upcasters."""
from xinfang.contracts.envelope import Envelope, new_envelope, decode, encode, DecodeError
from xinfang.contracts.registry import registry, UnknownEventType
from xinfang.contracts import events  # noqa: F401  (registers every event type)
from xinfang.contracts.topics import TOPICS, topic_for, dlq_topic, all_topics

__all__ = [
    "Envelope", "new_envelope", "decode", "encode", "DecodeError",
    "registry", "UnknownEventType", "events",
    "TOPICS", "topic_for", "dlq_topic", "all_topics",
]
