"""End-to-end benchmark: how fast a registered petition becomes visible in every service.

What it measures, in one run against a fresh stack (embedded tansu broker + the four services,
SQLite by default, started in a temporary data dir on free ports, always stopped at the end):

1. Broker baseline: one produce -> consume round trip through the broker alone. A kafka-python
   producer (acks=all, linger 0) sends to a fresh topic at the latency-phase rate; an aiokafka
   consumer with the ``fetch_max_wait_ms`` the services' Faust consumers use on that broker
   reads it. This is the floor for one hop of the event flow.
2. Latency phase (default 20/s for 20 s): POST /api/v1/petitions on a fixed schedule (each POST its
   own task, so a slow answer does not delay the next) and, for each case, the time from sending
   the POST until it is visible in
     routing      GET /api/v1/cases/{id}/assignment == 200,
     supervision  GET /api/v1/cases/{id}/deadlines == 200,
     reporting    GET /api/v1/stats/summary "registered" >= k  (the k-th case answered, in order),
   and "everywhere" = the latest of the three. One poller per service checks every outstanding case
   every --poll-ms (10 ms), backing off to a tenth of the case's age for cases that take long (so a
   backlog does not multiply the polling load). Reported as p50/p95/p99 and as a ratio to the
   broker round trip.
3. Throughput phase (default 200/s for 15 s, at most --concurrency POSTs in flight): achieved
   registrations/s and whether the consumers keep up. About every second it samples, from the
   services' own endpoints (cheap, so the observer does not become the load):
     rep_lag     cases answered 201 by intake minus reporting's "registered" count,
     unassigned  cases answered 201 minus routing's applied CaseRegistered events (GET /health),
     sup_behind  events supervision still has to apply (2 per case: CaseRegistered, CaseAssigned),
     outbox      intake's unpublished outbox rows (events not yet handed to the broker).
   Lag "grew" when its mean over the last third of the sending window exceeds the first third by
   more than a quarter second's worth of registrations. Drain time = from the last 201 until all
   counters caught up; a sample of cases is then checked through the per-case endpoints.

It also prints the CPU used by each process (idle, latency phase, throughput phase, and CPU ms per
registration) and by the whole machine: on a small host the stack is CPU-bound, and anything else
running there (a test suite, another stack) shows up in the "machine" row and skews the figures.

The load generator uses a minimal asyncio HTTP/1.1 client by default (LeanClient below): httpx
costs several ms of CPU per request, which on a 2-core machine is taken from the system under test.
``--client httpx`` switches to httpx. Every request carries a bearer token for an administrator
of the demo province, signed with the stack's development key.

Targets: p99 visible-everywhere <= 500 ms at 20/s; >= 200 registrations/s sustained without lag
growing. Each is printed as PASS/MISS; nothing asserts. Results go to bench/results/e2e-<ts>.json.

Run (from the repository root; ~1-2 minutes with the defaults):

    .venv/bin/python bench/e2e.py
    .venv/bin/python bench/e2e.py --rate 20 --duration 20 --burst-rate 200 --burst-duration 15
    .venv/bin/python bench/e2e.py --postgres          # fresh databases on a PostgreSQL cluster of the run
    .venv/bin/python bench/e2e.py --postgres --broker kafka   # as production runs: PostgreSQL and Apache Kafka
    .venv/bin/python bench/e2e.py --keep-data         # keep the data dir (service logs) afterwards
    .venv/bin/python bench/e2e.py --client httpx      # load generator on httpx
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import random
import resource
import shutil
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from time import perf_counter

from aiokafka import AIOKafkaConsumer, TopicPartition
from kafka import KafkaProducer

from xinfang.config import SERVICES, settings
from xinfang.messaging.admin import ensure_topics
from xinfang.messaging.broker import free_port
from xinfang.messaging.profiles import BROKERS, profile
from xinfang.privacy import resident_id_check_char
from xinfang.security import Principal, TokenIssuer
from xinfang_cli.supervisor import Stack

sys.path.insert(0, str(Path(__file__).resolve().parent))
from http_clients import CLIENTS, HttpxClient, LeanClient, Reply, TransportError  # noqa: E402,F401

RESULTS_DIR = Path(__file__).resolve().parent / "results"
TARGET_P99_MS = 500.0
TARGET_LATENCY_RATE = 20.0
TARGET_THROUGHPUT = 200.0

PETITION = {
    "channel": "letter", "received_at": "2026-11-20T09:30:00+08:00",
    "petitioners": [{"name": "张三", "id_type": "resident_id", "id_number": "110101199003071233",
                     "phone": "13800000000", "address": "示范县城关镇"}],
    "headcount": 1, "purpose": "appeal", "category_code": "0702", "division_code": "999901001001",
    "summary": "拖欠工资", "request": "请求督促支付工资",
}


# ----------------------------------------------------------------------------- small helpers


_petitioners = itertools.count()


def resident_id(n: int) -> str:
    """The n-th of many distinct ID numbers with a valid GB 11643 check digit."""
    body = f"110101{date(1960, 1, 1) + timedelta(days=n // 1000):%Y%m%d}{n % 1000:03d}"
    return body + resident_id_check_char(body)


def petition(i: int) -> dict:
    """The sample petition from a new petitioner each time: one person filing thousands of cases
    would make every registration a repeat and load all of that person's earlier cases."""
    person = {**PETITION["petitioners"][0], "id_number": resident_id(next(_petitioners))}
    return {**PETITION, "petitioners": [person], "summary": f"拖欠工资（压测 {i}）"}


def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo, hi = int(pos), min(int(pos) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def summarize(seconds: list[float]) -> dict:
    ms = [s * 1000.0 for s in seconds]
    return {"n": len(ms), "p50_ms": percentile(ms, 50), "p95_ms": percentile(ms, 95),
            "p99_ms": percentile(ms, 99), "max_ms": max(ms) if ms else None,
            "mean_ms": sum(ms) / len(ms) if ms else None}


async def sleep_until(t: float) -> None:
    delay = t - perf_counter()
    if delay > 0:
        await asyncio.sleep(delay)


def fmt(v, unit: str = "", nd: int = 1) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{nd}f}{unit}"
    return f"{v}{unit}"


class CpuMeter:
    """CPU used by this process, by each process of the stack and by the whole machine (Linux /proc)."""

    def __init__(self, stack: Stack) -> None:
        self.pids = {name: sp.proc.pid for name, sp in stack.services.items() if sp.proc}
        if stack.broker and stack.broker.proc:
            self.pids["broker"] = stack.broker.proc.pid
        self.tick = os.sysconf("SC_CLK_TCK")

    def _proc_seconds(self, pid: int) -> float | None:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / self.tick  # utime + stime, all threads
        except (OSError, IndexError, ValueError):
            return None

    @staticmethod
    def _machine() -> tuple[int, int] | None:
        try:
            cpu = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        except (OSError, ValueError):
            return None
        idle = cpu[3] + cpu[4]  # idle + iowait
        return sum(cpu) - idle, sum(cpu)

    def snapshot(self) -> dict:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        snap = {"bench": ru.ru_utime + ru.ru_stime, "_wall": perf_counter(), "_machine": self._machine()}
        for name, pid in self.pids.items():
            snap[name] = self._proc_seconds(pid)
        return snap

    @staticmethod
    def seconds(before: dict, after: dict) -> dict:
        """CPU seconds per process between two snapshots."""
        return {k: v - before[k] for k, v in after.items()
                if not k.startswith("_") and v is not None and before.get(k) is not None}

    @staticmethod
    def percent(before: dict, after: dict) -> dict:
        """% of one core per process, and "machine": everything that ran, in the same unit."""
        wall = after["_wall"] - before["_wall"]
        out = {k: round(100.0 * v / wall, 1) for k, v in CpuMeter.seconds(before, after).items()}
        if before["_machine"] and after["_machine"]:
            busy = after["_machine"][0] - before["_machine"][0]
            total = after["_machine"][1] - before["_machine"][1]
            out["machine"] = round(100.0 * (os.cpu_count() or 1) * busy / total, 1) if total else None
        return out


# ----------------------------------------------------------------------------- the stack


@dataclass
class Endpoints:
    """One client per service, and the few reads the benchmark needs."""

    intake: LeanClient | HttpxClient
    routing: LeanClient | HttpxClient
    supervision: LeanClient | HttpxClient
    reporting: LeanClient | HttpxClient

    @classmethod
    def for_stack(cls, stack: Stack, kind: str, max_connections: int) -> Endpoints:
        headers = auth_headers(stack)
        return cls(**{name: CLIENTS[kind]("127.0.0.1", stack.services[name].port, max_connections,
                                          headers=headers) for name in SERVICES})

    async def aclose(self) -> None:
        for c in (self.intake, self.routing, self.supervision, self.reporting):
            await c.aclose()

    async def reporting_registered(self) -> int:
        r = await self.reporting.request("GET", "/api/v1/stats/summary")
        if r.status != 200:
            raise TransportError(f"stats/summary answered {r.status}")
        return int(r.json()["registered"])

    @staticmethod
    async def health(client) -> dict:
        return (await client.request("GET", "/health")).json()  # 503 when degraded: same counters

    async def counters(self) -> dict:
        """Cumulative counters that tell how far each consumer has got."""
        rep, rh, sh, ih = await asyncio.gather(
            self.reporting_registered(), self.health(self.routing), self.health(self.supervision),
            self.health(self.intake))
        return {"reporting_registered": rep, "routing_applied": rh.get("applied", 0),
                "supervision_applied": sh.get("applied", 0), "intake_outbox": ih.get("outbox_pending"),
                "routing_outbox": rh.get("outbox_pending"), "supervision_outbox": sh.get("outbox_pending")}


def auth_headers(stack: Stack) -> dict[str, str]:
    """A bearer token for an administrator of the whole demo province, signed with the key the
    stack gave routing (Stack.start makes development keys unless the environment names some)."""
    env = {**os.environ, **stack.env}
    pem = env.get("XINFANG_TOKEN_SIGNING_KEY", "").replace("\\n", "\n")
    if not pem:
        pem = Path(env["XINFANG_TOKEN_SIGNING_KEY_FILE"]).read_text()
    token, _ = TokenIssuer(pem).issue(Principal(username="bench", role="admin", jurisdiction="990000000000"))
    return {"Authorization": f"Bearer {token}"}


def create_pg_databases(admin_url: str, tag: str) -> dict[str, str]:
    import psycopg

    base_url = admin_url.rsplit("/", 1)[0]
    urls = {}
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for name in SERVICES:
            db = f"xinfang_bench_{tag}_{name}"
            conn.execute(f'CREATE DATABASE "{db}"')
            urls[name] = f"{base_url}/{db}"
    return urls


def drop_pg_databases(admin_url: str, urls: dict[str, str]) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        for url in urls.values():
            conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


# ----------------------------------------------------------------------------- 1. broker baseline


async def broker_baseline(bootstrap: str, rate: float, count: int, fetch_max_wait_ms: int) -> dict:
    topic = f"bench.roundtrip.{uuid.uuid4().hex[:8]}"
    partitions = settings().topic_partitions
    ensure_topics(bootstrap, partitions=partitions, topics=[topic])
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest", fetch_max_wait_ms=fetch_max_wait_ms)
    await consumer.start()
    consumer.assign([TopicPartition(topic, p) for p in range(partitions)])
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    sent: dict[int, float] = {}
    received: dict[int, float] = {}
    warmup = 2 * partitions  # keys spread over the partitions; not measured
    total = warmup + count

    async def consume() -> None:
        while len(received) < total:
            batch = await consumer.getmany(timeout_ms=100)
            now = perf_counter()
            for records in batch.values():
                for rec in records:
                    received.setdefault(int(rec.value), now)

    reader = asyncio.create_task(consume())
    try:
        for seq in range(warmup):
            producer.send(topic, key=f"warmup-{seq}".encode(), value=str(seq).encode())
        producer.flush(10)
        deadline = perf_counter() + 15
        while len(received) < warmup and perf_counter() < deadline:
            await asyncio.sleep(0.01)
        t0 = perf_counter()
        for i in range(count):
            seq = warmup + i
            await sleep_until(t0 + i / rate)
            sent[seq] = perf_counter()
            producer.send(topic, key=uuid.uuid4().hex.encode(), value=str(seq).encode())
        await asyncio.wait_for(reader, timeout=15)
    except TimeoutError:
        pass
    finally:
        reader.cancel()
        producer.close(timeout=5)
        await consumer.stop()
    rtts = [received[s] - t for s, t in sent.items() if s in received]
    return {"topic": topic, "rate": rate, "sent": len(sent), "lost": len(sent) - len(rtts),
            "fetch_max_wait_ms": fetch_max_wait_ms, **summarize(rtts)}


# ----------------------------------------------------------------------------- 2. latency phase


@dataclass
class Case:
    idx: int
    sent: float = 0.0
    answered: float | None = None
    status: int | None = None
    case_id: str | None = None
    error: str | None = None
    visible: dict[str, float] = field(default_factory=dict)  # service -> perf_counter()


CASE_PATHS = {"routing": "/api/v1/cases/{}/assignment", "supervision": "/api/v1/cases/{}/deadlines"}


async def latency_phase(ep: Endpoints, rate: float, duration: float, poll_interval: float,
                        timeout: float = 60.0) -> dict:
    n = max(1, int(rate * duration))
    cases: list[Case] = []
    in_answer_order: list[Case] = []  # the order the 201s came back, i.e. roughly commit order
    waiting = {svc: {} for svc in CASE_PATHS}  # service -> case_id -> Case, not yet visible there
    polls = {"routing": 0, "supervision": 0, "reporting": 0}
    sending_done = asyncio.Event()
    rep_base = await ep.reporting_registered()
    rep_hits: list[float] = []  # rep_hits[k] = when "registered" first counted k+1 of our cases
    give_up = [float("inf")]
    failed = [0]  # POSTs that registered nothing: reporting will never count them

    async def post(case: Case) -> None:
        case.sent = perf_counter()
        try:
            r = await ep.intake.request("POST", "/api/v1/petitions", petition(case.idx))
        except TransportError as exc:
            case.error = str(exc)
            failed[0] += 1
            return
        case.answered, case.status = perf_counter(), r.status
        if r.status != 201:
            case.error = f"{r.status}: {r.body[:300].decode('utf-8', 'replace')}"
            failed[0] += 1
            return
        case.case_id = r.json()["case_id"]
        in_answer_order.append(case)
        for svc in waiting:
            waiting[svc][case.case_id] = case

    async def sender() -> None:
        t0 = perf_counter()
        tasks = []
        for i in range(n):
            await sleep_until(t0 + i / rate)
            case = Case(i)
            cases.append(case)
            tasks.append(asyncio.create_task(post(case)))
        await asyncio.gather(*tasks)
        give_up[0] = perf_counter() + timeout
        sending_done.set()

    async def poll_service(svc: str) -> None:
        """Each round checks the cases that are due: a case is looked at every poll_interval, or
        every tenth of its age once that is longer, so a backlog cannot turn the observer into the
        main load (the resolution stays within 10 % of each latency). At most 64 GETs a round."""
        client, path, pending = getattr(ep, svc), CASE_PATHS[svc], waiting[svc]
        next_look: dict[str, float] = {}

        async def check(case: Case) -> None:
            polls[svc] += 1
            try:
                r = await client.request("GET", path.format(case.case_id))
            except TransportError:
                return
            now = perf_counter()
            if r.status == 200:
                case.visible.setdefault(svc, now)
                pending.pop(case.case_id, None)
            else:
                next_look[case.case_id] = now + max(poll_interval, 0.1 * (now - case.sent))

        while not (sending_done.is_set() and not pending) and perf_counter() < give_up[0]:
            tick = perf_counter()
            due = [c for c in pending.values() if next_look.get(c.case_id, 0.0) <= tick][:64]
            if due:
                await asyncio.gather(*(check(c) for c in due))
            await sleep_until(tick + poll_interval)

    async def poll_reporting() -> None:
        while perf_counter() < give_up[0]:
            tick = perf_counter()
            if len(rep_hits) >= len(cases) - failed[0]:  # all cases sent so far are counted
                if sending_done.is_set():
                    return
                await sleep_until(tick + poll_interval)
                continue
            polls["reporting"] += 1
            try:
                count = await ep.reporting_registered() - rep_base
            except TransportError:
                count = len(rep_hits)
            now = perf_counter()
            while len(rep_hits) < count:
                rep_hits.append(now)
            await sleep_until(tick + poll_interval)

    await asyncio.gather(sender(), poll_service("routing"), poll_service("supervision"), poll_reporting())

    for k, case in enumerate(in_answer_order):
        if k < len(rep_hits):
            case.visible["reporting"] = max(rep_hits[k], case.sent)
    ok = [c for c in cases if c.case_id]
    per_service = {svc: summarize([c.visible[svc] - c.sent for c in ok if svc in c.visible])
                   for svc in ("routing", "supervision", "reporting")}
    everywhere = [max(c.visible.values()) - c.sent for c in ok if len(c.visible) == 3]
    return {
        "rate": rate, "duration_s": duration, "sent": len(cases), "registered": len(ok),
        "errors": [c.error for c in cases if c.error][:10], "error_count": sum(1 for c in cases if c.error),
        "never_visible": {svc: sum(1 for c in ok if svc not in c.visible) for svc in per_service},
        "post": summarize([c.answered - c.sent for c in ok]),
        "visible": {**per_service, "everywhere": summarize(everywhere)},
        "poll_interval_ms": poll_interval * 1000, "poll_requests": polls,
    }


# ----------------------------------------------------------------------------- 3. throughput phase


def lag_growth(series: list[dict], key: str, rate: float) -> dict:
    """Mean of `key` over the first and the last third of the samples; grew if the difference is
    more than a quarter second's worth of registrations (or half the early lag, if larger)."""
    values = [s[key] for s in series if s.get(key) is not None]
    if len(values) < 3:
        return {"first_third": None, "last_third": None, "grew": None}
    third = max(1, len(values) // 3)
    first = sum(values[:third]) / third
    last = sum(values[-third:]) / third
    return {"first_third": round(first, 1), "last_third": round(last, 1),
            "grew": last - first > max(0.25 * rate, 0.5 * first)}


@dataclass
class Reading:
    at: float        # perf_counter() when the answer came
    value: float     # the counter, minus its value when the phase began
    answered: int    # registrations answered 201 by then
    took: float      # seconds the request took


class Watch:
    """Reads one cumulative counter over and over in the background and keeps the latest reading.

    Each source has its own loop, so a slow endpoint (intake's /health queues behind POSTs for its
    worker threads) makes only its own reading stale, not the others."""

    def __init__(self, name: str, fetch, base: float, answered: list, interval: float) -> None:
        self.name, self.fetch, self.base, self.answered, self.interval = name, fetch, base, answered, interval
        self.latest: Reading | None = None
        self.slowest = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            tick = perf_counter()
            try:
                value = await self.fetch()
            except (TransportError, ValueError, KeyError):
                value = None
            now = perf_counter()
            self.slowest = max(self.slowest, now - tick)
            if value is not None:
                self.latest = Reading(now, value - self.base, len(self.answered), now - tick)
            await sleep_until(tick + self.interval)


async def throughput_phase(ep: Endpoints, rate: float, duration: float, concurrency: int,
                           drain_timeout: float, verify_sample: int) -> dict:
    n = max(1, int(rate * duration))
    base = await ep.counters()
    sem = asyncio.Semaphore(concurrency)
    answered: list[tuple[float, float]] = []  # (sent, answered) of each 201
    case_ids: list[str] = []
    errors: list[str] = []
    sent_count = [0]
    send_end: list[float | None] = [None]  # perf_counter() once every POST is answered
    t0 = perf_counter()

    async def post(i: int) -> None:
        try:
            t_sent = perf_counter()
            r = await ep.intake.request("POST", "/api/v1/petitions", petition(i))
            if r.status == 201:
                answered.append((t_sent, perf_counter()))
                case_ids.append(r.json()["case_id"])
            else:
                errors.append(f"{r.status}: {r.body[:200].decode('utf-8', 'replace')}")
        except TransportError as exc:
            errors.append(str(exc))
        finally:
            sem.release()

    async def sender() -> None:
        tasks = []
        for i in range(n):
            await sleep_until(t0 + i / rate)
            await sem.acquire()  # bounded concurrency: when intake is slow, sending falls behind
            sent_count[0] += 1
            tasks.append(asyncio.create_task(post(i)))
        await asyncio.gather(*tasks)
        send_end[0] = perf_counter()

    async def applied(client) -> int:
        return int((await ep.health(client))["applied"])

    async def outbox() -> int:
        return int((await ep.health(ep.intake))["outbox_pending"])

    # events each registration makes a consumer apply: the count "behind" is expected - applied
    per_case = {"reporting": 1, "routing": 1, "supervision": 2}
    watches = {
        "reporting": Watch("reporting", ep.reporting_registered, base["reporting_registered"], answered, 0.1),
        "routing": Watch("routing", lambda: applied(ep.routing), base["routing_applied"], answered, 0.1),
        "supervision": Watch("supervision", lambda: applied(ep.supervision), base["supervision_applied"],
                             answered, 0.1),
        "outbox": Watch("outbox", outbox, 0, answered, 0.5),
    }

    def behind(name: str) -> int | None:
        r = watches[name].latest
        return None if r is None else int(per_case[name] * r.answered - r.value)

    def caught_up_since_sending_ended() -> bool:
        for name in per_case:
            r = watches[name].latest
            if r is None or r.at - r.took < send_end[0] or behind(name) > 0:
                return False
        return True

    series: list[dict] = []
    drained_at: list[float | None] = [None]

    def row(now: float) -> dict:
        ob = watches["outbox"].latest
        ages = [now - w.latest.at for w in watches.values() if w.latest]
        return {"t": round(now - t0, 2), "sent": sent_count[0], "ok": len(answered),
                "rep_lag": behind("reporting"), "unassigned": behind("routing"),
                "sup_behind": behind("supervision"), "outbox": None if ob is None else int(ob.value),
                "oldest_reading_s": round(max(ages), 2) if ages else None, "sending": send_end[0] is None}

    def show(r: dict, note: str = "") -> None:
        print(f"    {r['t']:>6.1f} {r['sent']:>6} {r['ok']:>6} {fmt(r['rep_lag']):>8} {fmt(r['unassigned']):>10} "
              f"{fmt(r['sup_behind']):>10} {fmt(r['outbox']):>7} {fmt(r['oldest_reading_s'], nd=2):>8}{note}")

    async def sampler(stop: asyncio.Event) -> None:
        print(f"    {'t(s)':>6} {'sent':>6} {'201':>6} {'rep_lag':>8} {'unassigned':>10} "
              f"{'sup_behind':>10} {'outbox':>7} {'stale(s)':>8}")
        next_row = t0
        while True:
            now = perf_counter()
            if send_end[0] is not None and caught_up_since_sending_ended():
                drained_at[0] = max(w.latest.at for name, w in watches.items() if name in per_case)
                series.append(row(now))
                show(series[-1], "  all visible")
                break
            if send_end[0] is not None and now - send_end[0] > drain_timeout:
                break
            if now >= next_row:
                series.append(row(now))
                show(series[-1])
                next_row += 1.0
            await asyncio.sleep(0.05)
        stop.set()

    stop = asyncio.Event()
    await asyncio.gather(sender(), sampler(stop), *(w.run(stop) for w in watches.values()))

    ok = len(answered)
    first_sent = min((s for s, _ in answered), default=t0)
    last_answer = max((a for _, a in answered), default=t0)
    achieved = ok / (last_answer - first_sent) if ok > 1 and last_answer > first_sent else None
    during = [s for s in series if s["sending"]]
    growth = {key: lag_growth(during, key, rate) for key in ("rep_lag", "unassigned", "sup_behind", "outbox")}
    grew = any(g["grew"] for k, g in growth.items() if k != "outbox" and g["grew"] is not None)

    verify = {}
    if verify_sample and case_ids:
        picked = random.sample(case_ids, min(verify_sample, len(case_ids)))
        lim = asyncio.Semaphore(32)

        async def visible(svc: str, cid: str) -> bool:
            async with lim:
                return (await getattr(ep, svc).request("GET", CASE_PATHS[svc].format(cid))).status == 200

        for svc in CASE_PATHS:
            results = await asyncio.gather(*(visible(svc, cid) for cid in picked))
            verify[svc] = {"checked": len(picked), "missing": results.count(False)}

    return {
        "offered_rate": rate, "duration_s": duration, "concurrency": concurrency, "attempted": n,
        "registered": ok, "error_count": len(errors), "errors": errors[:10],
        "achieved_rate": achieved, "send_window_s": (last_answer - first_sent) if ok else None,
        "schedule_slip_s": round((send_end[0] or t0) - t0 - duration, 2),
        "post": summarize([a - s for s, a in answered]),
        "lag_growth": growth, "lag_grew": grew,
        "drained": drained_at[0] is not None,
        "drain_time_s": (drained_at[0] - last_answer) if drained_at[0] is not None else None,
        "slowest_counter_read_s": {name: round(w.slowest, 3) for name, w in watches.items()},
        "final_counters": (await ep.counters()), "base_counters": base,
        "verify_sample": verify, "series": series,
    }


# ----------------------------------------------------------------------------- report


def print_report(res: dict) -> None:
    base, lat, thr = res["baseline"], res["latency"], res["throughput"]
    print("\n" + "=" * 78)
    print(f"Xinfang end-to-end benchmark  ({res['database']}, broker {res.get('broker', 'tansu')}, "
          f"FETCH_MAX_WAIT_MS={res['fetch_max_wait_ms']}, {res['host']['cpus']} CPUs, client {res['args']['client']})")
    print("=" * 78)
    print(f"\nBroker round trip (produce acks=all -> consume), {base['sent']} msgs at {base['rate']:g}/s, "
          f"lost {base['lost']}")
    print(f"  {'':<24}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}")
    row = lambda name, s: print(f"  {name:<24}{fmt(s['p50_ms']):>9}{fmt(s['p95_ms']):>9}"  # noqa: E731
                                f"{fmt(s['p99_ms']):>9}{fmt(s['max_ms']):>9}   ms  (n={s['n']})")
    row("broker round trip", base)

    polls = ", ".join(f"{k} {v / lat['duration_s']:.0f}/s" for k, v in lat["poll_requests"].items())
    print(f"\nLatency phase: {lat['sent']} POSTs at {lat['rate']:g}/s, {lat['registered']} registered, "
          f"{lat['error_count']} errors; polled every {lat['poll_interval_ms']:g} ms ({polls})")
    print(f"  {'POST -> visible in':<24}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}")
    row("POST answered (201)", lat["post"])
    for svc in ("routing", "supervision", "reporting", "everywhere"):
        row(svc, lat["visible"][svc])
    ratio = res["ratio_vs_broker"]
    print(f"  everywhere / broker round trip: p50 x{fmt(ratio['p50'])}, p99 x{fmt(ratio['p99'])}")
    if any(lat["never_visible"].values()):
        print(f"  never visible within the timeout: {lat['never_visible']}")

    print(f"\nThroughput phase: offered {thr['offered_rate']:g}/s for {thr['duration_s']:g} s, "
          f"<= {thr['concurrency']} in flight")
    print(f"  registered {thr['registered']}/{thr['attempted']}, errors {thr['error_count']}, "
          f"achieved {fmt(thr['achieved_rate'])}/s, sender behind schedule by {thr['schedule_slip_s']} s")
    row("POST answered (201)", thr["post"])
    for key, g in thr["lag_growth"].items():
        print(f"  {key:<12} mean first third {fmt(g['first_third'])}, last third {fmt(g['last_third'])}"
              f"{'  -> GREW' if g['grew'] else ''}")
    if thr["drained"]:
        print(f"  drain: everything visible {thr['drain_time_s']:.2f} s after the last POST was answered")
    else:
        print("  drain: NOT caught up within the drain timeout")
    slow = thr["slowest_counter_read_s"]
    print("  slowest counter read: " + ", ".join(
        f"{'intake /health' if k == 'outbox' else k} {v * 1000:.0f} ms" for k, v in slow.items()))
    for svc, v in thr["verify_sample"].items():
        print(f"  verify {svc}: {v['checked'] - v['missing']}/{v['checked']} sampled cases visible")

    cpu, per_case = res["cpu_percent"], res["cpu_ms_per_registration_throughput"]
    print(f"\nCPU, % of one core ({res['host']['cpus']} cores = {100 * res['host']['cpus']} %); "
          f"'machine' counts every process on the host"
          + (" (PostgreSQL's own processes are among 'other procs')" if res["database"] == "postgresql" else ""))
    print(f"  {'':<12}{'idle':>8}{'latency':>9}{'throughput':>11}{'ms CPU per registration':>26}")
    names = [n for n in (*SERVICES, "broker", "bench") if n in cpu["throughput"]] + ["machine"]
    for name in names:
        print(f"  {name:<12}{fmt(cpu['idle'].get(name)):>8}{fmt(cpu['latency'].get(name)):>9}"
              f"{fmt(cpu['throughput'].get(name)):>11}{fmt(per_case.get(name), nd=2):>26}")
    print(f"  {'other procs':<12}" + "".join(f"{fmt(other_cpu(cpu[p])):>{w}}" for p, w in
                                            (("idle", 8), ("latency", 9), ("throughput", 11))))
    # with --postgres the database server is an "other" process while the stack works: judge by idle
    phases = ("idle",) if res["database"] == "postgresql" else ("idle", "latency", "throughput")
    busiest = max((other_cpu(cpu[p]) or 0) for p in phases)
    if busiest > 40:
        print(f"  WARNING: processes outside the stack used up to {busiest:.0f} % of a core during the run: "
              f"the host was busy and the figures are skewed; run again on a quiet machine")

    print("\nTargets")
    for t in res["targets"]:
        print(f"  [{t['verdict']}] {t['target']:<58} measured {t['measured']}")
    print(f"\nresults: {res['results_file']}")


def other_cpu(phase: dict) -> float | None:
    """CPU of everything on the machine that is neither the stack nor this benchmark."""
    if phase.get("machine") is None:
        return None
    return round(phase["machine"] - sum(v for k, v in phase.items() if k != "machine"), 1)


def evaluate(lat: dict, thr: dict) -> list[dict]:
    p99 = lat["visible"]["everywhere"]["p99_ms"]
    lat_ok = p99 is not None and p99 <= TARGET_P99_MS and not any(lat["never_visible"].values())
    lat_note = "" if lat["rate"] >= TARGET_LATENCY_RATE else f" (run at {lat['rate']:g}/s, below the target rate)"
    rate = thr["achieved_rate"]
    thr_ok = (rate is not None and rate >= TARGET_THROUGHPUT and not thr["lag_grew"] and thr["drained"]
              and thr["error_count"] == 0)
    return [
        {"target": f"p99 visible everywhere <= {TARGET_P99_MS:g} ms at {TARGET_LATENCY_RATE:g}/s",
         "measured": f"p99 {fmt(p99)} ms at {lat['rate']:g}/s{lat_note}", "verdict": "PASS" if lat_ok else "MISS"},
        {"target": f">= {TARGET_THROUGHPUT:g} registrations/s sustained, lag not growing",
         "measured": f"{fmt(rate)}/s, lag {'grew' if thr['lag_grew'] else 'flat'}, "
                     f"{'drained' if thr['drained'] else 'not drained'}, {thr['error_count']} errors",
         "verdict": "PASS" if thr_ok else "MISS"},
    ]


# ----------------------------------------------------------------------------- main


async def run_phases(stack: Stack, args, fetch_max_wait_ms: int) -> dict:
    ep = Endpoints.for_stack(stack, args.client, max(args.concurrency, 32))
    cpu = CpuMeter(stack)
    try:
        print("warming up (a few cases through every consumer) ...")
        warm = await latency_phase(ep, rate=5, duration=1, poll_interval=0.05, timeout=60)
        if warm["registered"] == 0:
            raise RuntimeError(f"intake registered nothing: {warm['errors']}")
        before = cpu.snapshot()
        await asyncio.sleep(3.0)
        cpu_idle = CpuMeter.percent(before, cpu.snapshot())
        print(f"broker baseline: {args.baseline_count} messages at {args.rate:g}/s ...")
        baseline = await broker_baseline(stack.bootstrap, args.rate, args.baseline_count, fetch_max_wait_ms)
        print(f"latency phase: {args.rate:g}/s for {args.duration:g} s ...")
        before = cpu.snapshot()
        latency = await latency_phase(ep, args.rate, args.duration, args.poll_ms / 1000.0)
        after = cpu.snapshot()
        cpu_latency = CpuMeter.percent(before, after)
        n = latency["registered"] or 1
        cpu_per_case_latency = {k: round(1000.0 * v / n, 2) for k, v in CpuMeter.seconds(before, after).items()}
        await asyncio.sleep(1.0)
        print(f"throughput phase: {args.burst_rate:g}/s for {args.burst_duration:g} s ...")
        before = cpu.snapshot()
        throughput = await throughput_phase(ep, args.burst_rate, args.burst_duration, args.concurrency,
                                            args.drain_timeout, args.verify_sample)
        after = cpu.snapshot()
        cpu_throughput = CpuMeter.percent(before, after)
        n = throughput["registered"] or 1
        cpu_per_case = {k: round(1000.0 * v / n, 2) for k, v in CpuMeter.seconds(before, after).items()}
    finally:
        await ep.aclose()
    every, broker = latency["visible"]["everywhere"], baseline
    ratio = {q: (every[f"{q}_ms"] / broker[f"{q}_ms"]
                 if every[f"{q}_ms"] is not None and broker[f"{q}_ms"] else None) for q in ("p50", "p95", "p99")}
    return {"baseline": baseline, "latency": latency, "throughput": throughput, "ratio_vs_broker": ratio,
            "cpu_percent": {"idle": cpu_idle, "latency": cpu_latency, "throughput": cpu_throughput},
            "cpu_ms_per_registration_latency": cpu_per_case_latency,
            "cpu_ms_per_registration_throughput": cpu_per_case}


def print_log_tails(logdir: Path, lines: int = 15) -> None:
    for log in sorted(logdir.glob("*.log")):
        tail = log.read_text(errors="replace").splitlines()[-lines:]
        if tail:
            print(f"--- last lines of {log.name}:\n" + "\n".join(tail), file=sys.stderr)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rate", type=float, default=20.0, help="latency phase: registrations/s (20)")
    p.add_argument("--duration", type=float, default=20.0, help="latency phase: seconds (20)")
    p.add_argument("--burst-rate", type=float, default=200.0, help="throughput phase: registrations/s (200)")
    p.add_argument("--burst-duration", type=float, default=15.0, help="throughput phase: seconds (15)")
    p.add_argument("--concurrency", type=int, default=64, help="throughput phase: max POSTs in flight (64)")
    p.add_argument("--poll-ms", type=float, default=10.0, help="latency phase: poll interval per service (10)")
    p.add_argument("--baseline-count", type=int, default=300, help="broker baseline: messages (300)")
    p.add_argument("--drain-timeout", type=float, default=120.0, help="throughput phase: max wait to catch up (120)")
    p.add_argument("--verify-sample", type=int, default=200, help="throughput phase: cases checked per service (200)")
    p.add_argument("--client", choices=sorted(CLIENTS), default="lean",
                   help="HTTP client of the load generator (lean: minimal asyncio client; httpx)")
    p.add_argument("--postgres", action="store_true", help="use fresh PostgreSQL databases instead of SQLite")
    p.add_argument("--pg-url", default=None,
                   help="PostgreSQL server for --postgres, its maintenance database (postgresql://postgres@host:port/postgres); "
                        "default: XINFANG_TEST_POSTGRES_URL, else a cluster of this run on a free port")
    p.add_argument("--broker", choices=BROKERS, default="tansu",
                   help="the embedded tansu (default) or Apache Kafka from Maven Central, as production runs")
    p.add_argument("--keep-data", action="store_true", help="keep the stack's data dir (logs, SQLite files)")
    args = p.parse_args()

    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    data_dir = Path(tempfile.mkdtemp(prefix="xinfang-bench-"))
    ports = {name: free_port() for name in SERVICES}
    stack = Stack(data_dir=data_dir, out=None, ports=ports, broker_kind=args.broker)
    fetch_max_wait_ms = int(os.environ.get("XINFANG_FETCH_MAX_WAIT_MS") or profile(args.broker).fetch_max_wait_ms)
    pg_urls: dict[str, str] = {}
    results: dict = {}
    try:
        if args.postgres:
            from xinfang.storage.local_postgres import shared_server

            args.pg_url = shared_server(args.pg_url)
            pg_urls = create_pg_databases(args.pg_url, stamp.replace("-", "_"))
            for name, url in pg_urls.items():
                stack.env[f"{name.upper()}_DATABASE_URL"] = url
        print(f"starting the stack in {data_dir} (ports {ports}) ...")
        t = perf_counter()
        try:
            stack.start()
        except Exception:
            print_log_tails(data_dir / "logs")
            raise
        print(f"stack healthy after {perf_counter() - t:.1f} s; broker {stack.bootstrap}")
        results = asyncio.run(run_phases(stack, args, fetch_max_wait_ms))
    finally:
        stack.stop()
        if pg_urls:
            drop_pg_databases(args.pg_url, pg_urls)
        if args.keep_data:
            print(f"data dir kept: {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"e2e-{stamp}.json"
    results.update({
        "timestamp": stamp, "database": "postgresql" if args.postgres else "sqlite",
        "args": vars(args), "data_dir": str(data_dir) if args.keep_data else None,
        "host": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "platform": platform.platform()},
        "fetch_max_wait_ms": fetch_max_wait_ms, "broker": args.broker,
        "targets": evaluate(results["latency"], results["throughput"]), "results_file": str(out),
    })
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str))
    print_report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
