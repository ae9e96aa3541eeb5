"""The operator commands' pure parts: URLs, which dead letter a record is, the replay record,
a SQLite backup and its manifest, the refusal to restore a producer ahead of its backup."""
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from xinfang_cli import ops
from xinfang_cli.opsdb import CONSUMES, kind_of, libpq_url, without_password

XINFANG = str(Path(sys.executable).parent / "xinfang")


def test_urls_for_pg_tools_and_for_people():
    assert libpq_url("postgresql+psycopg://u:p@h:5432/db") == "postgresql://u:p@h:5432/db"
    assert libpq_url("postgresql://u@h/db") == "postgresql://u@h/db"
    assert without_password("postgresql://u:secret@h/db") == "postgresql://u@h/db"
    assert kind_of("sqlite:////tmp/x.db") == "sqlite" and kind_of("postgresql://h/db") == "postgresql"


def test_every_consumer_listed_reads_topics_that_exist():
    from xinfang.contracts import TOPICS

    assert set(CONSUMES) == {"intake", "routing", "supervision", "reporting"}
    assert all(t in TOPICS.values() for ts in CONSUMES.values() for t in ts)


def test_a_replay_takes_only_the_message_that_was_dead_lettered():
    letter = {"key": "case-1", "value": json.dumps({"event_id": "e-1", "payload": {"id": "1101**********1233"}})}
    same = SimpleNamespace(key=b"case-1", value=json.dumps({"event_id": "e-1"}).encode())
    other = SimpleNamespace(key=b"case-1", value=json.dumps({"event_id": "e-2"}).encode())
    moved = SimpleNamespace(key=b"case-2", value=json.dumps({"event_id": "e-1"}).encode())
    assert ops._matches(letter, same)
    assert not ops._matches(letter, other) and not ops._matches(letter, moved)
    # a letter of a message that was not JSON: the key decides
    assert ops._matches({"key": "case-1", "value": '{"oops": '}, same)


def _env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.endswith("_DATABASE_URL")}
    env["XINFANG_DATA_DIR"] = str(tmp_path)
    for i, n in enumerate(("intake", "routing", "supervision", "reporting")):
        env[f"{n.upper()}_PORT"] = str(1 + i)  # nothing answers there: "not running"
    return env


def _make_db(path: Path, events: int) -> None:
    with sqlite3.connect(path) as c:
        c.execute("CREATE TABLE events (position INTEGER PRIMARY KEY, event_id TEXT)")
        c.execute('CREATE TABLE positions (consumer TEXT, topic TEXT, "partition" INT, "offset" INT)')
        c.execute("CREATE TABLE inbox (consumer TEXT, event_id TEXT)")
        c.executemany("INSERT INTO events (event_id) VALUES (?)", [(f"e{i}",) for i in range(events)])
        c.execute("INSERT INTO positions VALUES ('intake', 'xinfang.routing.events', 0, 7)")


def test_a_sqlite_backup_has_a_manifest_and_a_producer_ahead_of_it_is_not_restored(tmp_path):
    _make_db(tmp_path / "intake.db", 3)
    r = subprocess.run([XINFANG, "backup", "-s", "intake", "--to", str(tmp_path / "b")], env=_env(tmp_path),
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    folder = Path(r.stdout.strip().splitlines()[-1])
    m = json.loads((folder / "manifest.json").read_text())["services"]["intake"]
    assert m["kind"] == "sqlite" and m["tables"]["events"] == 3
    assert m["positions"] == [{"consumer": "intake", "topic": "xinfang.routing.events", "partition": 0, "offset": 7}]
    with sqlite3.connect(folder / m["file"]) as c:
        assert c.execute("SELECT count(*) FROM events").fetchone()[0] == 3

    with sqlite3.connect(tmp_path / "intake.db") as c:
        c.execute("INSERT INTO events (event_id) VALUES ('after the backup')")
    r = subprocess.run([XINFANG, "restore", "intake", "--from", str(folder)], env=_env(tmp_path),
                       capture_output=True, text=True)
    assert r.returncode == 1 and "--force" in r.stderr and "Refused" in r.stderr
