"""Intake's Kafka wiring: routing's topic into intake's projections, and supervision's events of
each case into the case's history."""
from services.intake import projections
from xinfang.contracts import registry, topic_for
from xinfang.messaging.streams import Subscription


def subscriptions() -> list[Subscription]:
    # the filter takes names: the other events of the topic are skipped before they are applied
    names = frozenset(registry.spec_for_model(event).name for event in projections.ROUTING_EVENTS)
    return [Subscription(topic_for("routing"), projections.on_routing_event, names),
            Subscription(topic_for("supervision"), projections.on_supervision_event,
                         projections.SUPERVISION_CASE_EVENTS)]
