"""`xinfang import FILE`: 10,000 historical cases with their real dates; a rerun imports nothing twice;
a row that breaks a rule is refused whole, with its reason."""
import csv
import os
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.intake.importer import CSV_COLUMNS
from xinfang.privacy import resident_id_check_char

pytestmark = pytest.mark.e2e
XINFANG = str(Path(sys.executable).parent / "xinfang")
# the issue asks for 10,000 rows (XINFANG_IMPORT_ROWS=10000); CI imports 1,000 to stay within its time
N = int(os.environ.get("XINFANG_IMPORT_ROWS", "1000"))


def resident_id(rng: random.Random) -> str:
    body = f"{rng.choice(['110101', '330106', '999901'])}{rng.randint(1950, 2004)}{rng.randint(1, 12):02d}" \
           f"{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
    return body + resident_id_check_char(body)


def history_rows(n: int, seed: int = 7) -> list[dict]:
    """A plausible old-system export: every lifecycle step with real dates, 70 % online."""
    rng = random.Random(seed)
    start = datetime(2021, 1, 4, 1, 0, tzinfo=UTC)
    rows = []
    for i in range(n):
        t = start + timedelta(minutes=rng.randint(0, 4 * 365 * 24 * 60))
        d = lambda days, t=t: (t + timedelta(days=days, hours=rng.randint(0, 8))).isoformat()  # noqa: E731
        row = {c: "" for c in CSV_COLUMNS}
        row.update(legacy_id=f"OLD-{i:06d}", channel=rng.choices(["online", "letter", "visit", "phone"],
                                                                  [70, 12, 12, 6])[0],
                   received_at=t.isoformat(), registered_at=d(0), name=f"信访人{i}", id_type="resident_id",
                   id_number=resident_id(rng), phone=f"139{rng.randint(0, 99999999):08d}", address="示范县",
                   headcount="1", purpose=rng.choice(["suggestion", "accusation", "appeal"]),
                   category_code=rng.choice(["0702", "0501", "0901", "0801", "1101"]),
                   division_code=f"999901{rng.randint(1, 10):03d}{rng.randint(1, 10):03d}",
                   summary="历史事项", request="请求处理")
        step = rng.random()
        if step > 0.05:
            row.update(accepted_at=d(rng.randint(1, 20)), decision="accepted", acceptance_notice="受理")
            if step > 0.15:
                if rng.random() < 0.1:
                    row.update(extended_at=d(40), extension_days="30", extension_reason="复杂", extension_approver="局长")
                reply_day = rng.randint(45, 80)
                row.update(replied_at=d(reply_day), outcome="explained", reply_text="答复")
                if rng.random() < 0.6:
                    row.update(evaluated_at=d(reply_day + 5),
                               rating=rng.choice(["satisfied", "basically_satisfied", "dissatisfied"]))
                row.update(closed_at=d(reply_day + 10))
        rows.append(row)
    return rows


def test_ten_thousand_historical_cases_import_once(system, tmp_path):
    rows = history_rows(N)
    # three rows an old system really produces: a reply before acceptance, a date that cannot be read,
    # a second reply's date before the first step
    rows[10].update(accepted_at="", decision="", replied_at=rows[10]["replied_at"] or rows[10]["received_at"],
                    outcome="explained", reply_text="x", evaluated_at="", rating="", closed_at="")
    rows[20]["received_at"] = "2023-13-45"
    rows[30].update(accepted_at="2020-01-01T00:00:00+08:00", decision="accepted")
    path = tmp_path / "old-system.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        w.writeheader()
        w.writerows(rows)
    env = {**os.environ, "ROUTING_DATABASE_URL": system.db_urls["routing"],
           "XINFANG_DATA_DIR": str(system.stack.data_dir), "INTAKE_PORT": str(system.stack.services["intake"].port)}

    first = subprocess.run([XINFANG, "import", str(path), "--as", "demo-admin"], env=env, capture_output=True,
                           text=True, timeout=900)
    assert first.returncode == 0, first.stderr[-2000:]
    assert f"imported={N - 3} skipped=0 refused=3" in first.stdout, first.stdout + first.stderr[-1500:]
    report = (tmp_path / "old-system.csv.refused.csv").read_text(encoding="utf-8-sig")
    assert "OLD-000010" in report and "受理" in report
    assert "OLD-000020" in report and "received_at" in report
    assert "OLD-000030" in report and "occurred_at" in report

    engine = sa.create_engine(system.db_urls["intake"].replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as c:
        imported = c.execute(sa.text("SELECT count(*) FROM cases WHERE summary = '历史事项'")).scalar()
        events_before = c.execute(sa.text("SELECT count(*) FROM events")).scalar()
        # nothing half-imported: the refused row with a valid registration left no event at all
        import uuid

        from services.intake.handlers import IMPORT_NAMESPACE
        refused_id = str(uuid.uuid5(IMPORT_NAMESPACE, "OLD-000010"))
        assert c.execute(sa.text("SELECT count(*) FROM events WHERE case_id = :c"), {"c": refused_id}).scalar() == 0
        closed = c.execute(sa.text("SELECT count(*) FROM cases WHERE summary = '历史事项' AND status = 'closed'")).scalar()
        first_dates = c.execute(sa.text("SELECT min(occurred_at) FROM events")).scalar()
        # other services learn that these steps happened in the past, not now
        import json
        body = c.execute(sa.text("SELECT body FROM events WHERE event_type = 'CaseRegistered' LIMIT 1")).scalar()
        assert json.loads(body)["payload"]["imported"] is True
    assert imported == N - 3 and closed > N * 0.7
    assert first_dates.year == 2021  # the real dates, not today's

    again = subprocess.run([XINFANG, "import", str(path), "--as", "demo-admin"], env=env, capture_output=True,
                           text=True, timeout=900)
    assert again.returncode == 0 and f"imported=0 skipped={N - 3} refused=3" in again.stdout, again.stdout
    with engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM events")).scalar() == events_before
    engine.dispose()

    # routing and supervision take the imported cases as history: each unit has held its cases since
    # the old system registered them (nothing waits "to sign"), and the deadlines that passed in the
    # old system's past are no warnings for today's supervisors
    signed = system.wait_for(lambda: len(s := set(system.rows("routing", "SELECT event_id FROM events WHERE "
                                                                         "event_type = 'CaseSignedFor'"))) == N - 3 and s,
                             timeout=300, what="routing to assign every imported case")
    # every event of the import, intake's and routing's, applied by supervision (a case's routing
    # events come in order: its CaseSignedFor applied means its CaseAssigned was too)
    from services.supervision.streams import INTAKE_EVENTS  # the intake events supervision applies
    heard = signed | set(system.rows("intake", "SELECT event_id FROM events WHERE event_type IN ('"
                                               + "', '".join(sorted(INTAKE_EVENTS)) + "')"))
    system.wait_for(lambda: heard <= set(system.rows("supervision", "SELECT event_id FROM inbox")), timeout=300,
                    what="supervision to apply every event of the import")
    assert system.scalar("routing", "SELECT count(*) FROM assignments WHERE summary = '历史事项' "
                                    "AND inbox_state = 'to_sign'") == 0
    assert system.scalar("routing", "SELECT count(*) FROM events WHERE event_type = 'CaseSignedFor'") == N - 3
    assert system.scalar("supervision", "SELECT count(*) FROM events WHERE event_type IN "
                                        "('DeadlineWarned', 'DeadlineExpired')") == 0
