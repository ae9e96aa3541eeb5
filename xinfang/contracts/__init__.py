"""Event contracts shared by every service: the envelope, the event types and their upcasters."""
from xinfang.contracts import events  # noqa: F401  (registers every event type)
from xinfang.contracts.envelope import DecodeError, Envelope, decode, encode, new_envelope
from xinfang.contracts.registry import UnknownEventType, registry
from xinfang.contracts.topics import TOPICS, all_topics, dlq_topic, topic_for

__all__ = [
    "Envelope", "new_envelope", "decode", "encode", "DecodeError",
    "registry", "UnknownEventType", "events",
    "TOPICS", "topic_for", "dlq_topic", "all_topics",
]
