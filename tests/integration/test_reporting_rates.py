"""The five rates over a hand-made March 2026 (tests/integration/reporting_scenario.py), against
SQLite and PostgreSQL: every numerator and denominator worked out by hand, for a unit, a township
and the county, and as they stood on 1 April and on 1 June."""
from __future__ import annotations

import random
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.reporting import projections, rates, views
from services.reporting.adapters import metadata
from tests.conftest import migrated
from tests.integration.reporting_scenario import A_GOV, B_GOV, D01, VILLAGE_A, VILLAGE_B, D, History, march_history
from xinfang.contracts.events import CaseAccepted, CaseReplied, CaseSignedFor
from xinfang.storage import Database, UnitOfWork

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "reporting" / "migrations"
JUNE, APRIL = date(2026, 6, 1), date(2026, 4, 1)


def feed(db: Database, events) -> None:
    """Through the live handler, one transaction each, in a shuffled order: the topics deliver in any order."""
    events = list(events)
    random.Random(7).shuffle(events)
    for env in events:
        with UnitOfWork(db) as uow:
            projections.on_event(uow, env)


def march(as_of: date):
    return rates.period_of(date(2026, 3, 1), date(2026, 3, 31), rates.day_start(as_of, "Asia/Shanghai"), "Asia/Shanghai")


def figures(db, sc, as_of=JUNE):
    out = views.rate_figures(db, march(as_of), sc)
    return {k: (out[k]["numerator"], out[k]["denominator"]) for k in rates.RATES}


UNIT_A = views.Scope(office_prefix="999901", unit_id=A_GOV)
TOWNSHIP_A = views.Scope(office_prefix="999901", division_prefix="999901001")
COUNTY = views.Scope(office_prefix="999901")


class RatesContract:
    @pytest.fixture(scope="class")
    @classmethod
    def db(cls):
        raise NotImplementedError

    @pytest.fixture
    def blank(self):
        """A second, empty read model."""
        raise NotImplementedError

    @pytest.fixture(scope="class")
    @classmethod
    def fed(cls, db):
        feed(db, march_history())
        return db

    def test_unit_a_in_march_as_known_on_1_june(self, fed):
        assert figures(fed, UNIT_A) == {
            # decisions A1 ✓, A2 late, A7 ✓, H1 ✓ (legal 15 days) + A6's limit passed undecided
            "timely_acceptance": (3, 5),
            # replies A1 ✓, A2 late, A3 ✓ (extended), A4 late despite extension, H1 ✓ (no deadline known)
            "on_time_reply": (3, 5),
            # of those five, all but A2 evaluated (A3 on 2 April)
            "evaluation": (4, 5),
            # March evaluations: A1 satisfied, A4 dissatisfied, H1 satisfied
            "satisfaction": (2, 3),
            # A2 repeated by A5, A3 reviewed
            "first_time_resolution": (3, 5),
        }

    def test_township_a_counts_its_cases_whoever_handles_them(self, fed):
        f = figures(fed, TOWNSHIP_A)
        assert f["timely_acceptance"] == (4, 6)  # + A8 (county department), in time
        assert {k: v for k, v in f.items() if k != "timely_acceptance"} == {
            k: v for k, v in figures(fed, UNIT_A).items() if k != "timely_acceptance"}

    def test_county_in_march(self, fed):
        assert figures(fed, COUNTY) == {
            "timely_acceptance": (7, 9),      # + A8, B1, B2, C1 all in time
            "on_time_reply": (5, 8),          # + B2 ✓, C1 ✓, B1's deadline passed unreplied
            "evaluation": (6, 7),
            "satisfaction": (4, 5),           # + B2 satisfied, C1 basically satisfied
            "first_time_resolution": (4, 6),  # + B2 (C1 is no first petition)
        }

    def test_as_of_1_april_ignores_what_was_recorded_later(self, fed):
        assert figures(fed, UNIT_A, as_of=APRIL) == {
            "timely_acceptance": (2, 4),      # H1 not imported yet
            "on_time_reply": (2, 4),
            "evaluation": (2, 4),             # A3's evaluation came on 2 April
            "satisfaction": (1, 2),
            "first_time_resolution": (4, 4),  # A3 not yet reviewed, A2 not yet repeated
        }

    def test_rate_is_the_quotient_and_null_without_denominator(self, fed):
        out = views.rate_figures(fed, march(JUNE), UNIT_A)
        assert out["satisfaction"] == {"rate": 0.6667, "numerator": 2, "denominator": 3}
        empty = views.rate_figures(fed, march(JUNE), views.Scope(office_prefix="999901", unit_id="nobody"))
        assert empty["on_time_reply"] == {"rate": None, "numerator": 0, "denominator": 0}

    def test_units_ranked_by_on_time_reply(self, fed):
        rows = views.rankings(fed, march(JUNE), COUNTY, "on_time_reply")["rows"]
        assert [(r["unit_id"], r["numerator"], r["denominator"]) for r in rows] == [
            (D01, 2, 2), (A_GOV, 3, 5), (B_GOV, 0, 1)]

    def test_summary_and_breakdowns_of_march(self, fed):
        s = views.summary(fed, march(JUNE), COUNTY)
        # received in March: A1 A6 A7 H1 A8 B1 B2 C1
        assert (s["registered"], s["person_times"], s["visit_batches"], s["visit_person_times"]) == (8, 16, 3, 11)
        assert s["by_channel"] == {"letter": 2, "online": 3, "visit": 3} and s["online_share"] == 0.375
        assert (s["collective"], s["first_petition"]) == (1, 7)
        # as known on 1 April, H1 was not there
        assert views.summary(fed, march(APRIL), COUNTY)["registered"] == 7
        units = {r["key"]: r["registered"] for r in views.breakdown(fed, march(JUNE), COUNTY, "unit")["rows"]}
        assert units == {A_GOV: 4, B_GOV: 1, D01: 3}
        # the villages' cases counted with their townships'; the county's own case stays the county's
        towns = views.breakdown(fed, march(JUNE), COUNTY, "township")["rows"]
        assert [(t["key"], t["registered"]) for t in towns] == [
            ("999901000000", 1), ("999901001000", 5), ("999901002000", 2)]
        assert towns[1]["label"] == views.label("division", "999901001000") != "999901001000"
        months = views.breakdown(fed, rates.period_of(None, None, rates.day_start(JUNE, "Asia/Shanghai"),
                                                        "Asia/Shanghai"), COUNTY, "month")["rows"]
        assert [(m["key"], m["registered"]) for m in months] == [("2026-01", 2), ("2026-02", 1), ("2026-03", 8), ("2026-04", 1)]

    def test_the_dashboard_gives_each_statistic_as_asked_alone(self, fed):
        """The leader's page asks everything in one statement over one fold of the cases: its
        figures are the hand-computed ones, and each part is what its own endpoint answers."""
        parts = ["rates", "summary", "ranking", *(f"by_{b}" for b in views.BREAKDOWNS)]
        all_time = rates.period_of(None, None, rates.day_start(JUNE, "Asia/Shanghai"), "Asia/Shanghai")
        for w in (march(JUNE), march(APRIL), all_time):
            for sc in (COUNTY, TOWNSHIP_A, UNIT_A):
                together = views.statistics(fed, w, sc, parts, rate="timely_acceptance")
                assert together["rates"] == views.rate_figures(fed, w, sc)
                assert together["summary"] == views.summary(fed, w, sc)
                assert together["ranking"] == views.rankings(fed, w, sc, "timely_acceptance")
                for b in views.BREAKDOWNS:
                    assert together[f"by_{b}"] == views.breakdown(fed, w, sc, b), (b, sc)
        together = views.statistics(fed, march(JUNE), COUNTY, parts)
        assert {k: (v["numerator"], v["denominator"]) for k, v in together["rates"].items() if k in rates.RATES} \
            == figures(fed, COUNTY) == {"timely_acceptance": (7, 9), "on_time_reply": (5, 8), "evaluation": (6, 7),
                                        "satisfaction": (4, 5), "first_time_resolution": (4, 6)}
        assert together["summary"]["registered"] == 8 and together["summary"]["by_channel"] == {
            "letter": 2, "online": 3, "visit": 3}
        assert [(r["unit_id"], r["numerator"], r["denominator"]) for r in together["ranking"]["rows"]] == [
            (D01, 2, 2), (A_GOV, 3, 5), (B_GOV, 0, 1)]

    def test_a_letter_received_in_march_and_registered_in_april_counts_in_march_everywhere(self, blank):
        """Its facts all happen after March, yet it was received in March: the counts of March hold
        it, on the dashboard as alone."""
        h = History()
        h.case("L1", D(3, 31, 17), VILLAGE_A, registered=D(4, 2)).assigned(A_GOV, D(4, 2, 11))
        feed(blank, h.events)
        together = views.statistics(blank, march(JUNE), COUNTY, ["rates", "summary", "by_month"])
        assert together["summary"] == views.summary(blank, march(JUNE), COUNTY)
        assert together["summary"]["registered"] == 1
        assert [(m["key"], m["registered"]) for m in together["by_month"]["rows"]] == [("2026-03", 1)]
        assert together["rates"]["timely_acceptance"]["denominator"] == 0  # its limit falls in April

    def test_the_year_on_year_compares_first_petitions_with_the_same_days_a_year_before(self, blank):
        """初信初访同比: a year to date on 10 March 2026 against 1 January - 10 March 2025, both as
        known on 10 March 2026. A case received later in 2025 is not in the same period, a repeat
        petition is not a first one, and one registered after as_of is not known yet."""
        last_year = lambda month, day: D(month, day).replace(year=2025)  # noqa: E731
        h = History()
        h.case("P1", last_year(1, 20), VILLAGE_A)
        h.case("P2", last_year(3, 9), VILLAGE_B)
        h.case("P3", last_year(3, 9), VILLAGE_A, flags=("repeat",))
        h.case("P4", last_year(3, 11), VILLAGE_A)  # after the same day of last year
        h.case("C1", D(2, 2), VILLAGE_A)
        h.case("C2", D(3, 1), VILLAGE_A, flags=("repeat",))
        h.case("C3", D(3, 20), VILLAGE_A)  # received after as_of: not yet known
        feed(blank, h.events)
        as_of = D(3, 10, 12)
        w = rates.period_of(date(2026, 1, 1), None, as_of, "Asia/Shanghai")
        summary = views.summary(blank, w, COUNTY)
        yoy = views.year_on_year(blank, w, COUNTY, summary)
        assert yoy["first_petition"] == {"current": 1, "previous": 2, "change": -0.5}
        assert yoy["registered"] == {"current": 2, "previous": 3, "change": round(-1 / 3, 4)}
        assert yoy["previous_period"] == {"from": "2025-01-01T00:00:00+08:00", "to": "2025-03-10T12:00:00+08:00"}
        assert views.dashboard(blank, w, COUNTY, "on_time_reply")["year_on_year"] == yoy  # as the page gets it
        assert views.received(blank, w, COUNTY) == {k: summary[k] for k in ("registered", "first_petition")}
        # a township's: its own cases only; nothing a year before gives no change, not a division by zero
        town_b = views.Scope(office_prefix="999901", division_prefix="999901002")
        yoy_b = views.year_on_year(blank, w, town_b, views.summary(blank, w, town_b))
        assert yoy_b["first_petition"] == {"current": 0, "previous": 1, "change": -1.0}
        march = rates.period_of(date(2026, 3, 1), date(2026, 3, 31), as_of, "Asia/Shanghai")
        yoy_march = views.year_on_year(blank, march, town_b, views.summary(blank, march, town_b))
        assert yoy_march["registered"] == {"current": 0, "previous": 1, "change": -1.0}
        county_march = views.year_on_year(blank, march, COUNTY, views.summary(blank, march, COUNTY))
        assert county_march["first_petition"] == {"current": 0, "previous": 1, "change": -1.0}
        assert views.year_on_year(blank, rates.Window(None, None, as_of), COUNTY, summary) is None

    def test_back_dated_acts_are_counted_beside_the_rates_of_the_units_whose_cases_they_are(self, blank):
        """补录: an act whose event carries the back-dated mark counts in the period of its business
        time, once known (as_of), for the unit of its case, in the rates' and the ranking's scope."""
        h = History()
        # K1 (A): accepted dated just inside its limit but entered three days later; replied dated
        # 30 March, entered 2 April
        (h.case("K1", D(3, 2), VILLAGE_A).assigned(A_GOV, D(3, 2, 11)).deadline("acceptance", D(3, 2, 11), D(3, 17))
         .late(CaseAccepted(procedure="normal", notice="受理"), D(3, 16), recorded=D(3, 19))
         .late(CaseReplied(outcome="supported", text="答复"), D(3, 30), recorded=D(4, 2)))
        # K2 (B): the signing and the acceptance, both on paper, entered two days later
        (h.case("K2", D(3, 5), VILLAGE_B).assigned(B_GOV, D(3, 5, 11))
         .late(CaseSignedFor(unit_id=B_GOV), D(3, 6), recorded=D(3, 8), producer="routing")
         .late(CaseAccepted(procedure="normal", notice="受理"), D(3, 7), recorded=D(3, 8)))
        # K3 (A): back-dated in April, outside March; K4 (A): live acts only
        h.case("K3", D(4, 1), VILLAGE_A).assigned(A_GOV, D(4, 1, 11)).late(
            CaseAccepted(procedure="normal", notice="受理"), D(4, 2), recorded=D(4, 3))
        h.case("K4", D(3, 3), VILLAGE_A).assigned(A_GOV, D(3, 3, 11)).accepted(D(3, 4)).replied(D(3, 20))
        feed(blank, h.events)
        w = march(JUNE)
        assert views.rate_figures(blank, w, COUNTY)["backdated"] == 4
        ranking = views.rankings(blank, w, COUNTY, "timely_acceptance")
        assert {r["unit_id"]: r["backdated"] for r in ranking["rows"]} == {A_GOV: 2, B_GOV: 2}
        assert views.rate_figures(blank, w, UNIT_A)["backdated"] == 2
        assert views.rate_figures(blank, w, views.Scope(office_prefix="999901", division_prefix="999901002")
                                  )["backdated"] == 2
        # as known on 1 April K1's reply was not entered yet
        assert views.rate_figures(blank, march(APRIL), COUNTY)["backdated"] == 3
        all_time = rates.period_of(None, None, rates.day_start(JUNE, "Asia/Shanghai"), "Asia/Shanghai")
        assert views.rate_figures(blank, all_time, COUNTY)["backdated"] == 5
        # the leader's page shows the same figures, and outside the caller's jurisdiction there are none
        page = views.dashboard(blank, w, COUNTY, "timely_acceptance")
        assert page["rates"]["backdated"] == 4 and page["ranking"] == ranking
        assert views.rate_figures(blank, w, views.Scope(office_prefix="999902"))["backdated"] == 0
        with blank.engine.connect() as c:  # the mark is kept, never its reason
            assert "纸质" not in " ".join(str(v) for t in metadata.sorted_tables for row in c.execute(sa.select(t))
                                         for v in row)

    def test_no_personal_data_in_any_reporting_table(self, fed):
        with fed.engine.connect() as c:
            for t in metadata.sorted_tables:
                text = " ".join(str(v) for row in c.execute(sa.select(t)) for v in row)
                assert "petitioner" not in text and "…" not in text, t.name


class TestSQLite(RatesContract):
    @pytest.fixture(scope="class")
    @classmethod
    def db(cls, tmp_path_factory):
        with migrated(f"sqlite:///{tmp_path_factory.mktemp('rates') / 'reporting.db'}", MIGRATIONS) as d:
            yield d

    @pytest.fixture
    def blank(self, tmp_path):
        with migrated(f"sqlite:///{tmp_path / 'reporting.db'}", MIGRATIONS) as d:
            yield d


@pytest.mark.postgres
class TestPostgres(RatesContract):
    @pytest.fixture(scope="class")
    @classmethod
    def db(cls, pg_server):
        url = pg_server.create_database()
        with migrated(url, MIGRATIONS) as d:
            yield d
        pg_server.drop_database(url)

    @pytest.fixture
    def blank(self, other_pg_url):
        with migrated(other_pg_url, MIGRATIONS) as d:
            yield d
