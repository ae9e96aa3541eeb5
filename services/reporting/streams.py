"""Reporting's Kafka wiring: every event of every case, from the three topics."""
from services.reporting import projections
from xinfang.contracts import topic_for
from xinfang.messaging.streams import Subscription


def subscriptions() -> list[Subscription]:
    return [Subscription(topic_for(producer), projections.on_event, projections.CONSUMED,
                         batch_handler=projections.on_events)
            for producer in ("intake", "routing", "supervision")]
