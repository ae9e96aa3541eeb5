"""Routing's queries over its read models: a case's assignment, a unit's inbox, the cases a leader
owns, the dispatcher's queue, the routing rules (with a preview) and the organisation."""
from __future__ import annotations

import json

import sqlalchemy as sa

from services.routing import adapters, domain
from services.routing.adapters import SqlDirectory, assignments, co_handling, divisions, rules, units
from xinfang.contracts import registry
from xinfang.contracts.events import CaseAssigned, CaseOwnedByLeader
from xinfang.errors import InvalidInput, NotFound
from xinfang.security import Principal, require_role
from xinfang.storage import Database, ReadView

INBOX_STATES = ("to_sign", "to_accept", "in_hand", "objected")
QUEUE_KINDS = ("unassigned", "returned", "review")  # the dispatcher's queue: kinds of work


def not_found(case_id: str) -> NotFound:
    return NotFound(f"no assignment for case {case_id}", "该信访事项尚未交办、不存在或您无权查看")


def visible(user: Principal, row) -> bool:
    """Whether ``user`` may see the case of this assignment row."""
    return domain.may_see(user, row["office"], row["unit_id"], json.loads(row["co_unit_ids"]))


# ------------------------------------------------------------------ cases


def get_assignment(db: Database, user: Principal, case_id: str) -> dict:
    # a read connection: on SQLite the writer's engine makes a read wait behind the consumer's batches
    with ReadView(db) as uow:
        row = adapters.assignment_row(uow.conn, case_id)
        if row is None or not visible(user, row):
            raise not_found(case_id)
        history = uow.load(case_id)
        names = dict(uow.execute(sa.select(units.c.unit_id, units.c.name)).all())
    out = []
    for e in history:
        p = registry.payload(e)
        out.append({"at": e.occurred_at, "event": e.event_type, "unit_id": getattr(p, "unit_id", None),
                    "by": e.actor, "rule": getattr(p, "rule", None),
                    "reason": getattr(p, "reason", None) or getattr(p, "note", None),
                    "backdated": e.payload.get("backdated"),  # a step recorded late (补录): why, who, when
                    **({"stage": p.stage, "co_unit_ids": p.co_unit_ids, "previous_unit_id": p.previous_unit_id,
                        "mode": p.mode} if isinstance(p, CaseAssigned) else {}),
                    **({"leader": p.leader} if isinstance(p, CaseOwnedByLeader) else {})})
    chosen = ({"user": row["chosen_by"], "reason": row["reason"], "rule": row["rule"]} if row["chosen_by"]
              else {"rule": row["rule"], "reason": row["reason"]} if row["unit_id"] else
              {"rule": None, "reason": row["queue_reason"]})
    return {
        "case_id": case_id, "unit_id": row["unit_id"], "unit_name": names.get(row["unit_id"]),
        "co_unit_ids": json.loads(row["co_unit_ids"]), "state": row["state"], "stage": row["stage"],
        "mode": row["mode"], "rule": row["rule"], "rule_id": row["rule_id"], "chosen_by": chosen,
        "assigned_at": row["assigned_at"], "owner_leader": row["owner_leader"],
        "objection_reason": row["objection_reason"], "history": out,
    }


def inbox(db: Database, user: Principal, unit_id: str, state: str | None, limit: int, offset: int) -> dict:
    """A unit's inbox (待签收、待受理、办理中、已提异议) with counts, and apart from them the open
    cases it is asked to help with (``co_handling``, 协办), each with its lead unit. Without a
    state (全部) it lists both: all the unit's work, what its counts add up to."""
    with db.read() as c:
        unit = SqlDirectory(c).unit(unit_id)
        if not domain.may_read_inbox(user, unit):
            raise NotFound(f"no unit {unit_id}", f"单位 {unit_id} 不存在")
        # another unit's inbox shows only the cases in the reader's jurisdiction
        in_office = ([assignments.c.office.startswith(user.prefix)]
                     if user.role != domain.UNIT_ROLE and user.unit_id != unit_id else [])
        own = sa.and_(assignments.c.unit_id == unit_id, assignments.c.inbox_state.is_not(None))
        helping = sa.and_(assignments.c.case_id.in_(sa.select(co_handling.c.case_id)
                                                    .where(co_handling.c.unit_id == unit_id)),
                          assignments.c.intake_state != "done")
        counts = dict(c.execute(sa.select(assignments.c.inbox_state, sa.func.count())
                                .where(own, *in_office).group_by(assignments.c.inbox_state)).all())
        counts["co_handling"] = c.execute(sa.select(sa.func.count()).select_from(assignments)
                                          .where(helping, *in_office)).scalar()
        if state == "co_handling":
            q = sa.select(assignments).where(helping, *in_office)
        elif state:
            q = sa.select(assignments).where(own, assignments.c.inbox_state == state, *in_office)
        else:
            q = sa.select(assignments).where(sa.or_(own, helping), *in_office)
        rows = c.execute(q.order_by(assignments.c.state_since, assignments.c.case_id)
                         .limit(limit).offset(offset)).mappings().all()

        def state_of(r) -> str:
            # a case the unit leads has its own state; otherwise the unit only helps with it
            return r["inbox_state"] if r["unit_id"] == unit_id and r["inbox_state"] else "co_handling"

        d = SqlDirectory(c)
        leads = {u: d.unit_name(u) for u in {r["unit_id"] for r in rows if state_of(r) == "co_handling"}}
    counts = {s: counts.get(s, 0) for s in (*INBOX_STATES, "co_handling")}
    return {
        "unit_id": unit_id, "counts": counts, "limit": limit, "offset": offset,
        # the rows this state has (the pager's); without one, all of them, the co-handled included
        "total": counts[state] if state else sum(counts.values()),
        "items": [{"case_id": r["case_id"], "state": state_of(r), "lead_unit_id": r["unit_id"],
                   "lead_unit_name": leads.get(r["unit_id"]), "assigned_at": r["assigned_at"],
                   "since": r["state_since"], "stage": r["stage"], "division_code": r["division_code"],
                   "category_code": r["category_code"], "summary": r["summary"], "owner_leader": r["owner_leader"],
                   "co_unit_ids": json.loads(r["co_unit_ids"])} for r in rows],
    }


def owned_cases(db: Database, user: Principal, leader: str | None, limit: int, offset: int) -> dict:
    """包案: the cases a leader has taken personal charge of, in the caller's jurisdiction; those still
    open first, each group longest in its state first. A leader sees their own; a supervisor,
    dispatcher or admin names the leader."""
    leader = domain.owned_cases_leader(user, leader)
    scope = [assignments.c.owner_leader == leader, assignments.c.office.startswith(user.prefix)]
    done = sa.case((assignments.c.intake_state == "done", 1), else_=0)
    with db.read() as c:
        counts = dict(c.execute(sa.select(done, sa.func.count()).where(*scope).group_by(done)).all())
        rows = c.execute(sa.select(assignments).where(*scope)
                         .order_by(done, assignments.c.state_since, assignments.c.case_id)
                         .limit(limit).offset(offset)).mappings().all()
    return {
        "leader": leader, "counts": {"open": counts.get(0, 0), "done": counts.get(1, 0)},
        "total": counts.get(0, 0) + counts.get(1, 0), "limit": limit, "offset": offset,
        "items": [{"case_id": r["case_id"], "unit_id": r["unit_id"], "state": r["state"], "stage": r["stage"],
                   "inbox_state": r["inbox_state"], "done": r["intake_state"] == "done", "since": r["state_since"],
                   "assigned_at": r["assigned_at"], "division_code": r["division_code"],
                   "category_code": r["category_code"], "summary": r["summary"]} for r in rows],
    }


def queue_kind():
    """The kind of work a queued row is (its ``state`` in the queue): returned by its unit, a
    review arriving, or a new case no rule routes."""
    return sa.case((assignments.c.state == "objected", "returned"),
                   (assignments.c.stage != "handling", "review"), else_="unassigned")


def queued(user: Principal):
    """The dispatcher's work: a case nobody holds, a case its unit returned (异议退回), and a review
    or re-review request (复查、复核) routing sent to a petition office of the caller's jurisdiction,
    which hands it on to the organ that reviews (or could not send anywhere). 上级交办 (cases from
    above) would be a fourth kind: intake's cases do not say where they came from yet."""
    review_offices = sa.select(units.c.unit_id).where(units.c.kind == "petition_office",
                                                      units.c.division_code.startswith(user.prefix))
    arriving_review = sa.and_(assignments.c.stage != "handling", assignments.c.chosen_by.is_(None),
                              assignments.c.unit_id.in_(review_offices))
    # the states first, so the state index narrows the rows before the rest is looked at
    return sa.and_(assignments.c.state.in_(("unassigned", "objected", "to_sign")),
                   assignments.c.office.startswith(user.prefix),
                   sa.or_(assignments.c.state != "to_sign", arriving_review))


def queue(db: Database, user: Principal, state: str | None, limit: int, offset: int) -> dict:
    """The dispatcher's queue, by kind (``QUEUE_KINDS``), each case with a suggested unit."""
    require_role(user, *domain.QUEUE_ROLES)
    scope = queued(user)
    kind = queue_kind()
    with db.read() as c:
        d = SqlDirectory(c)
        counts = dict(c.execute(sa.select(kind, sa.func.count()).where(scope).group_by(kind)).all())
        rows = c.execute(sa.select(assignments, kind.label("kind"))
                         .where(scope, *([kind == state] if state else []))
                         .order_by(assignments.c.state_since, assignments.c.case_id)
                         .limit(limit).offset(offset)).mappings().all()
        items = [{"case_id": r["case_id"], "state": r["kind"], "since": r["state_since"], "stage": r["stage"],
                  "unit_id": r["unit_id"], "suggested": _suggestion(d, r),
                  "objection_reason": r["objection_reason"], "reason": r["queue_reason"] or r["rule"],
                  "division_code": r["division_code"], "category_code": r["category_code"],
                  "summary": r["summary"], "owner_leader": r["owner_leader"]} for r in rows]
    by_kind = {k: counts.get(k, 0) for k in QUEUE_KINDS}
    return {"counts": by_kind, "total": by_kind[state] if state else sum(by_kind.values()), "limit": limit,
            "offset": offset, "items": items}


def _suggestion(d: SqlDirectory, r) -> dict:
    """The unit the rules would give a queued case: not the one that returned it; for a review at a
    petition office, the unit the rules name at that office's level (the office itself excluded)."""
    division, exclude = r["division_code"], None
    if r["kind"] == "returned":
        exclude = r["unit_id"]
    elif r["kind"] == "review" and r["unit_id"] and (office := d.unit(r["unit_id"])) is not None:
        division, exclude = office.division_code, office.unit_id
    s = domain.choose_unit(division, r["category_code"], d.rules_matching(division, r["category_code"]), d,
                           exclude=exclude)
    return {"unit_id": s.unit_id, "rule": s.rule}


# ------------------------------------------------------------------ routing rules


def rule_view(r) -> dict:
    return {k: r[k] for k in ("rule_id", "division_prefix", "category_prefix", "unit_id", "note", "active",
                              "added_at", "added_by", "retired_at", "retired_by")} | {
        "rule": adapters.rule_of(r).describe()}


def _rule_visible(user: Principal, division_prefix_: str) -> bool:
    """A rule concerns the caller if it lies in their jurisdiction or covers it."""
    return division_prefix_.startswith(user.prefix) or user.prefix.startswith(division_prefix_)


def list_rules(db: Database, user: Principal, include_retired: bool = False) -> list[dict]:
    q = sa.select(rules).order_by(rules.c.division_prefix, rules.c.category_prefix, rules.c.added_at)
    if not include_retired:
        q = q.where(rules.c.active.is_(True))
    with db.read() as c:
        return [rule_view(r) for r in c.execute(q).mappings() if _rule_visible(user, r["division_prefix"])]


def preview(db: Database, user: Principal, division_code: str, category_code: str) -> dict:
    """Which unit a case of this division and category would get now, and by which rule."""
    from xinfang.reference import category_leaf

    if not user.in_jurisdiction(division_code):
        raise InvalidInput(f"{division_code} is outside your jurisdiction", f"{division_code} 不在您的管辖范围内",
                           field="division_code")
    if category_leaf(category_code) is None:
        raise InvalidInput(f"unknown category {category_code}", f"分类代码 {category_code} 不存在", field="category_code")
    with db.read() as c:
        d = SqlDirectory(c)
        if not d.division_exists(division_code):
            raise InvalidInput(f"unknown division {division_code}", f"行政区划 {division_code} 不存在",
                               field="division_code")
        decision = domain.choose_unit(division_code, category_code, d.rules_matching(division_code, category_code), d)
        return {"unit_id": decision.unit_id, "unit_name": d.unit_name(decision.unit_id),
                "rule_id": decision.rule_id, "rule": decision.rule}


# ------------------------------------------------------------------ the organisation


def list_divisions(db: Database, user: Principal) -> list[dict]:
    with db.read() as c:
        rows = c.execute(sa.select(divisions).where(divisions.c.code.startswith(user.prefix))
                         .order_by(divisions.c.code)).mappings().all()
    return [dict(r) for r in rows]


def list_units(db: Database, user: Principal) -> list[dict]:
    q = sa.select(units).order_by(units.c.unit_id)
    if user.role == domain.UNIT_ROLE:
        q = q.where(units.c.unit_id == user.unit_id)
    else:
        q = q.where(units.c.division_code.startswith(user.prefix))
    with db.read() as c:
        return [dict(r) for r in c.execute(q).mappings().all()]


def _ancestors(code: str) -> list[str]:
    """The divisions above ``code`` (12 digits: province, city, county, township)."""
    return [code[:keep] + "0" * (12 - keep) for keep in (2, 4, 6, 9) if code[:keep] + "0" * (12 - keep) != code]


def names(db: Database, user: Principal, unit_ids: list[str], usernames: list[str]) -> dict:
    """The names a case file's history shows for the units and the staff it mentions: a unit's name,
    a user's display name. Only those of the caller's jurisdiction and of the levels above it (a
    township's users read the county's names, never another township's)."""
    def within(column):
        return sa.or_(column.startswith(user.prefix), column.in_(_ancestors(user.jurisdiction)))
    with db.read() as c:
        found_units = c.execute(sa.select(units.c.unit_id, units.c.name)
                                .where(units.c.unit_id.in_(unit_ids), within(units.c.division_code))).all()
        found_staff = c.execute(sa.select(adapters.users.c.username, adapters.users.c.display_name)
                                .where(adapters.users.c.username.in_(usernames),
                                       within(adapters.users.c.jurisdiction))).all()
    return {"units": {u: name for u, name in found_units},
            "staff": {u: display or u for u, display in found_staff}}
