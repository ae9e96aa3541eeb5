"""Supervision's tables and SQL: the clocks (read model and state), the pending checkpoints the
ticker fires, supervision orders, collective-visit alerts (created by the migrations in
migrations/); the statements the consumer and the ticker run, and how supervision appends its
events to a case's stream."""
from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import Boolean, Column, Date, Float, Index, Integer, MetaData, String, Table, Text, UniqueConstraint

from services.supervision import domain
from xinfang.contracts import Envelope, new_envelope
from xinfang.contracts.events import CollectiveVisitAlerted
from xinfang.storage import ConcurrencyConflict, UnitOfWork
from xinfang.storage.tables import BigId
from xinfang.storage.types import UtcDateTime

metadata = MetaData()

# one row per case and stage: the latest clock (status running | met | stopped)
deadlines = Table(
    "deadlines", metadata,
    Column("case_id", String(64), primary_key=True),
    Column("stage", String(32), primary_key=True),
    Column("office", String(12), nullable=False),
    Column("starts_at", UtcDateTime(), nullable=False),
    Column("due_at", UtcDateTime(), nullable=False),
    Column("limit_days", Integer, nullable=False),
    Column("day_kind", String(16), nullable=False),
    Column("basis", String(80), nullable=False),
    Column("unit_id", String(64), nullable=True),
    Column("division_code", String(12), nullable=True),
    Column("status", String(16), nullable=False),
    Column("level", String(16), nullable=False),  # the last level published
    Column("met_at", UtcDateTime(), nullable=True),
    Column("on_time", Boolean, nullable=True),
    Column("warning", Text, nullable=True),
)

# what supervision knows of each case (the facts its clocks follow)
cases = Table(
    "sv_cases", metadata,
    Column("case_id", String(64), primary_key=True),
    Column("office", String(12), nullable=False),
    Column("division_code", String(12), nullable=True),
    Column("unit_id", String(64), nullable=True),
    Column("received_at", UtcDateTime(), nullable=True),
    Column("assigned_at", UtcDateTime(), nullable=True),
    Column("accepted_at", UtcDateTime(), nullable=True),
    Column("procedure", String(16), nullable=True),
    Column("extended_days", Integer, nullable=False),
    Column("closed", Boolean, nullable=False),
    Column("owner_leader", String(64), nullable=True),
    # set for a case imported from the old system: when it came in. Crossings before then are
    # history, kept in the clock's level but never published as news
    Column("imported_at", UtcDateTime(), nullable=True),
    Index("ix_sv_cases_owner", "owner_leader"),
)

# one pending crossing per (case, stage, level[, order]); the ticker fires fire_at <= now
checkpoints = Table(
    "checkpoints", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("case_id", String(64), nullable=False),
    Column("stage", String(32), nullable=False),
    Column("level", String(16), nullable=False),
    Column("ref", String(64), nullable=False),
    Column("share", Float, nullable=False),
    Column("fire_at", UtcDateTime(), nullable=False),
    Column("due_at", UtcDateTime(), nullable=False),
    UniqueConstraint("case_id", "stage", "level", "ref", name="uq_checkpoints_crossing"),
    Index("ix_checkpoints_fire_at", "fire_at"),
)

# the state of each SupervisionOrder (domain.py), written with its events
orders = Table(
    "supervision_orders", metadata,
    Column("order_id", String(36), primary_key=True),
    Column("case_id", String(64), nullable=False),
    Column("office", String(12), nullable=False),
    Column("unit_id", String(64), nullable=True),
    Column("requirement", Text, nullable=False),
    Column("reply_by", Date, nullable=False),
    Column("issued_by", String(64), nullable=False),
    Column("issuer_jurisdiction", String(12), nullable=False),
    Column("issued_at", UtcDateTime(), nullable=False),
    Column("status", String(16), nullable=False),  # open | answered | escalated
    Column("answer", Text, nullable=True),
    Column("answered_at", UtcDateTime(), nullable=True),
    Column("answered_by", String(64), nullable=True),
    Column("escalated_to", String(12), nullable=True),
    Column("escalated_at", UtcDateTime(), nullable=True),
)

alerts = Table(
    "alerts", metadata,
    Column("alert_id", String(36), primary_key=True),
    Column("case_id", String(64), nullable=False, unique=True),
    Column("office", String(12), nullable=False),
    Column("division_code", String(12), nullable=False),
    Column("headcount", Integer, nullable=False),
    Column("threshold", Integer, nullable=False),
    Column("level", String(16), nullable=False),
    Column("raised_at", UtcDateTime(), nullable=False),
)


def utcnow() -> datetime:
    return datetime.now(UTC)


# ------------------------------------------------------------------ appending our events

PRODUCER = "supervision"
SYSTEM = "system:supervision"


def append(uow: UnitOfWork, case_id: str, office: str, payload, *, actor: str = SYSTEM,
           occurred_at: datetime | None = None, causation: Envelope | None = None) -> Envelope:
    env = new_envelope(payload, case_id=case_id, office=office, actor=actor, producer=PRODUCER,
                       occurred_at=occurred_at, causation=causation)
    pending = getattr(uow, "sv_pending", None)
    if pending is not None:  # inside ``batched``: written together at the end
        pending.append(env)
        return env
    return _write(uow, case_id, [env])[0]


def _write(uow: UnitOfWork, case_id: str, envs: list[Envelope]) -> list[Envelope]:
    # the consumer, the ticker and the API all append to the case's stream: on a race the loser's
    # savepoint is rolled back and it appends after the winner's committed events
    for attempt in range(5):
        try:
            return uow.append(case_id, None, envs)
        except ConcurrencyConflict:
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


class batched:
    """Collect the events one consumed event causes and append them in one go (one version read)."""

    def __init__(self, uow: UnitOfWork, case_id: str) -> None:
        self.uow, self.case_id = uow, case_id

    def __enter__(self) -> None:
        self.uow.sv_pending = []  # type: ignore[attr-defined]

    def __exit__(self, exc_type, exc, tb) -> None:
        pending, self.uow.sv_pending = self.uow.sv_pending, None  # type: ignore[attr-defined]
        if exc_type is None and pending:
            _write(self.uow, self.case_id, pending)


# ------------------------------------------------------------------ the consumer's statements, built once
# Building a statement costs more than running it (SQLAlchemy derives each new statement's cache
# key), and the consumer runs about twenty per event: the hot ones are built here, their keys as
# parameters (named k_* so as not to clash with the columns an UPDATE sets).
_k_case, _k_stage = sa.bindparam("k_case"), sa.bindparam("k_stage")
_CASE = sa.select(cases).where(cases.c.case_id == _k_case)
_CASE_DEADLINES = sa.select(deadlines).where(deadlines.c.case_id == _k_case)
_INSERT_CASE = cases.insert()
_UPDATE_CASE = cases.update().where(cases.c.case_id == _k_case)
_UPDATE_CASE_DEADLINES = deadlines.update().where(deadlines.c.case_id == _k_case)
_UPDATE_DEADLINE = deadlines.update().where(deadlines.c.case_id == _k_case, deadlines.c.stage == _k_stage)
_INSERT_DEADLINE = deadlines.insert()
_PENDING = (sa.select(checkpoints).where(checkpoints.c.case_id == _k_case, checkpoints.c.stage == _k_stage,
                                          checkpoints.c.ref == "").order_by(checkpoints.c.fire_at))
_DELETE_CHECKPOINT = checkpoints.delete().where(checkpoints.c.id == sa.bindparam("k_id"))
_DELETE_CHECKPOINTS = checkpoints.delete().where(checkpoints.c.id.in_(sa.bindparam("k_ids", expanding=True)))
_INSERT_CHECKPOINTS = checkpoints.insert()


# ------------------------------------------------------------------ a case's clocks


def load_clocks(uow: UnitOfWork, case_id: str) -> tuple[domain.CaseClocks, dict | None, set[str]]:
    """The case's clocks, its row, and the stages it has a deadline row for (running or not)."""
    row = uow.execute(_CASE, {"k_case": case_id}).mappings().first()
    state = domain.CaseClocks(case_id)
    stages: set[str] = set()
    if row:
        state.received_at, state.assigned_at, state.accepted_at = row["received_at"], row["assigned_at"], row["accepted_at"]
        state.procedure, state.extended_days, state.closed = row["procedure"], row["extended_days"], row["closed"]
        # by the case alone (its primary key), the status checked here: with ``status = 'running'``
        # in the query SQLite chose the status index and read every running clock for each event
        for d in uow.execute(_CASE_DEADLINES, {"k_case": case_id}).mappings():
            stages.add(d["stage"])
            if d["status"] == "running":
                state.running[d["stage"]] = domain.Clock(d["stage"], d["starts_at"], d["due_at"], d["limit_days"],
                                                         d["day_kind"], d["basis"], d["warning"])
    return state, (dict(row) if row else None), stages


def save_clocks(uow: UnitOfWork, state: domain.CaseClocks, row: dict | None, office: str, **extra) -> dict:
    """Write the case's facts (and ``extra`` columns); returns its row as it now stands."""
    values = dict(received_at=state.received_at, assigned_at=state.assigned_at, accepted_at=state.accepted_at,
                  procedure=state.procedure, extended_days=state.extended_days, closed=state.closed, **extra)
    if row is None:
        row = dict(case_id=state.case_id, office=office, division_code=None, unit_id=None, owner_leader=None,
                   imported_at=None)
        row.update(values)
        uow.execute(_INSERT_CASE, row)
    else:
        changed = {k: v for k, v in values.items() if row.get(k) != v}
        row.update(values)
        if changed:  # an evaluation, say, moves no clock and changes nothing here
            uow.execute(_UPDATE_CASE, {"k_case": state.case_id, **changed})
    return row


def set_deadlines_scope(uow: UnitOfWork, case_id: str, unit_id: str | None, division_code: str | None) -> None:
    """The unit and division every clock of the case is listed under."""
    uow.execute(_UPDATE_CASE_DEADLINES, {"k_case": case_id, "unit_id": unit_id, "division_code": division_code})


def put_deadline(uow: UnitOfWork, case_id: str, stage: str, values: dict, *, exists: bool) -> None:
    """The stage's clock row as ``values`` say, updated in place or (``exists`` False, or gone) inserted."""
    if not exists or not uow.execute(_UPDATE_DEADLINE, {"k_case": case_id, "k_stage": stage, **values}).rowcount:
        uow.execute(_INSERT_DEADLINE, {"case_id": case_id, "stage": stage, **values})


def update_deadline(uow: UnitOfWork, case_id: str, stage: str, **values) -> None:
    uow.execute(_UPDATE_DEADLINE, {"k_case": case_id, "k_stage": stage, **values})


def pending_crossings(uow: UnitOfWork, case_id: str, stage: str) -> list:
    """The stage's crossings still to fire, in time order."""
    return uow.execute(_PENDING, {"k_case": case_id, "k_stage": stage}).mappings().all()


def add_checkpoints(uow: UnitOfWork, points: list[dict]) -> None:
    uow.execute(_INSERT_CHECKPOINTS, points)


def drop_checkpoints(uow: UnitOfWork, ids: list[int]) -> None:
    uow.execute(_DELETE_CHECKPOINTS, {"k_ids": ids})


def take_crossing(uow: UnitOfWork, case_id: str, stage: str, level: str) -> bool:
    """Delete the stage's checkpoint of ``level`` (a crossing fired before, replayed by a restore);
    False when there is none."""
    return bool(uow.execute(checkpoints.delete().where(
        checkpoints.c.case_id == case_id, checkpoints.c.stage == stage, checkpoints.c.level == level,
        checkpoints.c.ref == "")).rowcount)


def take_checkpoint(uow: UnitOfWork, checkpoint_id: int) -> bool:
    """Delete the checkpoint; False when someone else fired or dropped it first."""
    return bool(uow.execute(_DELETE_CHECKPOINT, {"k_id": checkpoint_id}).rowcount)


def set_owner_leader(uow: UnitOfWork, case_id: str, office: str, leader: str | None) -> None:
    n = uow.execute(cases.update().where(cases.c.case_id == case_id).values(owner_leader=leader)).rowcount
    if not n:
        uow.execute(cases.insert().values(case_id=case_id, office=office, extended_days=0, closed=False,
                                          owner_leader=leader))


# ------------------------------------------------------------------ the ticker's reads


def due_checkpoints(conn, now: datetime, limit: int) -> list[int]:
    """The ids of the checkpoints due by ``now``, oldest first: one index range scan on ``fire_at``."""
    return list(conn.execute(sa.select(checkpoints.c.id).where(checkpoints.c.fire_at <= now)
                             .order_by(checkpoints.c.fire_at).limit(limit)).scalars().all())


def checkpoint(uow: UnitOfWork, checkpoint_id: int) -> dict | None:
    cp = uow.execute(sa.select(checkpoints).where(checkpoints.c.id == checkpoint_id)).mappings().first()
    return dict(cp) if cp is not None else None


def office_of(uow: UnitOfWork, cp: dict) -> str | None:
    """The office of the checkpoint's case, else of its order."""
    office = uow.execute(sa.select(cases.c.office).where(cases.c.case_id == cp["case_id"])).scalar()
    if office is None:
        office = uow.execute(sa.select(orders.c.office).where(orders.c.order_id == cp["ref"])).scalar()
    return office


# ------------------------------------------------------------------ orders, reminders, alerts


def supervised_case(uow: UnitOfWork, case_id: str) -> domain.SupervisedCase | None:
    row = uow.execute(_CASE, {"k_case": case_id}).mappings().first()
    if row is None:
        return None
    return domain.SupervisedCase(row["case_id"], row["office"], row["unit_id"], row["closed"])


def order_row(order: domain.SupervisionOrder) -> dict:
    """The order's state as its row's columns."""
    return dict(order_id=order.order_id, case_id=order.case_id, office=order.office, unit_id=order.unit_id,
                requirement=order.requirement, reply_by=order.reply_by, issued_by=order.issued_by,
                issuer_jurisdiction=order.issuer_jurisdiction, issued_at=order.issued_at, status=order.status,
                answer=order.answer_text, answered_at=order.answered_at, answered_by=order.answered_by,
                escalated_to=order.escalated_to, escalated_at=order.escalated_at)


def load_order(uow: UnitOfWork, order_id: str) -> domain.SupervisionOrder | None:
    o = uow.execute(sa.select(orders).where(orders.c.order_id == order_id)).mappings().first()
    if o is None:
        return None
    return domain.SupervisionOrder(
        o["order_id"], unit_id=o["unit_id"], issuer_jurisdiction=o["issuer_jurisdiction"], case_id=o["case_id"],
        office=o["office"], requirement=o["requirement"], reply_by=o["reply_by"], issued_by=o["issued_by"],
        issued_at=o["issued_at"], status=o["status"], answer_text=o["answer"], answered_at=o["answered_at"],
        answered_by=o["answered_by"], escalated_to=o["escalated_to"], escalated_at=o["escalated_at"])


def insert_order(uow: UnitOfWork, order: domain.SupervisionOrder) -> None:
    """A newly issued order, with its escalation checkpoint at the end of its reply date."""
    assert order.reply_by is not None
    uow.execute(orders.insert().values(**order_row(order)))
    due = domain.order_due(order.reply_by)
    uow.execute(checkpoints.insert().values(case_id=order.case_id, stage="supervision", level="escalation",
                                            ref=order.order_id, share=1.0, fire_at=due, due_at=due))


def update_order(uow: UnitOfWork, order: domain.SupervisionOrder, before: dict) -> None:
    """Write the columns that changed since ``before`` (``order_row`` then), those only: an answer and
    an escalation of the same order may race, and each leaves the other's columns alone."""
    changed = {k: v for k, v in order_row(order).items() if before.get(k) != v}
    if changed:
        uow.execute(orders.update().where(orders.c.order_id == order.order_id).values(**changed))


def drop_escalation(uow: UnitOfWork, order_id: str) -> None:
    uow.execute(checkpoints.delete().where(checkpoints.c.stage == "supervision", checkpoints.c.ref == order_id))


def has_alert(uow: UnitOfWork, case_id: str) -> bool:
    return uow.execute(sa.select(alerts.c.alert_id).where(alerts.c.case_id == case_id)).first() is not None


def insert_alert(uow: UnitOfWork, case_id: str, office: str, alert: CollectiveVisitAlerted,
                 raised_at: datetime) -> None:
    uow.execute(alerts.insert().values(alert_id=alert.alert_id, case_id=case_id, office=office,
                                       division_code=alert.division_code, headcount=alert.headcount,
                                       threshold=alert.threshold, level=alert.level, raised_at=raised_at))
