"""Intake's own tables beside the kernel ones, and every SQL statement on them: the case list (an
inline projection written in the same transaction as the events), petitioners' personal data,
encrypted, and routing's divisions and units as intake needs them.

``conn`` below is anything that executes a statement: a UnitOfWork, a ReadView."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import Boolean, Column, Index, Integer, MetaData, String, Table, Text, UniqueConstraint

from services.intake import domain
from xinfang.errors import NotFound
from xinfang.security import Principal, division_prefix
from xinfang.storage.tables import event_chain, events
from xinfang.storage.types import UtcDateTime
from xinfang.workdays import local_date

if TYPE_CHECKING:
    from services.intake.views import CaseFilter

metadata = MetaData()

cases = Table(
    "cases", metadata,
    Column("case_id", String(64), primary_key=True),
    Column("tracking_code", String(20), nullable=False, unique=True),
    Column("status", String(32), nullable=False),   # domain.case_status: routing's assignment shows here
    Column("office", String(12), nullable=False),
    Column("division_code", String(12), nullable=False),
    Column("category_code", String(8), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("headcount", Integer, nullable=False),
    Column("summary", Text, nullable=False),
    Column("request", Text, nullable=False),
    Column("received_at", UtcDateTime(), nullable=False),
    Column("registered_at", UtcDateTime(), nullable=False),
    Column("unit_id", String(64), nullable=True),
    Column("version", Integer, nullable=False),
    Column("flags", Text, nullable=False, default=""),      # space-separated
    Column("repeat_of", String(64), nullable=True),
    Column("final", Boolean, nullable=False, default=False),
    Column("updated_at", UtcDateTime(), nullable=True),
    Column("owner_leader", String(64), nullable=True),      # 包案: the leader who took the case
    Column("co_unit_ids", Text, nullable=False, default=""),  # 协办 units, space-separated
    Column("assigned_at", UtcDateTime(), nullable=True),     # routing's CaseAssigned (NULL: not known)
    Column("signed_at", UtcDateTime(), nullable=True),       # the unit's CaseSignedFor of that assignment
)

petitioners = Table(
    "petitioners", metadata,
    Column("petitioner_id", String(36), primary_key=True),
    Column("case_id", String(64), nullable=False),
    Column("name", String(100), nullable=False),
    Column("id_type", String(32), nullable=False),
    Column("id_number_enc", Text, nullable=False),
    Column("id_number_hash", String(64), nullable=False),
    Column("id_number_masked", String(32), nullable=False),
    Column("phone_enc", Text, nullable=True),
    Column("phone_masked", String(32), nullable=True),
    Column("address_enc", Text, nullable=True),
    Column("pii_key_id", String(16), nullable=True),  # which PII key wrote this row (NULL: before key ids)
)

# routing's organisation, as intake needs it: which divisions exist, what units are called
divisions = Table(
    "divisions", metadata,
    Column("code", String(12), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("level", String(16), nullable=False),
)

units = Table(
    "units", metadata,
    Column("unit_id", String(64), primary_key=True),
    Column("name", String(100), nullable=False),
)

# 文号: each written notice's number in its office's yearly series, allocated in the transaction
# that appends the notice's event; unique per office and year (migration intake_0012)
notice_numbers = Table(
    "notice_numbers", metadata,
    Column("event_id", String(36), primary_key=True),
    Column("case_id", String(64), nullable=False),
    Column("office", String(12), nullable=False),
    Column("year", Integer, nullable=False),    # the notice's date's year, China time
    Column("seq", Integer, nullable=False),
    UniqueConstraint("office", "year", "seq", name="uq_notice_numbers_series"),
    Index("ix_notice_numbers_case", "case_id"),
)


# the other services' events of each case, as heard (migration intake_0016), for the case's whole
# history: routing's assignments, signings and objections, supervision's deadlines, orders and
# reminders. ``chain_seq``: the event's link in its producer's chain (the relay's header)
case_history = Table(
    "case_history", metadata,
    Column("event_id", String(36), primary_key=True),
    Column("case_id", String(64), nullable=False),
    Column("producer", String(32), nullable=False),
    Column("chain_seq", sa.BigInteger, nullable=True),
    Column("occurred_at", UtcDateTime(), nullable=False),
    Column("body", Text, nullable=False),
    Index("ix_case_history_case", "case_id"),
)


# ---------------------------------------------------------------- finding a case

def visible_to(user: Principal):
    """The SQL condition for the cases this user may see."""
    if user.role == "handler":
        return cases.c.unit_id == user.unit_id
    return cases.c.office.startswith(user.prefix)


def _not_found(case_id: str) -> NotFound:
    # out of scope answers as absent does: a case's existence does not leak
    return NotFound(f"case {case_id} not found", "未找到该信访事项，或您无权查看")


def _no_such_tracking_code() -> NotFound:
    return NotFound("no case has this tracking code", "查询码不存在，请核对后重试")


def visible_status(conn, user: Principal, case_id: str) -> str:
    """The stored status of a case ``user`` may see, else NotFound."""
    status = conn.execute(sa.select(cases.c.status).where(cases.c.case_id == case_id, visible_to(user))).scalar()
    if status is None:
        raise _not_found(case_id)
    return status


def tracked_case(conn, tracking_code: str):
    """The case a tracking code names (typed with or without dashes, in either case), as the public
    sees it (its handling unit's name), else NotFound."""
    code = domain.tracking_code_of(tracking_code)
    if code is None:
        raise _no_such_tracking_code()
    row = conn.execute(sa.select(cases.c.case_id, cases.c.status, cases.c.received_at, cases.c.registered_at,
                                 cases.c.channel, units.c.name.label("unit_name"))
                       .join(units, units.c.unit_id == cases.c.unit_id, isouter=True)
                       .where(cases.c.tracking_code == code)).mappings().first()
    if row is None:
        raise _no_such_tracking_code()
    return row


def records_assignment(stored_status: str) -> bool:
    """Whether the row says routing assigned the case. It says so in its status, which is enough:
    ``domain.case_status`` asks only while the case is registered, and then the row stores
    "assigned" exactly when routing assigned it (``record_assignment``)."""
    return stored_status == domain.ASSIGNED


# ---------------------------------------------------------------- the commands' reads and writes

def division_known(conn, code: str) -> bool:
    return conn.execute(sa.select(divisions.c.code).where(divisions.c.code == code)).first() is not None


def cases_of_petitioners(conn, id_number_hashes: Sequence[str]):
    """The earlier cases of anyone with one of these ID numbers (by their keyed hash).

    All of them, in O(the person's cases): narrower shapes (the category in SQL, or "the latest,
    one final, one open" with LIMIT) were measured and left, because right after a bulk load,
    with stale statistics, PostgreSQL planned them as a loop over every case probing the
    petitioners, 4.5 s for one person with 10,000 cases (bench/repeat_detection.py --stale)."""
    return conn.execute(
        sa.select(cases.c.case_id, cases.c.category_code, cases.c.registered_at, cases.c.final, cases.c.status)
        .join(petitioners, petitioners.c.case_id == cases.c.case_id)
        .where(petitioners.c.id_number_hash.in_(id_number_hashes)).distinct())


def petitioners_to_rotate(conn, key_id: str, limit: int, after: str = "") -> list:
    """Up to ``limit`` petitioner rows not written under ``key_id``, in id order after ``after``."""
    c = petitioners.c
    return list(conn.execute(
        sa.select(c.petitioner_id, c.id_number_enc, c.phone_enc, c.address_enc)
        .where(sa.or_(c.pii_key_id.is_(None), c.pii_key_id != key_id), c.petitioner_id > after)
        .order_by(c.petitioner_id).limit(limit)))


def count_petitioners_by_key(conn) -> dict[str | None, int]:
    c = petitioners.c
    return {k: n for k, n in conn.execute(sa.select(c.pii_key_id, sa.func.count()).group_by(c.pii_key_id))}


def rewrite_petitioner_pii(conn, petitioner_id: str, was_id_number_enc: str, **values: Any) -> bool:
    """Compare-and-set: rewritten only if nobody changed the row since it was read."""
    c = petitioners.c
    done = conn.execute(petitioners.update().where(c.petitioner_id == petitioner_id,
                                                   c.id_number_enc == was_id_number_enc).values(**values))
    return done.rowcount == 1


def insert_case(conn, **row: Any) -> None:
    conn.execute(cases.insert().values(**row))


def insert_petitioner(conn, **row: Any) -> None:
    conn.execute(petitioners.insert().values(**row))


def update_case(conn, case_id: str, *, status: str, version: int, final: bool, updated_at: datetime) -> None:
    conn.execute(cases.update().where(cases.c.case_id == case_id).values(
        status=status, version=version, final=final, updated_at=updated_at))


# ---------------------------------------------------------------- notice numbers (文号)

# the events that issue a written notice (views._notices names each document)
NOTICE_EVENTS = frozenset({"CaseAccepted", "CaseNotAccepted", "HandlingExtended", "CaseReplied"})


def notice_series(office: str, occurred_at: datetime) -> tuple[str, int]:
    """The series a notice is numbered in: its office's, in the year of its date (China time)."""
    return office, local_date(occurred_at).year


def lock_notice_series(conn, series: Iterable[tuple[str, int]]) -> None:
    """Hold each series until the transaction ends, taken before the notice's event is appended:
    so within a series the numbers follow the events' positions in the store, and numbering the
    store again (``renumber_notices``) gives the same numbers. SQLite has one writer at a time
    already (BEGIN IMMEDIATE); PostgreSQL takes a transaction advisory lock per series."""
    if conn.conn.dialect.name != "postgresql":
        return
    for office, year in sorted(set(series)):  # one order for all: no deadlock between two series
        key = int.from_bytes(hashlib.sha256(f"notice:{office}:{year}".encode()).digest()[:8], "big", signed=True)
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def number_notice(conn, *, event_id: str, case_id: str, office: str, year: int) -> int:
    """The next number of the series (its series locked by ``lock_notice_series``); the unique
    (office, year, seq) refuses a second holder of a number whatever happens."""
    c = notice_numbers.c
    seq = int(conn.execute(sa.select(sa.func.max(c.seq)).where(c.office == office, c.year == year)).scalar() or 0) + 1
    conn.execute(notice_numbers.insert().values(event_id=event_id, case_id=case_id, office=office, year=year,
                                                seq=seq))
    return seq


def renumber_notices(conn) -> int:
    """Number every notice of the store not numbered yet, in the order of the store: what the
    migration does for the notices issued before numbers were kept, and, on an emptied table,
    a rebuild that gives each notice the number it had. How many it numbered."""
    done = set(conn.execute(sa.select(notice_numbers.c.event_id)).scalars())
    rows = conn.execute(sa.select(events.c.event_id, events.c.case_id, events.c.occurred_at, events.c.body)
                        .where(events.c.event_type.in_(sorted(NOTICE_EVENTS))).order_by(events.c.position))
    n = 0
    for event_id, case_id, occurred_at, body in rows.all():
        if event_id in done:
            continue
        office, year = notice_series(json.loads(body)["office"], occurred_at)
        number_notice(conn, event_id=event_id, case_id=case_id, office=office, year=year)
        n += 1
    return n


def notice_numbers_of(conn, case_id: str) -> dict[str, tuple[int, int]]:
    """event id → (year, number) of each numbered notice of the case."""
    c = notice_numbers.c
    return {e: (y, s) for e, y, s in conn.execute(sa.select(c.event_id, c.year, c.seq).where(c.case_id == case_id))}


def division_name(conn, code: str) -> str | None:
    return conn.execute(sa.select(divisions.c.name).where(divisions.c.code == code)).scalar()


# ---------------------------------------------------------------- the projections' writes

def record_assignment(conn, case_id: str, unit_id: str, co_unit_ids: Sequence[str], assigned_at: datetime) -> None:
    """The unit (and co-handling units) routing named, when, and the status ``domain.case_status(stored,
    assigned=True)``: the database computes it in the same statement, so a command committed
    meanwhile is never overwritten by a status read before it. A new assignment waits for its
    unit's signing."""
    assigned = sa.case(domain.STATUS_ONCE_ASSIGNED, value=cases.c.status, else_=cases.c.status)
    conn.execute(cases.update().where(cases.c.case_id == case_id)
                 .values(unit_id=unit_id, co_unit_ids=" ".join(co_unit_ids), status=assigned,
                         assigned_at=assigned_at, signed_at=None))


def record_signing(conn, case_id: str, unit_id: str, signed_at: datetime) -> None:
    """The unit holding the case signed for it (签收)."""
    conn.execute(cases.update().where(cases.c.case_id == case_id, cases.c.unit_id == unit_id)
                 .values(signed_at=signed_at))


def withdraw_unit(conn, case_id: str, unit_id: str) -> None:
    """``unit_id`` no longer handles the case (if it still did)."""
    conn.execute(cases.update().where(cases.c.case_id == case_id, cases.c.unit_id == unit_id)
                 .values(unit_id=None, signed_at=None))


def handover(conn, case_id: str) -> domain.Handover:
    """When the case's unit got it and signed for it, as routing's events said."""
    row = conn.execute(sa.select(cases.c.unit_id, cases.c.assigned_at, cases.c.signed_at)
                       .where(cases.c.case_id == case_id)).first()
    return domain.Handover(*row) if row is not None else domain.Handover(None, None, None)


def record_owner(conn, case_id: str, leader: str) -> None:
    conn.execute(cases.update().where(cases.c.case_id == case_id).values(owner_leader=leader))


def add_division(conn, code: str, name: str, level: str) -> None:
    """The division, unless known already (a redelivered or repeated event changes nothing)."""
    if conn.execute(sa.select(divisions.c.code).where(divisions.c.code == code)).first() is None:
        conn.execute(divisions.insert().values(code=code, name=name, level=level))


def add_unit(conn, unit_id: str, name: str) -> None:
    """The unit, unless known already."""
    if conn.execute(sa.select(units.c.unit_id).where(units.c.unit_id == unit_id)).first() is None:
        conn.execute(units.insert().values(unit_id=unit_id, name=name))


def rename_unit(conn, unit_id: str, name: str) -> None:
    conn.execute(units.update().where(units.c.unit_id == unit_id).values(name=name))


# ---------------------------------------------------------------- the views' reads

def case_file_row(conn, user: Principal, case_id: str):
    """The case's row with its handling unit's name, if ``user`` may see it, else NotFound."""
    row = conn.execute(sa.select(cases, units.c.name.label("unit_name"))
                       .join(units, units.c.unit_id == cases.c.unit_id, isouter=True)
                       .where(cases.c.case_id == case_id, visible_to(user))).mappings().first()
    if row is None:
        raise _not_found(case_id)
    return row


def record_heard(conn, env, body: str, chain_seq: int | None) -> None:
    """Keep another service's event of a case (a redelivery changes nothing)."""
    if conn.execute(sa.select(case_history.c.event_id).where(case_history.c.event_id == env.event_id)).first() is None:
        conn.execute(case_history.insert().values(event_id=env.event_id, case_id=env.case_id, producer=env.producer,
                                                  chain_seq=chain_seq, occurred_at=env.occurred_at, body=body))


def heard_of(conn, case_id: str) -> list:
    """(producer, chain_seq, body) of the other services' events of the case."""
    return conn.execute(sa.select(case_history.c.producer, case_history.c.chain_seq, case_history.c.body)
                        .where(case_history.c.case_id == case_id)).all()


def own_links(conn, case_id: str) -> dict[str, int]:
    """Each of intake's own events of the case: its link in intake's chain, by event id."""
    rows = conn.execute(sa.select(events.c.event_id, event_chain.c.seq)
                        .join(event_chain, event_chain.c.position == events.c.position)
                        .where(events.c.stream_id == case_id))
    return {r.event_id: int(r.seq) for r in rows}


def unit_names(conn, unit_ids: Iterable[str]) -> dict[str, str]:
    wanted = sorted({u for u in unit_ids if u})
    if not wanted:
        return {}
    return dict(conn.execute(sa.select(units.c.unit_id, units.c.name).where(units.c.unit_id.in_(wanted))).all())


def petitioners_of(conn, case_id: str):
    return conn.execute(sa.select(petitioners).where(petitioners.c.case_id == case_id)).mappings().all()


def _conditions(f: CaseFilter) -> list:
    where = []
    if f.status:
        where.append(cases.c.status == f.status)
    if f.channel:
        where.append(cases.c.channel == f.channel)
    if f.division_code:
        where.append(cases.c.division_code.startswith(division_prefix(f.division_code)))
    if f.category_code:
        where.append(cases.c.category_code.startswith(f.category_code))
    if f.purpose:
        where.append(cases.c.purpose == f.purpose)
    if f.flag:
        where.append((" " + cases.c.flags + " ").contains(f" {f.flag} ", autoescape=True))
    if f.unit_id:
        where.append(cases.c.unit_id == f.unit_id)
    if f.received_from:
        where.append(cases.c.received_at >= f.received_from)
    if f.received_to:
        where.append(cases.c.received_at < f.received_to)
    if f.case_ids:
        where.append(cases.c.case_id.in_(f.case_ids))
    if f.q and f.q.strip():
        where.append(_search(f.q.strip(), f.id_number_hashes))
    return where


def _search(q: str, id_number_hashes: Sequence[str]):
    """A case whose tracking code ``q`` is; else one whose summary holds ``q`` or with a petitioner
    of that name, ID number (its keyed hashes) or masked ID number.

    A tracking code finds its case alone, by its unique index: no summary or name is written in
    its alphabet, and reading every summary for it had cost a petitioner's call 170 ms at 100,000
    cases. A masked ID number is looked up in its index; a summary holds no asterisks."""
    p = petitioners.c
    if code := domain.tracking_code_of(q):
        return cases.c.tracking_code == code
    if "*" in q:
        return cases.c.case_id.in_(sa.select(p.case_id).where(p.id_number_masked == q))
    of_petitioners = p.name.contains(q, autoescape=True)
    if id_number_hashes:
        of_petitioners = sa.or_(of_petitioners, p.id_number_hash.in_(list(id_number_hashes)))
    return sa.or_(cases.c.summary.contains(q, autoescape=True),
                  cases.c.case_id.in_(sa.select(p.case_id).where(of_petitioners)))


def case_page(conn, user: Principal, f: CaseFilter, columns: Sequence[str], *, limit: int, offset: int):
    """How many cases ``user`` may see match ``f``, and one page of them (``columns``), newest
    registration first.

    The page's case ids are found first, in ``ix_cases_listed`` (list order, with the scope's
    columns), and only then are their rows read: a deep page steps over index entries, not rows."""
    where = [visible_to(user), *_conditions(f)]
    order = (cases.c.registered_at.desc(), cases.c.case_id.desc())
    if f.q and f.q.strip() and not domain.tracking_code_of(f.q.strip()):
        # a search reads every summary: once, for the count and the page together (a search
        # matches few cases; a count and a page had read them all twice)
        ids = conn.execute(sa.select(cases.c.case_id).where(*where).order_by(*order)).scalars().all()
        picked = ids[offset:offset + limit]
        rows = conn.execute(sa.select(*[cases.c[k] for k in columns]).where(cases.c.case_id.in_(picked))
                            .order_by(*order)).mappings().all() if picked else []
        return len(ids), rows
    page = sa.select(cases.c.case_id).where(*where).order_by(*order).limit(limit).offset(offset).subquery()
    total = conn.execute(sa.select(sa.func.count()).select_from(cases).where(*where)).scalar()
    rows = conn.execute(sa.select(*[cases.c[k] for k in columns])
                        .join(page, page.c.case_id == cases.c.case_id).order_by(*order)).mappings().all()
    return total, rows


def count_divisions(conn) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(divisions)).scalar() or 0)
