"""The `xinfang` command as an operator uses it."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import unique_topic
from xinfang.contracts import all_topics
from xinfang.messaging.admin import ensure_topics, list_topics
from xinfang.messaging.broker import free_port

XINFANG = str(Path(sys.executable).parent / "xinfang")


def test_help_lists_the_commands():
    out = subprocess.run([XINFANG, "--help"], capture_output=True, text=True, check=True).stdout
    assert "up" in out and "topics" in out


def test_topics_are_created_explicitly_with_their_dead_letter_topics(kafka_bootstrap):
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}
    subprocess.run([XINFANG, "topics", "create", "--partitions", "4"], env=env, check=True, capture_output=True)
    listed = subprocess.run([XINFANG, "topics", "list"], env=env, check=True, capture_output=True, text=True).stdout
    topics = list_topics(kafka_bootstrap)
    for t in all_topics():
        assert topics[t] == 4 and t in listed
    assert "xinfang.intake.events.dlq" in topics


def test_creating_topics_twice_creates_nothing_the_second_time(kafka_bootstrap):
    t = unique_topic()
    assert ensure_topics(kafka_bootstrap, partitions=3, topics=[t]) == [t]
    assert ensure_topics(kafka_bootstrap, partitions=3, topics=[t]) == []
    assert list_topics(kafka_bootstrap)[t] == 3


def test_topics_without_a_broker_say_how_to_get_one():
    env = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
    r = subprocess.run([XINFANG, "topics", "list"], env=env, capture_output=True, text=True)
    assert r.returncode == 2 and "KAFKA_BOOTSTRAP_SERVERS" in r.stderr



@pytest.mark.e2e
def test_up_starts_everything_and_ctrl_c_stops_everything(tmp_path):
    ports = {n: free_port() for n in ("intake", "routing", "supervision", "reporting", "web")}
    env = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
    env.update({f"{n.upper()}_PORT": str(p) for n, p in ports.items()})
    proc = subprocess.Popen([XINFANG, "up", "--data-dir", str(tmp_path)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        healthy: set = set()
        while healthy != set(ports) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read().decode()
            for n, p in ports.items():
                try:
                    if httpx.get(f"http://127.0.0.1:{p}/health", timeout=1).status_code == 200:
                        healthy.add(n)
                except httpx.HTTPError:
                    pass
            time.sleep(0.3)
        assert healthy == set(ports)
        os.killpg(proc.pid, signal.SIGINT)
        out = proc.communicate(timeout=30)[0].decode()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, out
    # logs are prefixed by service, and nothing still listens
    for n in ports:
        assert f"{n:<11}|" in out
    for p in ports.values():
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{p}/health", timeout=1)


def test_keys_prints_a_pair_that_signs_and_verifies(tmp_path):
    from xinfang.security import Principal, TokenIssuer, TokenVerifier

    out = subprocess.run([XINFANG, "keys"], capture_output=True, text=True, check=True).stdout
    script = tmp_path / "k.sh"
    script.write_text(out + 'printf "%s" "$XINFANG_TOKEN_SIGNING_KEY" > signing; '
                            'printf "%s" "$XINFANG_TOKEN_VERIFY_KEY" > verify\n')
    subprocess.run(["bash", str(script)], cwd=tmp_path, check=True)
    private = (tmp_path / "signing").read_text().replace("\\n", "\n")
    public = (tmp_path / "verify").read_text().replace("\\n", "\n")
    token, _ = TokenIssuer(private).issue(Principal("u", "clerk", "999901000000"))
    assert TokenVerifier(public).verify(token).username == "u"


def test_users_and_token_from_the_command_line(tmp_path):
    env = {**os.environ, "XINFANG_DATA_DIR": str(tmp_path), "XINFANG_NEW_PASSWORD": "long-enough-pw"}
    env.pop("ROUTING_DATABASE_URL", None)
    # the organisation must know the jurisdiction first: seed the demo county into routing's store
    from services.routing import seed
    from services.routing.bootstrap import MIGRATIONS
    from xinfang.storage import Database

    db = Database(f"sqlite:///{tmp_path / 'routing.db'}")
    db.migrate(MIGRATIONS)
    seed.seed_demo(db)
    r = subprocess.run([XINFANG, "users", "add", "zhang", "--role", "clerk", "--jurisdiction", "999901003000"],
                       env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    again = subprocess.run([XINFANG, "users", "add", "zhang", "--role", "clerk", "--jurisdiction", "999901003000"],
                           env=env, capture_output=True, text=True)
    assert again.returncode == 1 and "已存在" in again.stderr
    bad = subprocess.run([XINFANG, "users", "add", "li", "--role", "handler", "--jurisdiction", "999901000000"],
                         env=env, capture_output=True, text=True)
    assert bad.returncode == 1 and "unit" in bad.stderr
    listed = subprocess.run([XINFANG, "users", "list"], env=env, capture_output=True, text=True).stdout
    assert "zhang" in listed and "demo-township-clerk" in listed
    tok = subprocess.run([XINFANG, "token", "zhang"], env=env, capture_output=True, text=True, check=True).stdout.strip()
    from xinfang.security import TokenVerifier

    p = TokenVerifier((tmp_path / "keys" / "token-verify.pem").read_text()).verify(tok)
    assert (p.username, p.role, p.jurisdiction) == ("zhang", "clerk", "999901003000")
    assert subprocess.run([XINFANG, "users", "disable", "zhang"], env=env, capture_output=True).returncode == 0
    assert subprocess.run([XINFANG, "token", "zhang"], env=env, capture_output=True).returncode == 1


def test_audit_verify_passes_an_untouched_store_and_names_the_position_of_an_edit(tmp_path):
    """`xinfang audit verify` over a service database as its operator has it: exit 0 while the
    store is as written; an event edited behind the triggers' back gives exit 1 and its position."""
    import sqlalchemy as sa

    from xinfang.contracts import new_envelope
    from xinfang.contracts.events import CaseAssigned
    from xinfang.storage import Database, UnitOfWork

    url = f"sqlite:///{tmp_path / 'routing.db'}"
    db = Database(url)
    db.migrate(Path(__file__).resolve().parents[1] / "services" / "routing" / "migrations")
    for i in range(30):
        with UnitOfWork(db) as uow:
            uow.append(f"c{i}", 0, [new_envelope(CaseAssigned(unit_id="u"), case_id=f"c{i}", office="999901001000",
                                                 actor="test", producer="routing")])
    db.dispose()
    env = {**os.environ, "ROUTING_DATABASE_URL": url}
    ok = subprocess.run([XINFANG, "audit", "verify", "routing"], env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "30" in ok.stdout and "ok" in ok.stdout
    engine = sa.create_engine(url)
    with engine.begin() as c:
        c.exec_driver_sql("DROP TRIGGER events_append_only_update")
        c.exec_driver_sql("UPDATE events SET body = replace(body, '\"u\"', '\"v\"') WHERE position = 12")
    engine.dispose()
    bad = subprocess.run([XINFANG, "audit", "verify", "routing"], env=env, capture_output=True, text=True)
    assert bad.returncode == 1
    assert "seq 12, position 12" in bad.stdout + bad.stderr
    unknown = subprocess.run([XINFANG, "audit", "verify", "nosuch"], env=env, capture_output=True, text=True)
    assert unknown.returncode == 2 and "nosuch" in unknown.stderr
