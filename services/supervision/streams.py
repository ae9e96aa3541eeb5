"""Supervision's Kafka wiring: the case events that move its clocks."""
from functools import partial

from services.supervision import handlers
from xinfang.contracts import topic_for
from xinfang.messaging.streams import Subscription

INTAKE_EVENTS = frozenset({"CaseRegistered", "CaseAccepted", "CaseNotAccepted", "HandlingExtended", "CaseReplied",
                           "ReviewRequested", "CaseClosed"})
ROUTING_EVENTS = frozenset({"CaseAssigned", "CaseSignedFor", "CaseObjected"})


def _routing(uow, env, ctx):
    if env.event_type == "CaseOwnedByLeader":
        handlers.on_case_owned(uow, env)
    else:
        handlers.on_case_event(uow, env, ctx)


def subscriptions(ctx: handlers.Context) -> list[Subscription]:
    return [
        Subscription(topic_for("intake"), partial(handlers.on_case_event, ctx=ctx), INTAKE_EVENTS),
        Subscription(topic_for("routing"), partial(_routing, ctx=ctx), ROUTING_EVENTS | {"CaseOwnedByLeader"}),
    ]
