"""Supervision's Kafka wiring: the case events that move its clocks, and which projection applies them."""
from functools import partial

from services.supervision import projections
from xinfang import staff
from xinfang.contracts import topic_for
from xinfang.messaging.streams import Subscription

INTAKE_EVENTS = frozenset({"CaseRegistered", "CaseAccepted", "CaseNotAccepted", "HandlingExtended", "CaseReplied",
                           "ReviewRequested", "CaseClosed"})
ROUTING_EVENTS = frozenset({"CaseAssigned", "CaseSignedFor", "CaseObjected"})


def subscriptions(ctx: projections.Context) -> list[Subscription]:
    return [
        Subscription(topic_for("intake"), partial(projections.on_case_event, ctx=ctx), INTAKE_EVENTS),
        Subscription(topic_for("routing"), partial(projections.on_routing_event, ctx=ctx),
                     ROUTING_EVENTS | {"CaseOwnedByLeader"}),
    ]


def restore_wiring():
    """What ``xinfang restore`` catches supervision up with (``xinfang.messaging.catchup``): its
    subscriptions as the runtime applies them (with routing's staff revocations), and the
    projection of its own events."""
    return staff.with_revocations(subscriptions(projections.Context())), projections.replay_own
