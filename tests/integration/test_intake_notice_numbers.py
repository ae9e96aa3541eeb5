"""Document numbers (文号) of the written notices, on every backend: each notice gets the next
number of its office's series for the year of its date, in the transaction that issues it; the
case file shows the same number on every read, after a restart, and after the table is rebuilt
from the store; numbers stay unique under concurrent appends; notices issued before numbers were
kept get theirs from the migration, in the order of the store."""
from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from services.intake import adapters, domain, handlers, projections, views
from tests.integration.intake_world import MIGRATIONS, IntakeOnPostgres, IntakeOnSQLite, petition
from xinfang.contracts import encode, new_envelope
from xinfang.contracts.events import CaseAccepted, CaseAssigned, CaseSignedFor, DivisionAdded
from xinfang.privacy import PiiVault, resident_id_check_char
from xinfang.security import Principal
from xinfang.storage import Database, UnitOfWork, chain
from xinfang.storage.migrations import upgrade
from xinfang.storage.tables import events

CLERK = Principal("county-clerk", "clerk", "999901000000")
UNIT = "999901001-gov"
# the notices are dated in December 2025 and January 2026, about a year before the test runs:
# entered now, they are the administrator's corrections of the record (补录, xinfang.business_time)
RECORDS = Principal("records-admin", "admin", "999901000000")
WHY = "更正记录：纸质文书当时已送达"
VAULT = PiiVault("a secret")
OFFICE = "999901001000"  # 城关镇: the office a case of its villages is in


def from_routing(db, payload, case_id: str, at: datetime) -> None:
    env = new_envelope(payload, case_id=case_id, office=OFFICE, actor="dispatcher", producer="routing", occurred_at=at)
    with UnitOfWork(db) as uow:
        projections.on_routing_event(uow, env)


def town(db) -> None:
    for code, name, level in (("999901001000", "城关镇", "township"), ("999901001001", "村", "village")):
        from_routing(db, DivisionAdded(code=code, name=name, level=level), "", datetime(2025, 1, 1, tzinfo=UTC))


def signed_case(db, received: datetime, **kw) -> str:
    """A case received then, assigned and signed for by the unit an hour later."""
    command = petition(**kw)
    command = replace(command, registration=replace(command.registration, received_at=received),
                      occurred_at=received, backdate_reason=WHY)
    case_id = handlers.register_petition(db, VAULT, RECORDS, command)["case_id"]
    from_routing(db, CaseAssigned(unit_id=UNIT), case_id, received + timedelta(hours=1))
    from_routing(db, CaseSignedFor(unit_id=UNIT), case_id, received + timedelta(hours=1))
    return case_id


def person(n: int) -> str:
    """A valid resident ID number of one more person (no case of theirs repeats another's)."""
    body = f"11010519800101{n:03d}"
    return body + resident_id_check_char(body)


def accept(db, case_id: str, at: datetime) -> None:
    handlers.run_command(db, RECORDS, case_id, domain.DecideAcceptance("accepted", "normal", "予以受理。", UNIT,
                                                                       occurred_at=at, backdate_reason=WHY))


def numbers(db, case_id: str) -> list[str | None]:
    return [n["number"] for n in views.get_case(db, VAULT, CLERK, case_id)["notices"]]


def all_numbers(db) -> list[tuple]:
    c = adapters.notice_numbers.c
    with db.read() as conn:
        return list(conn.execute(sa.select(c.event_id, c.office, c.year, c.seq).order_by(c.event_id)))


DEC_2025 = datetime(2025, 12, 28, 1, tzinfo=UTC)
JAN_2026 = datetime(2026, 1, 3, 1, tzinfo=UTC)


class NoticeNumberContract:
    @pytest.fixture
    def db(self):
        raise NotImplementedError

    def test_each_notice_takes_the_next_number_of_its_offices_series_for_its_year(self, db):
        town(db)
        first = signed_case(db, DEC_2025, summary="一")
        accept(db, first, DEC_2025 + timedelta(days=1))
        handlers.run_command(db, RECORDS, first, domain.ExtendHandling(20, "需调查", "王局长",
                                                                       occurred_at=DEC_2025 + timedelta(days=2),
                                                                       backdate_reason=WHY))
        # the reply is dated in the new year: the series of 2026 begins at 1
        handlers.run_command(db, RECORDS, first, domain.ReplyToCase("supported", "已解决。",
                                                                    occurred_at=JAN_2026 + timedelta(days=1),
                                                                    backdate_reason=WHY))
        second = signed_case(db, JAN_2026, summary="二", id_number="11010519491231002X")
        accept(db, second, JAN_2026 + timedelta(days=2))
        assert numbers(db, first) == ["〔2025〕城关镇信访字第1号", "〔2025〕城关镇信访字第2号", "〔2026〕城关镇信访字第1号"]
        assert numbers(db, second) == ["〔2026〕城关镇信访字第2号"]

    def test_a_number_stays_the_same_on_every_read_after_a_restart_and_a_rebuild(self, db):
        town(db)
        cases = [signed_case(db, DEC_2025 + timedelta(hours=i), summary=f"事项{i}", id_number=person(i))
                 for i in range(3)]
        for i, case_id in enumerate(reversed(cases)):
            accept(db, case_id, DEC_2025 + timedelta(days=1, hours=i))
        shown = {c: numbers(db, c) for c in cases}
        assert sorted(n for ns in shown.values() for n in ns) == [f"〔2025〕城关镇信访字第{i}号" for i in (1, 2, 3)]
        again = Database(str(db.engine.url.render_as_string(hide_password=False)))  # a restarted service
        try:
            assert {c: numbers(again, c) for c in cases} == shown
        finally:
            again.dispose()
        before = all_numbers(db)
        with UnitOfWork(db) as uow:  # intake's projection rebuilt from its store
            uow.execute(adapters.notice_numbers.delete())
            assert adapters.renumber_notices(uow) == 3
        assert all_numbers(db) == before and {c: numbers(db, c) for c in cases} == shown

    def test_concurrent_notices_get_distinct_numbers_in_the_order_of_the_store(self, db):
        town(db)
        cases = [signed_case(db, DEC_2025, summary=f"并发{i}", id_number=person(i)) for i in range(8)]
        go = threading.Barrier(len(cases))
        failed: list[BaseException] = []

        def run(case_id: str) -> None:
            go.wait()
            try:
                accept(db, case_id, DEC_2025 + timedelta(days=1))
            except BaseException as exc:  # noqa: BLE001 - reported below
                failed.append(exc)

        threads = [threading.Thread(target=run, args=(c,)) for c in cases]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert failed == []
        got = all_numbers(db)
        assert sorted(seq for *_, seq in got) == list(range(1, len(cases) + 1))
        with UnitOfWork(db) as uow:
            uow.execute(adapters.notice_numbers.delete())
            adapters.renumber_notices(uow)
        assert all_numbers(db) == got


class TestNoticeNumbersOnSQLite(IntakeOnSQLite, NoticeNumberContract):
    pass


class TestNoticeNumbersOnPostgres(IntakeOnPostgres, NoticeNumberContract):
    pass


# ---------------------------------------------------------------- notices from before the numbers

class OldNoticesContract:
    url: str

    def test_the_migration_numbers_the_notices_issued_before_in_the_order_of_the_store(self, url):
        engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        upgrade(engine, MIGRATIONS, "intake_0011")
        engine.dispose()
        db = Database(url)
        try:
            # as intake_0011 wrote them: events, no numbers (and no hash chain yet)
            for i, at in enumerate((DEC_2025, DEC_2025 + timedelta(days=1), JAN_2026)):
                env = new_envelope(CaseAccepted(procedure="normal", notice="受理", unit_id=UNIT), case_id=f"old-{i}",
                                   office=OFFICE, actor="handler", producer="intake", occurred_at=at)
                env = env.model_copy(update={"stream_version": 1})
                with db.engine.begin() as c:
                    c.execute(events.insert(), dict(
                        event_id=env.event_id, stream_id=env.case_id, version=1, event_type=env.event_type,
                        schema_version=env.schema_version, case_id=env.case_id, occurred_at=env.occurred_at,
                        recorded_at=env.recorded_at, body=encode(env).decode()))
            db.migrate(MIGRATIONS)
            with db.read() as c:  # the chain's migration linked the events stored before it
                verdict = chain.verify(c)
            assert verdict.ok and verdict.size == 3
            with db.read() as c:
                rows = list(c.execute(sa.select(adapters.notice_numbers.c.case_id, adapters.notice_numbers.c.year,
                                                adapters.notice_numbers.c.seq).order_by("case_id")))
            assert rows == [("old-0", 2025, 1), ("old-1", 2025, 2), ("old-2", 2026, 1)]
        finally:
            db.dispose()


class TestOldNoticesOnSQLite(OldNoticesContract):
    @pytest.fixture
    def url(self, tmp_path):
        return f"sqlite:///{tmp_path / 'intake.db'}"


class TestOldNoticesOnPostgres(OldNoticesContract):
    @pytest.fixture
    def url(self, pg_url):
        return pg_url
