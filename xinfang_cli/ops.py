"""Operator commands on the broker: ``xinfang lag`` (how far each consumer is behind, and each
service's outbox backlog) and ``xinfang dlq list | show | replay`` (dead letters).

Lag. A consumer's applied offset per partition is its ``positions`` row (written with the effect,
docs/architecture.md); the broker's committed offset of ``xinfang-<service>`` is shown beside it,
because a consumer also moves past messages it skips by type without recording them. The lag is
``end - max(applied + 1, committed)``. The end offset comes from the broker: on Apache Kafka its
ListOffsets answer (``end_offsets``); on tansu, whose reported "latest" is not trusted
(docs/architecture.md, "Brokers"), each partition is read from just before the reported end to its
real end with a plain consumer (a record at ``reported - 1`` must exist; a fetch that runs past the
reported end finds the true one; an offset out of range starts again from the earliest), so the
number shown is what a consumer would actually fetch.

Dead letters. Each ``<topic>.dlq`` is read from the beginning (``group_id=None``, earliest; never
"latest"), until nothing came for ``--idle`` seconds. They are numbered in the order they were
written (``failed_at``, then place). A replay takes the ORIGINAL message from its topic at the
recorded partition and offset (the dead letter's value is redacted) and produces it again with the
same key and headers; each original is produced once however many consumers dead-lettered it.
Every consumer of the topic receives it again: one that had applied it finds the event id in its
inbox and does nothing; one that dead-lettered it never recorded it, and applies it now, once.
Replays are recorded in ``<data dir>/dlq-replayed.json``.
"""
from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

from xinfang.config import SERVICES, settings
from xinfang.contracts import TOPICS, dlq_topic
from xinfang.terminal import console, print_rows
from xinfang_cli.opsdb import CONSUMES, bootstrap, broker_kind, database_url, engine_for, group_of

dlq_app = typer.Typer(help="Dead letters 死信: list them, show one, replay them once the cause is fixed.",
                      no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command()(lag)
    app.add_typer(dlq_app, name="dlq")


# ------------------------------------------------------------------ the broker


def _consumer(bs: str, **kw):
    from kafka import KafkaConsumer

    from xinfang.messaging.profiles import profile

    return KafkaConsumer(bootstrap_servers=bs, group_id=None, enable_auto_commit=False,
                         auto_offset_reset="earliest", fetch_max_wait_ms=profile(broker_kind()).fetch_max_wait_ms,
                         client_id="xinfang-ops", **kw)


def partitions_of(consumer, topics) -> list:
    from kafka import TopicPartition

    out = []
    for t in topics:
        deadline = time.monotonic() + 10
        parts = consumer.partitions_for_topic(t)
        while parts is None and time.monotonic() < deadline:
            time.sleep(0.2)
            parts = consumer.partitions_for_topic(t)
        out += [TopicPartition(t, p) for p in sorted(parts or ())]
    return out


def read_to_end(consumer, tps, starts: dict, idle: float, on_record=None) -> dict:
    """Read ``tps`` from ``starts`` until nothing came for ``idle`` seconds; the offset after the
    last record of each partition (0 if it has none)."""
    consumer.assign(tps)
    for tp in tps:
        consumer.seek(tp, starts.get(tp, 0))
    ends = {tp: 0 for tp in tps}
    last = time.monotonic()
    while time.monotonic() - last < idle:
        got = consumer.poll(timeout_ms=200)
        for tp, records in got.items():
            if records:
                last = time.monotonic()
                ends[tp] = records[-1].offset + 1
                if on_record:
                    for r in records:
                        on_record(r)
    return ends


def end_offsets(bs: str, tps, kind: str, idle: float = 1.0) -> dict:
    """Each partition's end offset: the broker's answer on Apache Kafka; read to the end on tansu."""
    c = _consumer(bs)
    try:
        reported = c.end_offsets(tps)
        if kind == "kafka":
            return reported
        return read_to_end(c, tps, {tp: max(0, o - 1) for tp, o in reported.items()}, idle)
    finally:
        c.close()


def committed_offsets(bs: str, groups: list[str]) -> dict:
    """group -> {TopicPartition: offset}; {} for a group the broker does not answer for."""
    from xinfang.messaging.admin import admin_client

    out: dict = {}
    admin = admin_client(bs)
    try:
        for g in groups:
            try:
                out[g] = {tp: om.offset for tp, om in admin.list_group_offsets({g: None}).get(g, {}).items()
                          if om is not None and om.offset >= 0}
            except Exception:
                out[g] = {}
    finally:
        admin.close()
    return out


# ------------------------------------------------------------------ lag


def _age(then: datetime | None) -> str:
    if then is None:
        return "-"
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    s = int((datetime.now(UTC) - then).total_seconds())
    return f"{s}s" if s < 120 else f"{s // 60}m{s % 60:02d}s" if s < 7200 else f"{s // 3600}h{(s % 3600) // 60:02d}m"


def _service_state(service: str):
    """(positions {(topic, partition): offset}, unpublished, oldest created_at) or an error string."""
    import sqlalchemy as sa

    from xinfang.storage.tables import outbox, positions

    try:
        with engine_for(database_url(service)) as e, e.connect() as c:
            pos = {(r.topic, r.partition): r.offset
                   for r in c.execute(sa.select(positions).where(positions.c.consumer == service))}
            n, oldest = c.execute(sa.select(sa.func.count(), sa.func.min(outbox.c.created_at))
                                  .where(outbox.c.published_at.is_(None))).one()
            return pos, int(n), oldest
    except Exception as exc:  # no file, not migrated, unreachable
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"


def lag(
    service: list[str] = typer.Option(list(SERVICES), "--service", "-s", help="which services (default all four)"),
    idle: float = typer.Option(1.0, help="tansu: seconds without a record that end a partition's read"),
):
    """Every consumer's lag per topic and partition, and each service's outbox backlog (消费滞后与发件箱积压).

    Reads each service's database (<NAME>_DATABASE_URL) and the broker (KAFKA_BOOTSTRAP_SERVERS).
    On tansu the end offsets are found by reading to the end, not from its "latest"."""
    unknown = [s for s in service if s not in SERVICES]
    if unknown:
        raise typer.BadParameter(f"unknown service(s) {unknown} / 未知的服务", param_hint="--service")
    bs, kind = bootstrap(), broker_kind()
    states = {s: _service_state(s) for s in service}
    topics = sorted({t for s in service for t in CONSUMES[s]})
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), console=console, transient=True) as bar:
        bar.add_task(f"reading end offsets from {bs} ({kind}) … 正在读取末尾偏移", total=None)
        c = _consumer(bs)
        try:
            tps = partitions_of(c, topics)
        finally:
            c.close()
        ends = end_offsets(bs, tps, kind, idle=idle)
        committed = committed_offsets(bs, [group_of(s) for s in service])
    rows, total = [], 0
    for s in service:
        st = states[s]
        for tp in [tp for tp in tps if tp.topic in CONSUMES[s]]:
            end = ends.get(tp, 0)
            if isinstance(st, str):
                rows.append((s, tp.topic, tp.partition, end, "?", committed[group_of(s)].get(tp, "-"), "?"))
                continue
            applied = st[0].get((tp.topic, tp.partition))
            com = committed[group_of(s)].get(tp)
            done = max((applied + 1) if applied is not None else 0, com or 0)
            behind = max(0, end - done)
            total += behind
            rows.append((s, tp.topic, tp.partition, end, "-" if applied is None else applied,
                         "-" if com is None else com, behind))
    print_rows(("consumer", "topic", "partition", "end", "applied", "committed", "lag"), rows)
    print()
    print_rows(("service", "outbox_unpublished", "oldest_unpublished_age"),
               [(s, "?", states[s]) if isinstance(states[s], str) else (s, states[s][1], _age(states[s][2]))
                for s in service])
    how = ("end offsets from the broker (ListOffsets)" if kind == "kafka" else
           "tansu: end offsets found by reading each partition to its end (its reported \"latest\" is not "
           "trusted) / tansu：末尾偏移由实际读取得出")
    console.print(f"lag = end - max(applied + 1, committed); total {total}. {how}\n"
                  f"滞后 = 末尾偏移 - max(已应用 + 1, 已提交)；合计 {total}。")
    bad = [s for s in service if isinstance(states[s], str)]
    if bad:
        console.print(f"[red]could not read the database of {', '.join(bad)} (see the rows marked ?)[/red]\n"
                      f"无法读取数据库：{', '.join(bad)}")
        raise typer.Exit(1)


# ------------------------------------------------------------------ dead letters


def replay_file() -> Path:
    return settings().data_dir / "dlq-replayed.json"


def _replayed() -> dict:
    try:
        return {r["letter"]: r for r in json.loads(replay_file().read_text()).get("replayed", [])}
    except (FileNotFoundError, json.JSONDecodeError, KeyError, TypeError):
        return {}


def _record_replays(new: list[dict]) -> None:
    done = _replayed()
    for r in new:
        done[r["letter"]] = r
    path = replay_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"replayed": list(done.values())}, ensure_ascii=False, indent=1))
    tmp.replace(path)


def read_dead_letters(bs: str, idle: float = 1.5) -> list[dict]:
    """Every dead letter of every topic, oldest first, each with ``n`` (1-based) and ``letter``
    (``<dlq topic>:<partition>:<offset>``)."""
    letters: list[dict] = []

    def take(r):
        try:
            d = json.loads(r.value)
            if not isinstance(d, dict):
                raise ValueError("not an object")
        except ValueError:
            d = {"error": "unreadable dead letter 无法解析的死信", "value_base64": base64.b64encode(r.value).decode()}
        d.update(dlq_topic=r.topic, dlq_partition=r.partition, dlq_offset=r.offset,
                 letter=f"{r.topic}:{r.partition}:{r.offset}")
        letters.append(d)

    with Progress(SpinnerColumn(), TextColumn("reading dead letters 正在读取死信 {task.fields[n]}"),
                  console=console, transient=True) as bar:
        task = bar.add_task("dlq", total=None, n=0)
        c = _consumer(bs)
        try:
            tps = partitions_of(c, [dlq_topic(t) for t in TOPICS.values()])

            def counted(r):
                take(r)
                bar.update(task, n=len(letters))

            read_to_end(c, tps, {}, idle, on_record=counted)
        finally:
            c.close()
    letters.sort(key=lambda d: (str(d.get("failed_at") or ""), d["dlq_topic"], d["dlq_partition"], d["dlq_offset"]))
    for i, d in enumerate(letters, 1):
        d["n"] = i
    return letters


def _pick(letters: list[dict], n: int) -> dict:
    if not 1 <= n <= len(letters):
        console.print(f"[red]no dead letter {n}: there are {len(letters)} (xinfang dlq list)[/red]\n"
                      f"没有第 {n} 条死信，共 {len(letters)} 条")
        raise typer.Exit(1)
    return letters[n - 1]


@dlq_app.command("list")
def dlq_list(idle: float = typer.Option(1.5, help="seconds without a record that end the read")):
    """Every dead letter: number, time, consumer, topic, partition, offset, key (the case), error, replayed (死信列表)."""
    letters = read_dead_letters(bootstrap(), idle)
    done = _replayed()
    print_rows(("n", "failed_at", "consumer", "topic", "partition", "offset", "key", "error", "replayed"),
               [(d["n"], d.get("failed_at", "?"), d.get("consumer", "?"), d.get("topic", "?"), d.get("partition", "?"),
                 d.get("offset", "?"), d.get("key") or "-", str(d.get("error", "")).replace("\n", " ")[:120],
                 done[d["letter"]]["replayed_at"] if d["letter"] in done else "-") for d in letters])
    console.print(f"{len(letters)} dead letters 条死信")


@dlq_app.command("show")
def dlq_show(n: int = typer.Argument(..., help="the number `xinfang dlq list` gives"),
             idle: float = typer.Option(1.5, help="seconds without a record that end the read")):
    """One dead letter whole, as JSON (ID and phone numbers were masked when it was written)."""
    d = _pick(read_dead_letters(bootstrap(), idle), n)
    done = _replayed().get(d["letter"])
    print(json.dumps({**d, "replayed": done}, ensure_ascii=False, indent=2))


def fetch_original(bs: str, topic: str, partition: int, offset: int, timeout: float = 15.0):
    """The one record at ``topic[partition]@offset`` (consumed from that offset), or None."""
    from kafka import TopicPartition

    tp = TopicPartition(topic, partition)
    c = _consumer(bs, max_poll_records=1)
    try:
        c.assign([tp])
        c.seek(tp, offset)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for records in c.poll(timeout_ms=300).values():
                for r in records:
                    return r if r.offset == offset else None
        return None
    finally:
        c.close()


def _matches(letter: dict, record) -> bool:
    """The record is the message that was dead-lettered: same key, and the same event id when both
    can be read (the letter's value is redacted, its event id is not)."""
    key = record.key.decode("utf-8", "replace") if record.key else None
    if letter.get("key") != key:
        return False
    try:
        theirs = json.loads(letter["value"]).get("event_id")
        ours = json.loads(record.value).get("event_id")
    except (KeyError, ValueError, AttributeError, TypeError):
        return True
    return theirs is None or ours is None or theirs == ours


@dlq_app.command("replay")
def dlq_replay(
    n: int = typer.Argument(None, help="the number `xinfang dlq list` gives"),
    all_: bool = typer.Option(False, "--all", help="every dead letter not replayed before"),
    idle: float = typer.Option(1.5, help="seconds without a record that end the read"),
):
    """Send dead-lettered messages again to their original topic, once the cause is fixed (重放死信).

    The original message is taken from its topic at the recorded partition and offset and produced
    again with the same key and headers. Consumers that applied it meanwhile skip it (inbox); the
    one that dead-lettered it applies it once. Replays are recorded in <data dir>/dlq-replayed.json."""
    from kafka import KafkaProducer

    from xinfang.messaging.profiles import profile

    if (n is None) == (not all_):
        console.print("give a number N or --all / 请指定编号 N 或 --all")
        raise typer.Exit(2)
    bs = bootstrap()
    letters = read_dead_letters(bs, idle)
    done = _replayed()
    chosen = [_pick(letters, n)] if n is not None else [d for d in letters if d["letter"] not in done]
    chosen = [d for d in chosen if {"topic", "partition", "offset"} <= d.keys()]
    # one original may have been dead-lettered by several consumers: produce it once
    originals: dict[tuple, list[dict]] = {}
    for d in chosen:
        originals.setdefault((d["topic"], int(d["partition"]), int(d["offset"])), []).append(d)
    if not originals:
        console.print("nothing to replay 没有需要重放的死信")
        return
    producer = KafkaProducer(bootstrap_servers=bs, **profile(broker_kind()).relay_producer)
    rows, records, failed = [], [], 0
    try:
        with Progress(TextColumn("replaying 正在重放"), BarColumn(), MofNCompleteColumn(), console=console) as bar:
            task = bar.add_task("replay", total=len(originals))
            for (topic, partition, offset), ds in originals.items():
                orig = fetch_original(bs, topic, partition, offset)
                numbers = ",".join(str(d["n"]) for d in ds)
                if orig is None or not _matches(ds[0], orig):
                    failed += 1
                    rows.append((numbers, topic, partition, offset, "-", "original not found 原消息不存在"))
                    bar.advance(task)
                    continue
                md = producer.send(topic, key=orig.key, value=orig.value,
                                   headers=list(orig.headers or [])).get(timeout=30)
                now = datetime.now(UTC).isoformat()
                for d in ds:
                    records.append({"letter": d["letter"], "n": d["n"], "consumer": d.get("consumer"),
                                    "topic": topic, "partition": partition, "offset": offset,
                                    "replayed_at": now, "to_partition": md.partition, "to_offset": md.offset})
                rows.append((numbers, topic, partition, offset, f"{md.partition}@{md.offset}", "replayed 已重放"))
                bar.advance(task)
    finally:
        producer.close()
        if records:
            _record_replays(records)
    print_rows(("dead_letters", "topic", "partition", "offset", "sent_to", "result"), rows)
    console.print(f"{len(originals) - failed} messages replayed for {len(records)} dead letters; recorded in "
                  f"{replay_file()}\n已重放 {len(originals) - failed} 条消息（{len(records)} 条死信）")
    if failed:
        console.print(f"[red]{failed} originals were not found at their offset (topic lost or rebuilt?)[/red]\n"
                      f"{failed} 条原消息在原偏移处未找到")
        raise typer.Exit(1)
