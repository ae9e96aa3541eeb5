"""``xinfang backup`` and ``xinfang restore``: each service's database, with the topic positions
it had, into one dated folder; one service's database back from such a folder.

Backup. PostgreSQL: ``pg_dump -Fc`` run on a snapshot exported by a repeatable-read transaction, in
which the rows per table and the positions of the manifest are counted too, so the manifest says
exactly what the dump holds. SQLite: the online backup API into a copy, counted afterwards. The
manifest (``manifest.json``): time, and per service its database kind, file, rows per table and
positions (consumer, topic, partition, offset).

Restore, with the service stopped (refused while its /health answers):
1. the database is replaced by the backup's (``pg_restore --clean --single-transaction``, or the
   SQLite backup API back into the file);
2. its consumer group ``xinfang-<service>`` is made to start again from what the restored database
   applied: each partition's committed offset is set to the restored position (the last applied
   offset: read again, the inbox skips it) or to 0 where it applied nothing, or to 0 everywhere with
   ``--from-beginning``. The broker's committed offsets were ahead (the service had consumed more
   since the backup); left alone, the restarted service would never see what came in between.
   Every event after the position is then applied once: the inbox of the restored database knows
   exactly what it applied.
3. Routing and supervision append their own events: what they appended after the backup is gone
   from the restored store but is on their own topic. Before the service starts again the restore
   stages those events (``xinfang.storage.recovery``) and catches the database up
   (``xinfang.messaging.catchup``): what came from upstream since the backup and the staged events,
   in the order they were recorded. A reaction made again is the staged one, stored under its id
   and not republished; a person's command or a crossing the ticker fired is stored as it was and
   projected. Then the live consumer re-reads from the backup's positions and its inbox skips
   what the catch-up applied.
4. Intake is refused when its database has more events than the backup, unless ``--force``: the
   petitioners' personal data exists in its store alone (never on the broker), so the cases
   registered after the backup could not be brought back whole. Its protection is PostgreSQL's
   own (WAL archiving, a standby: docs/operations.md). Reporting is a pure consumer and restores
   without loss.
"""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from xinfang.config import SERVICES, service_settings, settings
from xinfang.contracts.topics import PRODUCERS
from xinfang.terminal import console, print_rows
from xinfang_cli.opsdb import (
    CONSUMES,
    bootstrap,
    broker_kind,
    database_url,
    engine_for,
    group_of,
    kind_of,
    libpq_url,
    sqlite_path,
    without_password,
)

MANIFEST = "manifest.json"


def register(app: typer.Typer) -> None:
    app.command()(backup)
    app.command()(restore)


def pg_tool(name: str) -> str:
    """pg_dump / pg_restore: ``XINFANG_PG_BIN`` if set, else the newest Debian server binaries, else PATH."""
    given = os.environ.get("XINFANG_PG_BIN")
    candidates = [Path(given) / name] if given else []
    candidates += sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
                         key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
                         reverse=True)
    for c in candidates:
        if c.exists():
            return str(c)
    found = shutil.which(name)
    if not found:
        console.print(f"[red]{name} not found: install PostgreSQL's client or set XINFANG_PG_BIN[/red]\n"
                      f"未找到 {name}：请安装 PostgreSQL 客户端或设置 XINFANG_PG_BIN")
        raise typer.Exit(1)
    return found


def _count_tables(c: sa.Connection, kind: str) -> dict[str, int]:
    if kind == "postgresql":
        names = c.execute(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                                  "ORDER BY tablename")).scalars().all()
    else:
        names = c.execute(sa.text("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' "
                                  "ORDER BY name")).scalars().all()
    return {n: int(c.execute(sa.text(f'SELECT count(*) FROM "{n}"')).scalar()) for n in names}


def _positions(c: sa.Connection) -> list[dict]:
    rows = c.execute(sa.text('SELECT consumer, topic, "partition", "offset" FROM positions '
                             'ORDER BY consumer, topic, "partition"'))
    return [{"consumer": r[0], "topic": r[1], "partition": int(r[2]), "offset": int(r[3])} for r in rows]


def _backup_one(service: str, folder: Path) -> dict:
    url = database_url(service)
    kind = kind_of(url)
    if kind == "sqlite":
        src, dst = sqlite_path(url), folder / f"{service}.db"
        if not src.exists():
            raise FileNotFoundError(f"no database at {src}")
        with sqlite3.connect(src) as s, sqlite3.connect(dst) as d:
            s.backup(d)
        with engine_for(f"sqlite:///{dst}") as e, e.connect() as c:
            tables, positions = _count_tables(c, kind), _positions(c)
        file = dst.name
    else:
        file = f"{service}.dump"
        with engine_for(url) as e, e.connect().execution_options(isolation_level="REPEATABLE READ") as c:
            snapshot = c.exec_driver_sql("SELECT pg_export_snapshot()").scalar()
            tables, positions = _count_tables(c, kind), _positions(c)
            # the dump sees exactly the snapshot the counts were taken in (the transaction stays open)
            out = subprocess.run([pg_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
                                  f"--snapshot={snapshot}", f"--file={folder / file}", libpq_url(url)],
                                 capture_output=True, text=True, timeout=3600)
            c.rollback()
        if out.returncode != 0:
            raise RuntimeError(f"pg_dump failed: {out.stderr.strip()[:500]}")
    return {"service": service, "kind": kind, "file": file, "database": without_password(url),
            "tables": tables, "positions": positions, "consumer_group": group_of(service)}


def backup(
    to: Path = typer.Option(None, "--to", help="where the dated folder goes (default <data dir>/backups)"),
    service: list[str] = typer.Option(list(SERVICES), "--service", "-s", help="which services (default all four)"),
):
    """Back up each service's database with its topic positions and a manifest into one dated folder
    (备份). Prints the folder."""
    unknown = [s for s in service if s not in SERVICES]
    if unknown:
        raise typer.BadParameter(f"unknown service(s) {unknown} / 未知的服务", param_hint="--service")
    now = datetime.now(UTC)
    folder = (to or settings().data_dir / "backups").resolve() / f"xinfang-backup-{now:%Y%m%dT%H%M%S.%f}Z"
    folder.mkdir(parents=True)
    manifest = {"format": 1, "created_at": now.isoformat(), "services": {}}
    with Progress(TextColumn("backing up 正在备份 {task.fields[what]}"), BarColumn(), MofNCompleteColumn(),
                  console=console) as bar:
        task = bar.add_task("backup", total=len(service), what="")
        for s in service:
            bar.update(task, what=s)
            try:
                manifest["services"][s] = _backup_one(s, folder)
            except Exception as exc:
                console.print(f"[red]backup of {s} failed: {exc}[/red]\n{s} 备份失败")
                (folder / "FAILED").write_text(f"{s}: {exc}\n")
                raise typer.Exit(1) from None
            bar.advance(task)
    (folder / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1))
    print_rows(("service", "kind", "file", "events", "inbox", "positions"),
               [(s, m["kind"], m["file"], m["tables"].get("events", "-"), m["tables"].get("inbox", "-"),
                 len(m["positions"])) for s, m in manifest["services"].items()])
    console.print(f"backup written 备份完成: {folder}")
    print(folder)


def _running(service: str) -> bool:
    import httpx

    ss = service_settings(service)
    try:
        httpx.get(f"http://{ss.host}:{ss.port}/health", timeout=1.5)
        return True
    except httpx.HTTPError:
        return False


def _current_events(url: str) -> int | None:
    try:
        with engine_for(url) as e, e.connect() as c:
            return int(c.execute(sa.text("SELECT count(*) FROM events")).scalar())
    except Exception:
        return None


def _restore_database(url: str, kind: str, file: Path) -> None:
    if kind == "sqlite":
        dst = sqlite_path(url)
        dst.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(file) as s, sqlite3.connect(dst) as d:
            s.backup(d)
        return
    out = subprocess.run([pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges",
                          "--single-transaction", "--exit-on-error", f"--dbname={libpq_url(url)}", str(file)],
                         capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        raise RuntimeError(f"pg_restore failed: {out.stderr.strip()[:800]}")


def reset_group(bs: str, service: str, offsets: dict, kind: str = "kafka", timeout: float = 60.0) -> None:
    """Set ``xinfang-<service>``'s committed offsets. The admin API's OffsetCommit needs a group
    without members. On Apache Kafka a stopped Faust app has left the group and a killed one's
    session expires within XINFANG_SESSION_TIMEOUT (6 s): a member still there after ``timeout``
    is a live one (the service running elsewhere), and the reset is refused. tansu keeps a stopped
    Faust member: there, after a few seconds, this joins the group itself (which evicts the stale
    member at the rebalance) and commits as its only member."""
    from kafka.structs import OffsetAndMetadata

    from xinfang.messaging.admin import admin_client

    commits = {tp: OffsetAndMetadata(o, "", -1) for tp, o in offsets.items()}
    admin = admin_client(bs)
    try:
        deadline = time.monotonic() + (timeout if kind == "kafka" else 8)
        while True:
            try:
                result = admin.alter_group_offsets(group_of(service), commits)
                errors = {tp: e for tp, e in result.items() if getattr(e, "errno", 0) != 0}
            except Exception as exc:  # the coordinator refuses while the group has members
                errors = {"group": exc}
            if not errors:
                return
            if time.monotonic() > deadline:
                if kind == "kafka":
                    raise RuntimeError(f"could not reset {group_of(service)}: a member is still in the group "
                                       f"(is {service} running elsewhere?): "
                                       f"{', '.join(f'{k}: {v}' for k, v in list(errors.items())[:3])}")
                break
            time.sleep(1.0)
    finally:
        admin.close()
    _commit_as_member(bs, service, commits, timeout)


_MARK = b"xinfang-restore"


def _assignor():
    """A kafka-python assignor under Faust's protocol name ("faust": the broker admits a new member
    only with a protocol the group's members share) that gives every partition to this command."""
    from kafka.coordinator.assignors.abstract import ConsumerProtocolAssignment, ConsumerProtocolSubscription
    from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor

    class TakeAll(RoundRobinPartitionAssignor):
        name = "faust"

        @classmethod
        def assign(cls, cluster, members):
            me = next((m.member_id for m in members if m.metadata.user_data == _MARK), members[0].member_id)
            topics = sorted({t for m in members for t in m.metadata.topics})
            mine = [(t, sorted(cluster.partitions_for_topic(t) or ())) for t in topics]
            return {m.member_id: ConsumerProtocolAssignment(cls.version, mine if m.member_id == me else [], b"")
                    for m in members}

        @classmethod
        def metadata(cls, topics):
            return ConsumerProtocolSubscription(cls.version, list(topics), _MARK)

    return TakeAll


def _commit_as_member(bs: str, service: str, commits: dict, timeout: float) -> None:
    from kafka import KafkaConsumer

    c = KafkaConsumer(bootstrap_servers=bs, group_id=group_of(service), enable_auto_commit=False,
                      auto_offset_reset="earliest", session_timeout_ms=6000, heartbeat_interval_ms=1000,
                      partition_assignment_strategy=[_assignor()], client_id="xinfang-restore")
    try:
        c.subscribe(sorted({tp.topic for tp in commits}))
        deadline = time.monotonic() + timeout
        while set(c.assignment()) != set(commits):
            if time.monotonic() > deadline:
                raise RuntimeError(f"could not join {group_of(service)} to reset it (another member holds "
                                   f"{len(set(commits) - set(c.assignment()))} partitions: is {service} running "
                                   "somewhere else?)")
            c.poll(timeout_ms=200, max_records=1, update_offsets=False)
        c.commit(commits)
    finally:
        c.close()


def restore(
    service: str = typer.Argument(..., help="the service whose database to restore"),
    from_: Path = typer.Option(..., "--from", exists=True, file_okay=False, help="a folder `xinfang backup` wrote"),
    from_beginning: bool = typer.Option(False, "--from-beginning",
                                        help="make the consumer read its topics from the start (the inbox skips "
                                             "what the restored database applied) instead of from its positions"),
    force: bool = typer.Option(False, "--force", help="restore intake even if the backup lacks events its current "
                                                      "database has (the personal data of the cases registered since "
                                                      "is lost)"),
):
    """Restore one service's database from a backup, with the service stopped, and make its consumer
    catch up from what the restored database applied; routing and supervision also get back from
    their own topic what they appended since (恢复). Then start the service."""
    from kafka import KafkaConsumer

    if service not in SERVICES:
        raise typer.BadParameter(f"unknown service {service!r} / 未知的服务", param_hint="SERVICE")
    try:
        manifest = json.loads((from_ / MANIFEST).read_text())
        entry = manifest["services"][service]
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        console.print(f"[red]{from_} holds no backup of {service} ({MANIFEST})[/red]\n{from_} 中没有 {service} 的备份")
        raise typer.Exit(1) from None
    url = database_url(service)
    if kind_of(url) != entry["kind"]:
        console.print(f"[red]the backup is {entry['kind']}, {service}'s database is {kind_of(url)}[/red]\n"
                      "备份与目标数据库类型不同")
        raise typer.Exit(1)
    if service == "intake":
        now, then = _current_events(url), entry["tables"].get("events", 0)
        if (now is None or now > then) and not force:
            console.print(
                f"[red]intake's database has {now if now is not None else '?'} events, the backup {then}. The cases "
                f"registered since would come back without their petitioners' personal data, which is in intake's "
                f"store alone. Refused; recover intake with PostgreSQL's WAL archive or standby "
                f"(docs/operations.md), or --force if its database is lost anyway.[/red]\n"
                "备份之后登记的信访人个人信息仅存于 intake 数据库，恢复将丢失，已拒绝；请用 PostgreSQL 的 WAL 归档或备库恢复，"
                "如确需恢复请加 --force")
            raise typer.Exit(1)
    if _running(service):
        console.print(f"[red]{service} is running ({service_settings(service).port}/health answers): stop it "
                      f"first[/red]\n{service} 正在运行，请先停止")
        raise typer.Exit(1)
    bs = bootstrap()
    catching_up = service in PRODUCERS and service != "intake"
    with Progress(TextColumn("restoring 正在恢复 {task.fields[what]}"), BarColumn(), MofNCompleteColumn(),
                  console=console) as bar:
        task = bar.add_task("restore", total=4 if catching_up else 2, what=f"{service} database")
        try:
            _restore_database(url, entry["kind"], from_ / entry["file"])
        except Exception as exc:
            console.print(f"[red]restore of {service} failed: {exc}[/red]\n{service} 恢复失败")
            raise typer.Exit(1) from None
        bar.advance(task)
        with engine_for(url) as e, e.connect() as c:
            positions = {(p["topic"], p["partition"]): p["offset"] for p in _positions(c) if p["consumer"] == service}
        c = KafkaConsumer(bootstrap_servers=bs, group_id=None, enable_auto_commit=False)
        try:
            from xinfang_cli.ops import partitions_of

            tps = partitions_of(c, CONSUMES[service])
        finally:
            c.close()
        offsets = {tp: 0 if from_beginning else positions.get((tp.topic, tp.partition), 0) for tp in tps}
        if not tps:
            console.print("[red]the broker knows none of the topics[/red]\n消息代理中没有相关主题")
            raise typer.Exit(1)
        summary = None
        if catching_up:
            summary = _catch_up(service, url, bs, offsets, bar, task)
        bar.update(task, what=f"consumer group {group_of(service)}")
        try:
            reset_group(bs, service, offsets, kind=broker_kind())
        except RuntimeError as exc:
            console.print(f"[red]database restored, but {exc}; run the restore again with {service} stopped[/red]\n"
                          f"数据库已恢复，但消费组偏移未能重置，请在停止 {service} 后重试")
            raise typer.Exit(1) from None
        bar.advance(task)
    print_rows(("topic", "partition", "restored_position", "starts_at"),
               [(tp.topic, tp.partition, positions.get((tp.topic, tp.partition), "-"), o)
                for tp, o in sorted(offsets.items())])
    if summary is not None:
        print()  # piped: a blank line between the two tables
        _report_catch_up(service, summary)
    console.print(f"{service} restored from {from_} ({manifest.get('created_at')}); {group_of(service)} starts again "
                  f"from {'the beginning' if from_beginning else 'the restored positions'}: start {service} now.\n"
                  f"{service} 已恢复，消费组将从{'头' if from_beginning else '恢复的位置'}重新消费；现在启动 {service}。")
    if summary is not None and summary["done"].stored_only:
        raise typer.Exit(3)


def _catch_up(service: str, url: str, bs: str, offsets: dict, bar: Progress, task) -> dict:
    """Stage the service's own events the restored store lacks, then catch it up
    (``xinfang.messaging.catchup``): returns what was done."""
    import importlib

    from xinfang.checkpointing import with_checkpoints
    from xinfang.contracts import topic_for
    from xinfang.messaging import catchup
    from xinfang.storage import Database, recovery
    from xinfang.storage.tables import outbox
    from xinfang_cli.ops import _consumer, partitions_of

    started = datetime.now(UTC)
    streams = importlib.import_module(f"services.{service}.streams")
    subscriptions, replay_own = streams.restore_wiring()
    subscriptions = with_checkpoints(subscriptions, service)  # those heard since the backup, kept again
    db = Database(url)
    try:
        db.migrate(Path(importlib.import_module(f"services.{service}").__file__).parent / "migrations")
        bar.update(task, what=f"reading {topic_for(service)} (its own events)")
        c = _consumer(bs)
        try:
            own_tps = partitions_of(c, [topic_for(service)])
            own = [d.envelope for part in catchup.read_since(c, own_tps, {}, until=started) for d in part]
        finally:
            c.close()
        with db.engine.begin() as conn:
            recovery.ensure_table(conn)
            staged = recovery.stage(conn, own)
        staged_events = []
        with db.engine.connect() as conn:
            staged_events = recovery.staged(conn)
            waiting_before = conn.execute(sa.select(sa.func.count()).select_from(outbox)
                                          .where(outbox.c.published_at.is_(None))).scalar()
        bar.advance(task)
        bar.update(task, what=f"catching up 追赶 ({staged} own events staged)")
        c = _consumer(bs)
        try:
            upstream = catchup.read_since(c, list(offsets), offsets, until=started)
        finally:
            c.close()
        done = catchup.catch_up(db, service, subscriptions, replay_own, upstream)
        with db.engine.connect() as conn:
            waiting_after = conn.execute(sa.select(sa.func.count()).select_from(outbox)
                                         .where(outbox.c.published_at.is_(None))).scalar()
        bar.advance(task)
    finally:
        db.dispose()
    passwords = sorted({e.payload.get("username") for e in staged_events
                        if e.event_type == "StaffAccessRevoked" and e.payload.get("reason") == "password_changed"})
    return {"staged": staged, "upstream_read": sum(len(p) for p in upstream), "done": done,
            "new": int(waiting_after or 0) - int(waiting_before or 0), "passwords": passwords}


def _report_catch_up(service: str, s: dict) -> None:
    done = s["done"]
    print_rows(("own_events_staged", "made_again", "replayed", "stored_only", "upstream_read", "applied",
                "skipped", "refused", "new_events"),
               [(s["staged"], done.reproduced, done.replayed, len(done.stored_only), s["upstream_read"],
                 done.applied, done.skipped, done.refused, s["new"])])
    if done.stored_only:
        console.print(f"[yellow]{len(done.stored_only)} of {service}'s own events could be neither made again nor "
                      "projected: they are in its store again, but its read models may lack them: "
                      + ", ".join(f"{e.event_type} {e.event_id} ({e.case_id})" for e in done.stored_only[:10])
                      + "[/yellow]\n部分事件已写回存储但未能投影到读模型")
    if s["new"] > 0:
        console.print(f"[yellow]the catch-up decided {s['new']} events anew (not on the broker before); they are "
                      f"published when {service} starts[/yellow]\n追赶过程中产生了 {s['new']} 个新事件")
    if s["passwords"]:
        console.print("[yellow]passwords changed after the backup are the backup's again (no event carries a "
                      "password): set them anew with `xinfang users passwd` for "
                      + ", ".join(s["passwords"]) + "[/yellow]\n备份之后修改过的密码已恢复为旧密码，请重新设置")
