"""A registration re-sent with its Idempotency-Key, on every backend: stored once, even when the
retry races the first send, and the same key with another body is refused."""
from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from services.intake import domain, handlers
from tests.integration.intake_world import IntakeOnPostgres, IntakeOnSQLite, known_village, petition
from xinfang.errors import InvalidInput
from xinfang.privacy import PiiVault
from xinfang.security import Principal
from xinfang.storage.idempotency import checked_key, request_hash
from xinfang.storage.tables import events

CLERK = Principal("county-clerk", "clerk", "999901000000")
OTHER_CLERK = Principal("another-clerk", "clerk", "999901000000")
VAULT = PiiVault("a secret of the test, long enough to pass")
T0 = datetime(2026, 3, 2, 1, tzinfo=UTC)
BODY = {"summary": "拖欠工资", "request": "请求支付"}


def command(summary: str = "拖欠工资") -> domain.RegisterPetition:
    return petition(summary=summary)


def stored_events(db) -> int:
    with db.read() as c:
        return c.execute(sa.select(sa.func.count()).select_from(events)).scalar()


class IdempotencyContract:
    @pytest.fixture
    def db(self):
        raise NotImplementedError

    @pytest.fixture(autouse=True)
    def village(self, db):
        known_village(db)

    def test_a_retry_answers_the_first_result_and_registers_nothing(self, db):
        once = ("key-1", request_hash(BODY))
        first = handlers.register_petition(db, VAULT, CLERK, command(), idempotency=once)
        again = handlers.register_petition(db, VAULT, CLERK, command(), idempotency=once)
        assert again.pop("replayed") is True and "replayed" not in first
        assert again["case_id"] == first["case_id"] and again["tracking_code"] == first["tracking_code"]
        assert stored_events(db) == 1
        # the same key of another user is theirs, and no key means no memory
        theirs = handlers.register_petition(db, VAULT, OTHER_CLERK, command(), idempotency=once)
        assert theirs["case_id"] != first["case_id"]
        handlers.register_petition(db, VAULT, CLERK, command())
        assert stored_events(db) == 3

    def test_the_same_key_with_another_body_is_a_422_naming_the_header(self, db):
        handlers.register_petition(db, VAULT, CLERK, command(), idempotency=("key-2", request_hash(BODY)))
        with pytest.raises(InvalidInput) as refused:
            handlers.register_petition(db, VAULT, CLERK, command("另一件事"),
                                       idempotency=("key-2", request_hash({**BODY, "summary": "另一件事"})))
        assert refused.value.field == "Idempotency-Key" and refused.value.message_zh
        assert stored_events(db) == 1

    def test_two_sends_at_once_store_one_petition(self, db):
        once = ("key-3", request_hash(BODY))
        results: list[dict] = []
        errors: list[BaseException] = []
        start = threading.Barrier(4)

        def send():
            start.wait()
            try:
                results.append(handlers.register_petition(db, VAULT, CLERK, command(), idempotency=once))
            except BaseException as exc:  # noqa: BLE001 - the test reports it
                errors.append(exc)

        threads = [threading.Thread(target=send) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == [] and len(results) == 4
        assert len({r["case_id"] for r in results}) == 1
        assert sum(bool(r.get("replayed")) for r in results) == 3
        assert stored_events(db) == 1


def test_a_key_is_visible_ascii_of_at_most_200_characters():
    assert checked_key("0b4c5d2e-8f7a-4a9b-9c1d-2e3f4a5b6c7d") == "0b4c5d2e-8f7a-4a9b-9c1d-2e3f4a5b6c7d"
    assert checked_key(None) is None
    for bad in ("", "with space", "x" * 201, "键"):
        with pytest.raises(InvalidInput):
            checked_key(bad)


class TestIdempotencyOnSQLite(IntakeOnSQLite, IdempotencyContract):
    pass


class TestIdempotencyOnPostgres(IntakeOnPostgres, IdempotencyContract):
    pass
