"""Supervision's database restored from a backup, then caught up (``xinfang restore``'s catch-up):
the crossings the ticker fired, the orders people issued and the escalation fired after the backup
are back in its store, once, under their ids, and its read models read as they did; nothing is
published again and nothing fires twice. Run on SQLite (a file copy as the backup) and on
PostgreSQL (pg_dump and pg_restore, as ``xinfang backup`` does)."""
from __future__ import annotations

import sqlite3
import subprocess
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

import services.supervision
from services.supervision import handlers, streams
from services.supervision.handlers import IssueSupervisionOrder
from services.supervision.ticker import fire_due
from tests.conftest import migrated
from tests.integration.test_supervision_engine import OFFICE, consume, registered
from xinfang.contracts import decode, new_envelope
from xinfang.contracts.events import CaseAssigned
from xinfang.messaging import catchup
from xinfang.security import Principal
from xinfang.storage import Database, recovery
from xinfang_cli.backup import pg_tool
from xinfang_cli.opsdb import libpq_url

MIGRATIONS = Path(services.supervision.__file__).parent / "migrations"
NOW = datetime.now(UTC)
CST = timezone(timedelta(hours=8))


def rows(db: Database, sql: str) -> list:
    with db.engine.connect() as c:
        return sorted(tuple(r) for r in c.execute(sa.text(sql)))


def read_models(db: Database) -> dict:
    return {
        "checkpoints": rows(db, "SELECT case_id, stage, level, ref FROM checkpoints"),
        "deadlines": rows(db, "SELECT case_id, stage, status, level FROM deadlines"),
        "orders": rows(db, "SELECT order_id, status, escalated_to FROM supervision_orders"),
    }


class RestoreScenario:
    """``live`` and ``restored``: two databases of one supervision; ``backup(live, restored)``
    makes the second what the first is now."""

    def backup(self, live: Database, restored: Database) -> None:
        raise NotImplementedError

    def test_what_supervision_appended_after_the_backup_comes_back_once(self, live, restored):
        consume(live, registered("old", NOW - timedelta(days=20)))   # its assignment clock overdue
        consume(live, registered("o", NOW - timedelta(days=1)))
        consume(live, new_envelope(CaseAssigned(unit_id="u1"), case_id="o", office=OFFICE, actor="r",
                                   producer="routing"))
        self.backup(live, restored)

        # after the backup: the ticker fires the old case's crossings; a supervisor issues an order,
        # left unanswered past its date: the ticker escalates it
        assert fire_due(live) == 4
        # today as the handler reckons it, now: NOW is yesterday once a run crosses midnight
        today = datetime.now(UTC).astimezone(CST).date()
        order = handlers.issue_order(live, Principal("sup", "supervisor", OFFICE),
                                     IssueSupervisionOrder("o", "三日内答复", today))
        end_of_today = datetime.combine(today + timedelta(days=1), datetime.min.time(), CST)
        assert fire_due(live, now=end_of_today) == 1
        with live.engine.connect() as c:
            published = [decode(b) for b in c.execute(sa.text("SELECT body FROM outbox ORDER BY id")).scalars()]
        expected = read_models(live)
        assert expected["orders"] == [(order["order_id"], "escalated", "999900000000")]
        assert [d[3] for d in expected["deadlines"] if d[:2] == ("old", "assignment")] == ["overdue"]

        # the restore: the backup's database, what the topic has staged, then the catch-up
        with restored.engine.begin() as c:
            recovery.ensure_table(c)
            staged = recovery.stage(c, published)
            waiting = c.execute(sa.text("SELECT count(*) FROM outbox WHERE published_at IS NULL")).scalar()
        assert staged == 4 + 1 + 1  # four crossings, the order, its escalation
        subscriptions, replay_own = streams.restore_wiring()
        done = catchup.catch_up(restored, "supervision", subscriptions, replay_own, upstream=[])

        assert (done.replayed, done.reproduced, done.stored_only) == (6, 0, [])
        assert rows(restored, "SELECT event_id FROM events") == rows(live, "SELECT event_id FROM events")
        assert read_models(restored) == expected
        assert rows(restored, "SELECT count(*) FROM outbox WHERE published_at IS NULL") == [(waiting,)]
        # nothing fires twice, now or later
        assert fire_due(restored, now=end_of_today + timedelta(days=60)) == fire_due(
            live, now=end_of_today + timedelta(days=60))
        assert rows(restored, "SELECT event_type, case_id FROM events") == rows(live, "SELECT event_type, case_id FROM events")


class TestOnSQLite(RestoreScenario):
    @pytest.fixture
    def live(self, tmp_path):
        with migrated(f"sqlite:///{tmp_path / 'live.db'}", MIGRATIONS) as d:
            yield d

    @pytest.fixture
    def restored(self, tmp_path):
        d = Database(f"sqlite:///{tmp_path / 'restored.db'}")
        yield d
        d.dispose()

    def backup(self, live, restored):
        with sqlite3.connect(live.url.split("///", 1)[1]) as s, sqlite3.connect(restored.url.split("///", 1)[1]) as d:
            s.backup(d)


class TestOnPostgres(RestoreScenario):
    @pytest.fixture
    def live(self, pg_url):
        with migrated(pg_url, MIGRATIONS) as d:
            yield d

    @pytest.fixture
    def restored(self, other_pg_url):
        with migrated(other_pg_url, MIGRATIONS) as d:
            yield d

    def backup(self, live, restored):
        dump = subprocess.run([pg_tool("pg_dump"), "--format=custom", "--no-owner", libpq_url(live.url)],
                              capture_output=True, check=True).stdout
        subprocess.run([pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction",
                        f"--dbname={libpq_url(restored.url)}"], input=dump, capture_output=True, check=True)
        restored.dispose()  # its pool saw the schema it replaced

