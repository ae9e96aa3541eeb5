"""Rebuilding the read model from the raw fact log gives byte-for-byte the statistics of the live
one, and the live one keeps answering (and taking events) while the new generation is built."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.reporting import rates, views
from services.reporting.rebuild import rebuild
from tests.conftest import migrated
from tests.integration.reporting_scenario import A_GOV, VILLAGE_A, D, History, march_history
from tests.integration.test_reporting_rates import COUNTY, JUNE, TOWNSHIP_A, UNIT_A, feed, march
from xinfang.storage import Database

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "reporting" / "migrations"


def statistics(db) -> str:
    w = march(JUNE)
    out = {}
    for name, sc in (("county", COUNTY), ("township", TOWNSHIP_A), ("unit", UNIT_A)):
        out[name] = {"rates": views.rate_figures(db, w, sc), "summary": views.summary(db, w, sc),
                     "breakdowns": {by: views.breakdown(db, w, sc, by) for by in views.BREAKDOWNS},
                     "rankings": {r: views.rankings(db, w, sc, r) for r in rates.RATES}}
    return json.dumps(out, sort_keys=True, ensure_ascii=False, default=str)


class RebuildContract:
    def test_rebuilt_statistics_equal_the_live_ones_byte_for_byte(self, db):
        feed(db, march_history())
        live = statistics(db)
        seen = []
        result = rebuild(db, progress=lambda done, total: seen.append((done, total)))
        assert result["generation"] == 2 and result["previous"] == 1
        assert statistics(db) == live
        assert seen and seen[-1][0] == seen[-1][1] == result["events"] == len(march_history())
        from sqlalchemy import func, select

        from services.reporting.adapters import report_cases, report_facts
        with db.engine.connect() as c:  # the old generation is gone, facts and folded cases alike
            for t in (report_facts, report_cases):
                assert c.execute(select(t.c.generation, func.count()).group_by(t.c.generation)).all()[0][0] == 2
                assert len(c.execute(select(t.c.generation).distinct()).all()) == 1

    def test_the_live_model_answers_during_the_rebuild_and_nothing_is_lost(self, db):
        feed(db, march_history())
        before = views.summary(db, march(JUNE), COUNTY)["registered"]
        late = History()
        late.case("A9", D(3, 30), VILLAGE_A).assigned(A_GOV, D(3, 30, 11))

        def meanwhile():
            # a new event arrives while the new generation is being built: the old one takes it
            feed(db, late.events)
            assert views.summary(db, march(JUNE), COUNTY)["registered"] == before + 1

        rebuild(db, before_switch=meanwhile)
        assert views.summary(db, march(JUNE), COUNTY)["registered"] == before + 1
        units = {r["key"]: r["registered"] for r in views.breakdown(db, march(JUNE), COUNTY, "unit")["rows"]}
        assert units[A_GOV] == 5  # A1 A6 A7 H1 and A9


    def test_upgrading_a_read_model_with_facts_folds_its_cases(self, db, old_db):
        """A read model written before report_cases (migration 0002) gets its cases folded by the
        upgrade, and answers as one fed after it."""
        from sqlalchemy import insert

        from services.reporting import projections
        from services.reporting.adapters import report_facts, report_log
        from xinfang.storage.migrations import upgrade

        feed(db, march_history())
        upgrade(old_db.engine, MIGRATIONS, "reporting_0002")
        with old_db.engine.begin() as c:  # what the projection wrote then: log and facts, no cases
            logs = [projections.log_row(e) for e in march_history()]
            c.execute(insert(report_log), logs)
            # (the back-dated mark came with reporting_0010: that table had no column for it)
            facts = [{k: v for k, v in projections.fact_row(r, 1, 15).items() if k != "backdated"} for r in logs]
            projections.supersede(c, 1, facts)
            c.execute(insert(report_facts), facts)
        upgrade(old_db.engine, MIGRATIONS)
        assert statistics(old_db) == statistics(db)


class TestSQLite(RebuildContract):
    @pytest.fixture
    def db(self, tmp_path):
        with migrated(f"sqlite:///{tmp_path / 'reporting.db'}", MIGRATIONS) as d:
            yield d

    @pytest.fixture
    def old_db(self, tmp_path):
        d = Database(f"sqlite:///{tmp_path / 'old.db'}")
        yield d
        d.dispose()


@pytest.mark.postgres
class TestPostgres(RebuildContract):
    @pytest.fixture
    def db(self, pg_url):
        with migrated(pg_url, MIGRATIONS) as d:
            yield d

    @pytest.fixture
    def old_db(self, other_pg_url):
        d = Database(other_pg_url)
        yield d
        d.dispose()


def test_the_rebuild_command_reports_its_generation_and_keeps_the_figures(tmp_path):
    import os
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'reporting.db'}"
    db = Database(url)
    db.migrate(MIGRATIONS)
    feed(db, march_history())
    live = statistics(db)
    r = subprocess.run([str(Path(sys.executable).parent / "xinfang"), "rebuild", "reporting"], capture_output=True,
                       text=True, env={**os.environ, "REPORTING_DATABASE_URL": url}, timeout=300)
    assert r.returncode == 0, r.stderr
    assert f"generation=2 previous=1 events={len(march_history())}" in r.stdout
    assert statistics(db) == live
    db.dispose()
