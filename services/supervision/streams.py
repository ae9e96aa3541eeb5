"""Supervision's Kafka wiring."""
from functools import partial

from services.supervision import handlers
from services.supervision.domain import DeadlineRules
from xinfang.contracts import topic_for
from xinfang.messaging.streams import Subscription


def subscriptions(rules: DeadlineRules) -> list[Subscription]:
    return [
        Subscription(topic_for("intake"), partial(handlers.on_case_registered, rules=rules),
                     frozenset({"CaseRegistered"})),
        Subscription(topic_for("routing"), handlers.on_case_assigned, frozenset({"CaseAssigned"})),
    ]
