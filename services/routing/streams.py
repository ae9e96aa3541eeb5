"""Routing's Kafka wiring: intake's case events in (registration, review requests, and the
acceptance / reply / closure that move a case through a unit's inbox)."""
from services.routing import handlers
from xinfang.contracts import topic_for
from xinfang.messaging.streams import Subscription

INTAKE_EVENTS = frozenset({"CaseRegistered", "ReviewRequested", "CaseAccepted", "CaseNotAccepted", "CaseReplied",
                           "CaseClosed"})


def subscriptions() -> list[Subscription]:
    return [Subscription(topic_for("intake"), handlers.on_intake_event, INTAKE_EVENTS)]
