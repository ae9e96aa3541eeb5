"""Routing's events into intake's read models: which unit handles a case (so whose handlers may act
on it, and the status it reads), when it got it and signed for it (an acceptance waits for the
signing), the leader who owns it, and the divisions and units intake names. Routing's and
supervision's events of a case are also kept as heard, for the case's whole history."""
from __future__ import annotations

from services.intake import adapters
from xinfang.contracts import Envelope, encode, registry
from xinfang.contracts.events import (
    CaseAssigned,
    CaseObjected,
    CaseOwnedByLeader,
    CaseSignedFor,
    DivisionAdded,
    UnitAdded,
    UnitUpdated,
)
from xinfang.messaging.streams import applying_chain_seq
from xinfang.storage import UnitOfWork

ROUTING_EVENTS = (CaseAssigned, CaseSignedFor, CaseObjected, CaseOwnedByLeader, DivisionAdded, UnitAdded,
                  UnitUpdated)
ROUTING_CASE_EVENTS = frozenset({"CaseAssigned", "CaseSignedFor", "CaseObjected", "CaseOwnedByLeader"})
# every event supervision records of a case
SUPERVISION_CASE_EVENTS = frozenset({"DeadlineSet", "DeadlineWarned", "DeadlineExpired", "DeadlineMet",
                                     "SupervisionOrderIssued", "SupervisionOrderAnswered",
                                     "SupervisionOrderEscalated", "ReminderSent", "CollectiveVisitAlerted"})


def keep_heard(uow: UnitOfWork, env: Envelope) -> None:
    """Another service's event of a case, kept for the case's history with its link in its
    producer's chain (as the delivery's header says)."""
    adapters.record_heard(uow, env, encode(env).decode(), applying_chain_seq())


def on_supervision_event(uow: UnitOfWork, env: Envelope) -> None:
    keep_heard(uow, env)


def on_routing_event(uow: UnitOfWork, env: Envelope) -> None:
    if env.event_type in ROUTING_CASE_EVENTS:
        keep_heard(uow, env)
    match registry.payload(env):
        case CaseAssigned() as event:
            on_case_assigned(uow, env, event)
        case CaseSignedFor() as event:
            adapters.record_signing(uow, env.case_id, event.unit_id, env.occurred_at)
        case CaseObjected() as event:
            on_case_objected(uow, env.case_id, event)
        case CaseOwnedByLeader() as event:
            on_case_owned(uow, env.case_id, event)
        case DivisionAdded(code=code, name=name, level=level):
            adapters.add_division(uow, code, name, level)
        case UnitAdded(unit_id=unit_id, name=name):
            adapters.add_unit(uow, unit_id, name)
        case UnitUpdated(unit_id=unit_id, name=name) if name:
            adapters.rename_unit(uow, unit_id, name)


def on_case_assigned(uow: UnitOfWork, env: Envelope, event: CaseAssigned) -> None:
    """Routing assigned the case (for handling, or for review / re-review at the level above): the
    unit named is the one whose handlers may act, once it has signed for it; the clerk's list shows
    it, and a case still registered reads "assigned" (``domain.case_status``)."""
    adapters.record_assignment(uow, env.case_id, event.unit_id, event.co_unit_ids, env.occurred_at)


def on_case_objected(uow: UnitOfWork, case_id: str, event: CaseObjected) -> None:
    """The unit objected that the case is not its remit: it goes back to the dispatcher, and the
    objecting unit's handlers may no longer act on it until it is reassigned. Its status is left
    as it is."""
    adapters.withdraw_unit(uow, case_id, event.unit_id)


def on_case_owned(uow: UnitOfWork, case_id: str, event: CaseOwnedByLeader) -> None:
    """A leader took the case (包案): every later view shows it."""
    adapters.record_owner(uow, case_id, event.leader)
