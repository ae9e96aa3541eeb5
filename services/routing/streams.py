"""Routing's Kafka wiring: intake's case events in (registration, review requests, and the
acceptance / reply / closure that move a case through a unit's inbox), applied by the projections."""
from services.routing import projections
from xinfang.contracts import topic_for
from xinfang.messaging.streams import Subscription

INTAKE_EVENTS = frozenset({"CaseRegistered", "ReviewRequested", "CaseAccepted", "CaseNotAccepted", "CaseReplied",
                           "CaseClosed"})


def subscriptions() -> list[Subscription]:
    return [Subscription(topic_for("intake"), projections.on_intake_event, INTAKE_EVENTS)]


def restore_wiring():
    """What ``xinfang restore`` catches routing up with (``xinfang.messaging.catchup``): its
    subscriptions as the runtime applies them, and the projection of its own events."""
    return subscriptions(), projections.replay_own
