"""Intake's case list on every backend: paging walks the whole list once, newest registration first,
and a township's clerk pages through their own township's cases only. And the status a case
answers, the same in its file, its public tracking view and the list, as routing assigns it and
the unit decides."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.intake import domain, handlers, projections, views
from services.intake.adapters import cases
from tests.integration.intake_world import IntakeOnPostgres, IntakeOnSQLite, known_village, petition
from xinfang.contracts import new_envelope
from xinfang.contracts.events import CaseAssigned, CaseObjected, CaseSignedFor, DivisionAdded
from xinfang.labels import STATUS
from xinfang.privacy import PiiVault
from xinfang.security import Principal
from xinfang.storage import UnitOfWork

COUNTY = Principal("county-admin", "admin", "999901000000")
TOWNSHIP_A = Principal("clerk-a", "clerk", "999901001000")
T0 = datetime(2025, 3, 1, 1, tzinfo=UTC)


def case_row(i: int) -> dict:
    # every third pair of cases shares its registration instant: the order must still be total
    at = T0 + timedelta(minutes=i // 2)
    office = "999901001000" if i % 3 else "999901002000"
    return dict(case_id=f"C-{i:05d}", tracking_code=f"T{i:09d}", status="registered", office=office,
                division_code=office[:9] + "001", category_code="0702", channel="online", purpose="appeal",
                headcount=1, summary=f"事项 {i}", request="", received_at=at, registered_at=at, unit_id=None,
                version=1, flags="first_petition", repeat_of=None, final=False, updated_at=None,
                owner_leader=None, co_unit_ids="")


def walk(db, user, limit: int) -> tuple[list[str], set[int]]:
    seen, totals, offset = [], set(), 0
    while True:
        page = views.list_cases(db, user, limit=limit, offset=offset)
        totals.add(page["total"])
        seen += [c["case_id"] for c in page["items"]]
        if len(page["items"]) < limit:
            return seen, totals
        offset += limit


class CaseListContract:
    N = 137

    @pytest.fixture
    def db(self):
        raise NotImplementedError

    @pytest.fixture
    def stored(self, db):
        rows = [case_row(i) for i in range(self.N)]
        with db.engine.begin() as c:
            c.execute(cases.insert(), rows)
        return rows

    def test_paging_walks_every_case_once_newest_first(self, db, stored):
        seen, totals = walk(db, COUNTY, limit=20)
        assert totals == {self.N}
        assert len(seen) == len(set(seen)) == self.N
        expected = sorted(stored, key=lambda r: (r["registered_at"], r["case_id"]), reverse=True)
        assert seen == [r["case_id"] for r in expected]

    def test_a_townships_pages_hold_only_its_cases(self, db, stored):
        seen, totals = walk(db, TOWNSHIP_A, limit=20)
        mine = [r["case_id"] for r in stored if r["office"] == "999901001000"]
        assert totals == {len(mine)}
        assert sorted(seen) == sorted(mine)

    def test_a_page_past_the_end_is_empty_and_still_counts(self, db, stored):
        page = views.list_cases(db, COUNTY, limit=20, offset=10_000)
        assert page["items"] == [] and page["total"] == self.N


class TestCaseListOnSQLite(IntakeOnSQLite, CaseListContract):
    pass


class TestCaseListOnPostgres(IntakeOnPostgres, CaseListContract):
    pass


# ---------------------------------------------------------------- the status a case answers with

CLERK = Principal("county-clerk", "clerk", "999901000000")
HANDLER = Principal("handler", "handler", "999901001000", unit_id="999901001-gov")
VAULT = PiiVault("a secret")


def from_routing(db, payload, case_id: str = "") -> None:
    env = new_envelope(payload, case_id=case_id, office="999901001000", actor="dispatcher", producer="routing",
                       occurred_at=T0 + timedelta(days=1))
    with UnitOfWork(db) as uow:
        projections.on_routing_event(uow, env)


def registered(db) -> dict:
    from_routing(db, DivisionAdded(code="999901001001", name="村", level="village"))
    reg = domain.Registration(
        channel="letter", received_at=T0, headcount=1, purpose="appeal", category_code="0702",
        division_code="999901001001", summary="拖欠工资", request="请求支付",
        petitioners=[domain.PetitionerDetails("p1", "张三", "resident_id", "110101199003071233", None, "")])
    return handlers.register_petition(db, VAULT, CLERK, domain.RegisterPetition(reg))


def answered(db, case: dict) -> tuple[str, str, str]:
    """The status the case file, the public tracking view and the case list answer."""
    listed = {c["case_id"]: c["status"] for c in views.list_cases(db, CLERK)["items"]}
    return (views.get_case(db, VAULT, CLERK, case["case_id"])["status"],
            views.track(db, case["tracking_code"])["status"], listed[case["case_id"]])


class CaseStatusContract:
    @pytest.fixture
    def db(self):
        raise NotImplementedError

    def test_a_registered_case_reads_assigned_once_routing_assigns_it_even_after_an_objection(self, db):
        case = registered(db)
        assert case["status"] == "registered" and answered(db, case) == ("registered",) * 3
        from_routing(db, CaseAssigned(unit_id="999901001-gov"), case["case_id"])
        assert answered(db, case) == ("assigned",) * 3
        from_routing(db, CaseObjected(unit_id="999901001-gov", reason="不属本单位职责"), case["case_id"])
        assert answered(db, case) == ("assigned",) * 3

    def test_the_units_decision_replaces_assigned_and_a_later_assignment_leaves_it(self, db):
        case = registered(db)
        from_routing(db, CaseAssigned(unit_id="999901001-gov"), case["case_id"])
        from_routing(db, CaseSignedFor(unit_id="999901001-gov"), case["case_id"])
        decided = handlers.run_command(db, HANDLER, case["case_id"],
                                       domain.DecideAcceptance("accepted", "normal", "受理", HANDLER.unit_id))
        assert decided["status"] == "accepted" and answered(db, case) == ("accepted",) * 3
        from_routing(db, CaseAssigned(unit_id="999901001-gov", stage="review"), case["case_id"])
        assert answered(db, case) == ("accepted",) * 3

    def test_an_acceptance_waits_for_the_signing_of_the_units_current_assignment(self, db):
        case = registered(db)
        accept = lambda: handlers.run_command(db, HANDLER, case["case_id"], domain.DecideAcceptance(  # noqa: E731
            "accepted", "normal", "受理", HANDLER.unit_id))
        from_routing(db, CaseAssigned(unit_id="999901001-gov"), case["case_id"])
        with pytest.raises(domain.RuleViolation, match="signed"):
            accept()
        from_routing(db, CaseSignedFor(unit_id="999901-d03"), case["case_id"])  # another unit's signing
        with pytest.raises(domain.RuleViolation, match="signed"):
            accept()
        from_routing(db, CaseSignedFor(unit_id="999901001-gov"), case["case_id"])
        from_routing(db, CaseObjected(unit_id="999901001-gov", reason="不属本单位"), case["case_id"])
        from_routing(db, CaseAssigned(unit_id="999901001-gov"), case["case_id"])  # reassigned: to sign again
        with pytest.raises(domain.RuleViolation, match="signed"):
            accept()
        from_routing(db, CaseSignedFor(unit_id="999901001-gov"), case["case_id"])
        assert accept()["status"] == "accepted"

    @pytest.mark.parametrize("stored", sorted(STATUS))
    def test_an_assignment_stores_the_rule_applied_to_the_stored_status(self, db, stored):
        with db.engine.begin() as c:
            c.execute(cases.insert(), [{**case_row(0), "status": stored}])
        from_routing(db, CaseAssigned(unit_id="999901001-gov", co_unit_ids=["999901-d03"]), "C-00000")
        with db.engine.connect() as c:
            row = c.execute(cases.select()).mappings().one()
        assert row["status"] == domain.case_status(stored, assigned=True)
        assert (row["unit_id"], row["co_unit_ids"]) == ("999901001-gov", "999901-d03")


class TestCaseStatusOnSQLite(IntakeOnSQLite, CaseStatusContract):
    pass


class TestCaseStatusOnPostgres(IntakeOnPostgres, CaseStatusContract):
    pass


# ---------------------------------------------------------------- finding a case

TOWNSHIP_B = Principal("clerk-b", "clerk", "999901002000")


def registered_for(db, village: str, name: str, id_number: str, summary: str) -> dict:
    known_village(db, village)
    return handlers.register_petition(db, VAULT, CLERK, petition(id_number, division=village, summary=summary,
                                                                 name=name))


class CaseSearchContract:
    @pytest.fixture
    def db(self):
        raise NotImplementedError

    @pytest.fixture
    def three(self, db):
        return [registered_for(db, "999901001001", "王小明", "110101199003071233", "拖欠工资"),
                registered_for(db, "999901001001", "李四", "11010519491231002X", "土地征收补偿"),
                registered_for(db, "999901002001", "王小明", "110101199003071233", "房屋拆迁")]

    def found(self, db, user, q: str) -> set[str]:
        return {c["case_id"] for c in views.list_cases(db, user, views.CaseFilter(q=q), vault=VAULT)["items"]}

    def test_a_case_is_found_by_tracking_code_typed_any_way(self, db, three):
        code = three[1]["tracking_code"]
        for typed in (code, code.replace("-", ""), code.lower(), code.replace("-", " ")):
            assert self.found(db, CLERK, typed) == {three[1]["case_id"]}, typed

    def test_a_case_is_found_by_a_petitioners_name_id_number_or_masked_id_number(self, db, three):
        mine = {three[0]["case_id"], three[2]["case_id"]}
        assert self.found(db, CLERK, "王小明") == mine
        assert self.found(db, CLERK, "110101199003071233") == mine
        assert self.found(db, CLERK, "11010519491231002x") == {three[1]["case_id"]}  # a lower-case X too
        assert self.found(db, CLERK, "1101**********1233") == mine
        assert self.found(db, CLERK, "征收") == {three[1]["case_id"]}
        assert self.found(db, CLERK, "110101199003071234") == set()

    def test_a_search_counts_every_match_and_pages_them_newest_first(self, db, three):
        pages = [views.list_cases(db, CLERK, views.CaseFilter(q="王小明"), limit=1, offset=i, vault=VAULT)
                 for i in range(3)]
        assert [p["total"] for p in pages] == [2, 2, 2]
        assert [[c["case_id"] for c in p["items"]] for p in pages] == [[three[2]["case_id"]], [three[0]["case_id"]], []]

    def test_search_stays_within_the_users_scope(self, db, three):
        assert self.found(db, TOWNSHIP_A, "110101199003071233") == {three[0]["case_id"]}
        assert self.found(db, TOWNSHIP_B, "王小明") == {three[2]["case_id"]}
        assert self.found(db, TOWNSHIP_B, three[1]["tracking_code"]) == set()

    def test_the_cases_of_another_services_list_are_named_by_their_tracking_codes(self, db, three):
        """The console names the cases of supervision's lists (which hold only ids) by intake's
        tracking codes, and only those the user may see."""
        wanted = (three[0]["case_id"], three[2]["case_id"])
        page = views.list_cases(db, TOWNSHIP_A, views.CaseFilter(case_ids=wanted))["items"]
        assert [(c["case_id"], c["tracking_code"]) for c in page] == [(three[0]["case_id"], three[0]["tracking_code"])]
        assert {c["case_id"] for c in views.list_cases(db, CLERK, views.CaseFilter(case_ids=wanted))["items"]} == set(wanted)


class TestCaseSearchOnSQLite(IntakeOnSQLite, CaseSearchContract):
    pass


class TestCaseSearchOnPostgres(IntakeOnPostgres, CaseSearchContract):
    pass


# ---------------------------------------------------------------- the registration's business time

class RegistrationTimeContract:
    @pytest.fixture
    def db(self):
        raise NotImplementedError

    def register(self, db, received_at, **command):
        from_routing(db, DivisionAdded(code="999901001001", name="村", level="village"))
        reg = domain.Registration(
            channel="visit", received_at=received_at, headcount=1, purpose="appeal", category_code="0702",
            division_code="999901001001", summary="拖欠工资", request="请求支付",
            petitioners=[domain.PetitionerDetails("p1", "张三", "resident_id", "110101199003071233", None, "")])
        case = handlers.register_petition(db, VAULT, CLERK, domain.RegisterPetition(reg, **command))
        return views.get_case(db, VAULT, CLERK, case["case_id"])["history"][0]

    def test_a_live_registration_happens_now_whenever_the_visit_came_in(self, db):
        from datetime import UTC, datetime

        step = self.register(db, T0)
        assert abs(step["occurred_at"] - datetime.now(UTC)) < timedelta(minutes=1) and step["backdated"] is None

    def test_a_visit_of_this_minute_a_little_ahead_of_the_clock_registers_now(self, db):
        from datetime import UTC, datetime

        step = self.register(db, datetime.now(UTC) + timedelta(minutes=1))
        assert step["backdated"] is None

    def test_a_registration_entered_late_is_marked_and_never_before_the_receipt(self, db):
        from datetime import UTC, datetime

        from xinfang.errors import InvalidInput

        yesterday = datetime.now(UTC) - timedelta(days=1)
        with pytest.raises(InvalidInput) as err:
            self.register(db, yesterday, occurred_at=yesterday - timedelta(hours=1), backdate_reason="补录")
        assert err.value.field == "occurred_at"
        step = self.register(db, yesterday - timedelta(hours=1), occurred_at=yesterday,
                             backdate_reason="来访登记表当日已填写")
        assert step["occurred_at"] == yesterday and step["backdated"]["entered_by"] == CLERK.username


class TestRegistrationTimeOnSQLite(IntakeOnSQLite, RegistrationTimeContract):
    pass
