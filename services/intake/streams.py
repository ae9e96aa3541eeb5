"""Intake's Kafka wiring: which topics it reads and which handler applies each event."""
from services.intake import handlers
from xinfang.contracts import topic_for
from xinfang.messaging.streams import Subscription


def _routing(uow, env):
    if env.event_type == "CaseAssigned":
        handlers.on_case_assigned(uow, env)
    else:
        handlers.on_organisation_changed(uow, env)


def subscriptions() -> list[Subscription]:
    return [Subscription(topic_for("routing"), _routing,
                         frozenset({"CaseAssigned", "DivisionAdded", "UnitAdded", "UnitUpdated"}))]
