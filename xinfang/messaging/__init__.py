"""Kafka-protocol messaging: the embedded broker, topic administration, the outbox relay, the
Faust stream processors."""
