"""Intake's Kafka wiring: which topics it reads and which handler applies each event."""
from services.intake import handlers
from xinfang.contracts import topic_for
from xinfang.messaging.streams import Subscription

ROUTING = {"CaseAssigned": handlers.on_case_assigned, "CaseObjected": handlers.on_case_objected,
           "CaseOwnedByLeader": handlers.on_case_owned}


def _routing(uow, env):
    ROUTING.get(env.event_type, handlers.on_organisation_changed)(uow, env)


def subscriptions() -> list[Subscription]:
    return [Subscription(topic_for("routing"), _routing,
                         frozenset({*ROUTING, "DivisionAdded", "UnitAdded", "UnitUpdated"}))]
