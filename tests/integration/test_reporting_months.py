"""The monthly sums (services/reporting/months.py) give the dashboard the same figures as folding
every case, on SQLite and PostgreSQL: over random histories of a county's fourteen months (open
cases, limits still to come, acts in the current month, late decisions and replies, reviews,
repeats, imports), for the periods the leader's page offers and more, for the county and for a
township's office, as known now and forty days later; and the sums kept event by event are the
sums counted afresh."""
from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.reporting import months, projections, rates, views
from services.reporting.adapters import report_months
from services.reporting.projections import active_generation
from tests.conftest import migrated
from tests.integration.reporting_scenario import A_GOV, B_GOV, CST, D01, History
from xinfang.storage import Database, UnitOfWork

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "reporting" / "migrations"
NOW = datetime(2026, 3, 10, 12, tzinfo=CST)
PARTS = [*views.DASHBOARD, "by_channel"]
COUNTY = views.Scope(office_prefix="999901")
TOWNSHIP_OFFICE = views.Scope(office_prefix="999901001")


def random_history(seed: int, n: int = 400) -> list:
    """``n`` cases received over the 430 days before NOW, each taken as far as NOW allows."""
    rnd = random.Random(seed)
    h = History()
    names: list[str] = []
    for i in range(n):
        received = NOW - timedelta(days=rnd.uniform(0, 430), minutes=rnd.randint(0, 600))
        division = "999901000000" if rnd.random() < 0.1 else f"999901{rnd.randint(1, 3):03d}{rnd.randint(1, 3):03d}"
        repeat_of = rnd.choice(names) if names and rnd.random() < 0.15 else None
        imported = rnd.random() < 0.1  # from the old system: every fact recorded now
        case = h.case(f"R{seed}-{i}", received, division, flags=("repeat",) if repeat_of else ("first_petition",),
                      channel=rnd.choice(("letter", "visit", "online", "phone")), headcount=rnd.choice((1, 1, 2, 6)),
                      repeat_of=repeat_of, category=rnd.choice(("0101", "0203", "0305")),
                      office="999901000000" if rnd.random() < 0.3 else None,
                      recorded=NOW if imported else None)
        names.append(f"R{seed}-{i}")
        t = received

        def step(days: float) -> datetime | None:
            nonlocal t
            t = t + timedelta(days=days)
            return t if t <= NOW else None

        if (at := step(rnd.uniform(0, 2))) is None:
            continue
        if rnd.random() < 0.9:
            case.assigned(rnd.choice((A_GOV, B_GOV, D01)), at)
            if rnd.random() < 0.1:
                case.assigned(rnd.choice((A_GOV, B_GOV, D01)), at + timedelta(hours=3))
        case.deadline("acceptance", at, received + timedelta(days=15))
        if rnd.random() < 0.15 or (at := step(rnd.uniform(1, 25))) is None:
            continue  # never decided (so far)
        if rnd.random() < 0.1:
            case.not_accepted(at)
            if (at := step(1)) is not None:
                case.closed(at)
            continue
        case.accepted(at)
        due = at + timedelta(days=60)
        case.deadline("handling", at, due, days=60)
        if rnd.random() < 0.15 and (at := step(rnd.uniform(20, 50))) is not None:
            case.extended(at)
            due += timedelta(days=30)
            case.deadline("handling", at, due, days=90)
        if rnd.random() < 0.15 or (at := step(rnd.uniform(5, 90))) is None:
            continue  # never replied (so far)
        case.replied(at)
        if rnd.random() < 0.7 and (at := step(rnd.uniform(0, 12))) is not None:
            case.evaluated(at, rnd.choice(("satisfied", "basically_satisfied", "dissatisfied")))
        if rnd.random() < 0.1 and (at := step(rnd.uniform(1, 20))) is not None:
            case.review(at)
        if rnd.random() < 0.8 and (at := step(rnd.uniform(1, 40))) is not None:
            case.closed(at)
    return h.events


def periods(as_of: datetime) -> list[rates.Window]:
    tz = "Asia/Shanghai"
    today = as_of.astimezone(CST).date()
    month = today.replace(day=1)
    return [rates.period_of(frm, to, as_of, tz) for frm, to in (
        (None, None),                                        # 全部时间
        (date(today.year, 1, 1), None),                      # 本年度
        (month.replace(month=(month.month - 1) // 3 * 3 + 1), None),  # 本季度
        (month, None),                                       # 本月
        (date(2025, 3, 1), date(2026, 12, 31)),              # ending after as_of
        (date(2025, 1, 1), today - timedelta(days=2)),       # ending in as_of's month, before it
        (date(2025, 6, 1), month + timedelta(days=1)),       # and days before it: acts after its end
    )]


def feed(db: Database, events: list, seed: int) -> None:
    """Half event by event in a shuffled order (the live handler), half as delivered batches."""
    events = list(events)
    random.Random(seed).shuffle(events)
    half = len(events) // 2
    for env in events[:half]:
        with UnitOfWork(db) as uow:
            projections.on_event(uow, env)
    for i in range(half, len(events), 50):
        with UnitOfWork(db) as uow:
            projections.on_events(uow, events[i:i + 50])


def sums(db: Database) -> dict:
    figures = [report_months.c[f] for f in months.FIGURES]
    keys = [c for c in report_months.primary_key.columns]
    with db.read() as c:
        return {tuple(r[:len(keys)]): tuple(r[len(keys):]) for r in c.execute(sa.select(*keys, *figures))
                if any(r[len(keys):])}


class MonthsContract:
    @pytest.fixture(scope="class")
    @classmethod
    def fed(cls):
        raise NotImplementedError

    @pytest.mark.parametrize("later", [0, 40])
    def test_the_sums_answer_as_folding_every_case_does(self, fed, later):
        as_of = NOW + timedelta(days=later)
        r = rates.rules()
        asked = 0
        for w in periods(as_of):
            for sc in (COUNTY, TOWNSHIP_OFFICE):
                with fed.read() as c:
                    assert months.statistics(c, active_generation(c), w, sc, PARTS, "on_time_reply", r) is not None
                for rate in ("on_time_reply", "timely_acceptance"):
                    fast = views.statistics(fed, w, sc, PARTS, rate=rate)
                    folded = views.statistics(fed, w, sc, PARTS, rate=rate, sums=False)
                    assert fast == folded, (w, sc, rate)
                    asked += 1
                before = w.a_year_before(r.timezone)
                if before is not None:  # the year on year's counts a year before
                    folded = views.statistics(fed, before, sc, ["summary"], sums=False)["summary"]
                    assert views.received(fed, before, sc) == {k: folded[k] for k in ("registered", "first_petition")}
        fast = views.statistics(fed, periods(as_of)[0], COUNTY, PARTS)
        # not trivially equal: the history fills every figure
        assert fast["summary"]["registered"] > 200 and fast["summary"]["overdue"] > 0
        assert all(fast["rates"][k]["denominator"] > 0 for k in rates.RATES)
        assert len(fast["ranking"]["rows"]) == 3 and len(fast["by_month"]["rows"]) >= 14
        assert asked == 28

    def test_questions_the_sums_do_not_answer_fold(self, fed):
        r = rates.rules()
        with fed.read() as c:
            gen = active_generation(c)
            ask = lambda w, sc=COUNTY, parts=PARTS: months.statistics(c, gen, w, sc, parts, "on_time_reply", r)  # noqa: E731
            assert ask(rates.period_of(date(2026, 2, 3), None, NOW, r.timezone)) is None  # not from a 1st
            assert ask(rates.period_of(None, None, NOW - timedelta(days=20), r.timezone)) is None  # a past as_of
            assert ask(rates.period_of(date(2025, 1, 1), date(2025, 12, 31), NOW, r.timezone)) is None  # over
            assert ask(periods(NOW)[0], views.Scope(office_prefix="999901", unit_id=A_GOV)) is None
            assert ask(periods(NOW)[0], views.Scope(office_prefix="999901", division_prefix="999901002")) is None
            assert ask(periods(NOW)[0], COUNTY, ["by_unit"]) is None
            other = rates.ReportingRules(backlog_after_days=10)  # counted under 30 days
            assert months.statistics(c, gen, periods(NOW)[0], COUNTY, PARTS, "on_time_reply", other) is None
        w = periods(NOW)[0]
        assert views.statistics(fed, w, COUNTY, PARTS, r=other) == views.statistics(fed, w, COUNTY, PARTS, r=other,
                                                                                    sums=False)

    def test_the_sums_kept_event_by_event_are_the_sums_counted_afresh(self, fed):
        kept = sums(fed)
        with UnitOfWork(fed) as uow:
            months.build(uow.conn, active_generation(uow.conn))
        assert sums(fed) == kept and len(kept) > 100


class TestSQLite(MonthsContract):
    @pytest.fixture(scope="class")
    @classmethod
    def fed(cls, tmp_path_factory):
        with migrated(f"sqlite:///{tmp_path_factory.mktemp('months') / 'reporting.db'}", MIGRATIONS) as d:
            feed(d, random_history(1), 1)
            yield d


@pytest.mark.postgres
class TestPostgres(MonthsContract):
    @pytest.fixture(scope="class")
    @classmethod
    def fed(cls, pg_server):
        url = pg_server.create_database()
        with migrated(url, MIGRATIONS) as d:
            feed(d, random_history(2), 2)
            yield d
        pg_server.drop_database(url)


def test_sums_counted_under_other_rules_answer_nothing_until_counted_again(tmp_path):
    with migrated(f"sqlite:///{tmp_path / 'reporting.db'}", MIGRATIONS) as db:
        feed(db, random_history(3, 40), 3)
        w, r = periods(NOW)[0], rates.rules()
        with UnitOfWork(db) as uow:  # a refold under another backlog rule: the sums are mixed
            months.add(uow.conn, active_generation(uow.conn), [], [], rates.ReportingRules(backlog_after_days=10))
        with db.read() as c:
            assert months.statistics(c, active_generation(c), w, COUNTY, PARTS, "on_time_reply", r) is None
        assert views.statistics(db, w, COUNTY, PARTS) == views.statistics(db, w, COUNTY, PARTS, sums=False)
        with UnitOfWork(db) as uow:
            months.build(uow.conn, active_generation(uow.conn))
        with db.read() as c:
            assert months.statistics(c, active_generation(c), w, COUNTY, PARTS, "on_time_reply", r) is not None
