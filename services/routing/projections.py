"""Routing's read models, kept from events: routing's own events, projected in the transaction that
appends them, and intake's events, applied by the consumer. A newly registered case is assigned
here by the routing rules, and a review request routed to the level above.
"""
from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from services.routing import adapters, domain
from services.routing.adapters import SqlDirectory, divisions, rules, units
from xinfang.contracts import Envelope, new_envelope, registry
from xinfang.contracts.events import (
    CaseAccepted,
    CaseAssigned,
    CaseClosed,
    CaseNotAccepted,
    CaseObjected,
    CaseOwnedByLeader,
    CaseRegistered,
    CaseReplied,
    CaseSignedFor,
    DivisionAdded,
    ReviewRequested,
    RoutingRuleAdded,
    RoutingRuleRetired,
    StaffAccessRevoked,
    UnitAdded,
    UnitUpdated,
)
from xinfang.staff import record as record_revocation
from xinfang.storage import ConcurrencyConflict, UnitOfWork

PRODUCER = "routing"
SYSTEM = "system:routing"
DEMO_SEEDER = "system:demo-seed"  # the actor of the demo seed's events: the rules it adds are the demo's


# ------------------------------------------------------------------ routing's own events


def update_row(uow: UnitOfWork, case_id: str, **values) -> None:
    """Change the case's row and recompute its inbox state, under the row's lock (the API and the
    consumer may change one case at the same time)."""
    row = dict(adapters.assignment_row(uow.conn, case_id, lock=True))
    row.update(values)
    values["inbox_state"] = domain.inbox_state(row["state"], row["stage"], row["intake_state"])
    adapters.update_assignment_row(uow.conn, case_id, values)


def project(uow: UnitOfWork, env: Envelope) -> None:
    """Routing's own case events into the assignment read model."""
    p = registry.payload(env)
    at = env.occurred_at
    by_user = None if env.actor.startswith("system:") else env.actor
    match p:
        case CaseAssigned():
            update_row(uow, env.case_id, unit_id=p.unit_id, co_unit_ids=json.dumps(p.co_unit_ids), state="to_sign",
                       stage=p.stage, mode=p.mode, rule=p.rule, rule_id=rule_id_of(p.rule), chosen_by=by_user,
                       reason=p.reason, assigned_at=at, state_since=at, objection_reason=None, queue_reason=None)
            adapters.replace_co_handling(uow.conn, env.case_id, p.co_unit_ids)
        case CaseSignedFor():
            update_row(uow, env.case_id, state="signed", state_since=at)
        case CaseObjected():
            update_row(uow, env.case_id, state="objected", state_since=at, objection_reason=p.reason)
        case CaseOwnedByLeader():
            update_row(uow, env.case_id, owner_leader=p.leader)


def rule_id_of(rule: str | None) -> str | None:
    """The id in a rule's description ("rule <id>: …"); None for a fallback or no rule."""
    if rule and rule.startswith("rule "):
        return rule[5:].split(":", 1)[0]
    return None


def append(uow: UnitOfWork, case_id: str, office: str, expected: int, payload, actor: str,
           occurred_at: datetime | None = None, causation: Envelope | None = None) -> Envelope:
    """Append one of routing's case events and project it, in the caller's transaction."""
    env = new_envelope(payload, case_id=case_id, office=office, actor=actor, producer=PRODUCER,
                       occurred_at=occurred_at, causation=causation)
    [stored] = uow.append(case_id, expected, [env])
    project(uow, stored)
    return stored


def project_org(uow: UnitOfWork, env: Envelope) -> None:
    """An organisation event into the divisions, units and rules tables."""
    p = registry.payload(env)
    match p:
        case DivisionAdded():
            uow.execute(divisions.insert().values(code=p.code, name=p.name, level=p.level, parent=p.parent,
                                                  demo=p.demo))
        case UnitAdded():
            uow.execute(units.insert().values(unit_id=p.unit_id, name=p.name, kind=p.kind,
                                              division_code=p.division_code, active=True, demo=p.demo))
        case UnitUpdated():
            values = {k: v for k, v in (("name", p.name), ("active", p.active)) if v is not None}
            if values:
                uow.execute(units.update().where(units.c.unit_id == p.unit_id).values(**values))
        case RoutingRuleAdded():
            uow.execute(rules.insert().values(
                rule_id=p.rule_id, division_prefix=p.division_prefix, category_prefix=p.category_prefix,
                unit_id=p.unit_id, note=p.note, active=True, added_at=env.occurred_at, added_by=env.actor,
                demo=env.actor == DEMO_SEEDER))
        case RoutingRuleRetired():
            uow.execute(rules.update().where(rules.c.rule_id == p.rule_id)
                        .values(active=False, retired_at=env.occurred_at, retired_by=env.actor))


def append_org(uow: UnitOfWork, stream: str, payloads: list, actor: str) -> None:
    """Append organisation events to a county's stream and project them, in the caller's transaction."""
    envs = [new_envelope(p, case_id=stream, office=stream[4:10] + "000000", actor=actor, producer=PRODUCER)
            for p in payloads]
    for env in uow.append(stream, None, envs):
        project_org(uow, env)


def replay_own(uow: UnitOfWork, env: Envelope) -> bool:
    """One of routing's own events, published before and just stored again by a restore's catch-up
    (``xinfang.messaging.catchup``), into the read models; False while its case's row is not there
    yet (intake's registration, applied further on, writes it)."""
    p = registry.payload(env)
    match p:
        case DivisionAdded() | UnitAdded() | UnitUpdated() | RoutingRuleAdded() | RoutingRuleRetired():
            project_org(uow, env)
        case StaffAccessRevoked():
            # tokens before it stay refused, and a disabled account stays disabled; a changed
            # password is not in any event: `xinfang restore` names the accounts to set again
            record_revocation(uow.conn, p.username, env.occurred_at)
            if p.reason == "disabled":
                adapters.update_user(uow.conn, p.username, active=False)
        case CaseAssigned() | CaseSignedFor() | CaseObjected() | CaseOwnedByLeader():
            if adapters.assignment_row(uow.conn, env.case_id) is None:
                return False
            project(uow, env)
        case _:
            return False
    return True


# ------------------------------------------------------------------ consumed: intake's events


def _retryable(fn):
    """A concurrent writer on the same case: let the stream processor retry the event."""
    def wrapper(uow: UnitOfWork, env: Envelope) -> None:
        try:
            fn(uow, env)
        except ConcurrencyConflict as exc:
            if isinstance(exc.__cause__, IntegrityError):
                raise exc.__cause__ from exc
            raise
    wrapper.__name__ = fn.__name__
    return wrapper


@_retryable
def on_intake_event(uow: UnitOfWork, env: Envelope) -> None:
    p = registry.payload(env)
    match p:
        case CaseRegistered():
            on_case_registered(uow, env)
        case ReviewRequested():
            on_review_requested(uow, env, p)
        case CaseAccepted() | CaseNotAccepted() | CaseReplied() | CaseClosed():
            if adapters.assignment_row(uow.conn, env.case_id) is None:
                return
            update_row(uow, env.case_id, intake_state="accepted" if isinstance(p, CaseAccepted) else "done")


def on_case_registered(uow: UnitOfWork, env: Envelope) -> None:
    """A new case: assign it by the routing rules, once. A republished registration finds its row
    and changes nothing; rules changed since never re-route it. A live case no rule matches waits
    in the dispatcher's queue (the petition office decides who handles it, within its assignment
    limit); a case imported from the old system was handled there, and goes to the fallback."""
    if adapters.assignment_row(uow.conn, env.case_id) is not None:
        return  # the row and the assignment are written together: the case was routed already
    reg: CaseRegistered = registry.payload(env)
    d = SqlDirectory(uow.conn)
    decision = domain.choose_unit(reg.division_code, reg.category_code,
                                  d.rules_matching(reg.division_code, reg.category_code), d)
    row = dict(case_id=env.case_id, office=env.office, division_code=reg.division_code,
               category_code=reg.category_code, unit_id=None, rule=None, assigned_at=None, state="unassigned",
               stage="handling", co_unit_ids="[]", state_since=env.occurred_at, queue_reason=decision.rule,
               intake_state="open", inbox_state=None, summary=reg.summary[:200])
    if decision.unit_id and decision.rule_id is None and not reg.imported:
        row["queue_reason"] = domain.no_rule(reg.division_code, reg.category_code)
    elif decision.unit_id:
        # a live case is assigned now, whenever the letter arrived. A case imported from the old
        # system is deemed assigned and signed for when it was registered there: its unit has held
        # it since, and its later steps (acceptance, reply …) follow from the import in the past
        at = env.occurred_at if reg.imported else env.recorded_at
        made = [CaseAssigned(unit_id=decision.unit_id, mode="assign", rule=decision.rule, imported=reg.imported)]
        if reg.imported:
            made.append(CaseSignedFor(unit_id=decision.unit_id))
        uow.append(env.case_id, 0, [new_envelope(p, case_id=env.case_id, office=env.office, actor=SYSTEM,
                                                 producer=PRODUCER, occurred_at=at, causation=env) for p in made])
        state = "signed" if reg.imported else "to_sign"
        row.update(unit_id=decision.unit_id, rule=decision.rule, rule_id=decision.rule_id, mode="assign",
                   assigned_at=at, state=state, state_since=at, queue_reason=None,
                   inbox_state=domain.inbox_state(state, "handling", "open"))
    adapters.insert_assignment_row(uow.conn, row)


def on_review_requested(uow: UnitOfWork, env: Envelope, p: ReviewRequested) -> None:
    """复查 / 复核: to the petition office of the level above the unit that replied."""
    row = adapters.assignment_row(uow.conn, env.case_id, lock=True)
    if row is None:
        return
    history = uow.load(env.case_id)
    if any(e.causation_id == env.event_id for e in history):
        return  # this request was routed already
    agg = domain.Assignment.from_events(env.case_id, history)
    d = SqlDirectory(uow.conn)
    replying = d.unit(agg.unit_id) if agg.unit_id else None
    decision = domain.review_office(replying, p.level, d)
    at = max(env.occurred_at, agg.last_at) if agg.last_at else env.occurred_at
    if decision.unit_id is None:
        update_row(uow, env.case_id, state="unassigned", stage=p.level, intake_state="open", state_since=at,
                   queue_reason=decision.rule)
        return
    update_row(uow, env.case_id, intake_state="open")
    append(uow, env.case_id, row["office"], agg.version,
           CaseAssigned(unit_id=decision.unit_id, mode="forward", rule=decision.rule, reason=p.reason,
                        previous_unit_id=agg.unit_id, stage=p.level),
           SYSTEM, occurred_at=at, causation=env)
