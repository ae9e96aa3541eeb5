"""``xinfang audit verify`` and ``xinfang audit export``: recompute every service store's hash
chain (xinfang/storage/chain.py) against the signed checkpoints every service holds
(xinfang/storage/checkpoints.py), and write those checkpoints out for offline keeping.
Read-only: each database is opened by its ``<NAME>_DATABASE_URL``."""
from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from xinfang.config import SERVICES, settings
from xinfang.contracts.topics import PRODUCERS
from xinfang.storage import chain, checkpoints
from xinfang.terminal import console, print_rows
from xinfang_cli.opsdb import database_url, engine_for

audit_app = typer.Typer(help="Audit 审计: prove that no stored event was edited, deleted or moved.",
                        no_args_is_help=True)
EXPORT_FORMAT = "xinfang chain checkpoints 1"
_UNREADABLE = (FileNotFoundError, sa.exc.OperationalError, sa.exc.ProgrammingError)


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")


def _held_everywhere() -> tuple[list[tuple[checkpoints.Checkpoint, str]], list[str]]:
    """Every checkpoint every service's database holds, with the holder; the services whose
    checkpoints could not be read."""
    kept, missing = [], []
    for s in SERVICES:
        try:
            with engine_for(database_url(s)) as engine, engine.connect() as conn:
                kept += [(cp, s) for cp in checkpoints.held(conn)]
        except _UNREADABLE:
            missing.append(s)
    return kept, missing


def _from_files(paths: list[Path]) -> list[tuple[checkpoints.Checkpoint, str]]:
    out = []
    for p in paths:
        try:
            doc = json.loads(p.read_text())
            if doc.get("format") != EXPORT_FORMAT:
                raise ValueError(f"not a checkpoint export ({EXPORT_FORMAT})")
            out += [(checkpoints.Checkpoint.of(cp), f"file {p.name}") for cp in doc["checkpoints"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise typer.BadParameter(f"{p}: {exc} / 无法读取检查点文件", param_hint="--checkpoints") from exc
    return out


def _trusted(service: str) -> bytes | None:
    """The service's public key, when its signing key is readable here (else the verifier trusts
    the key of its earliest checkpoint)."""
    try:
        key = checkpoints.load_key(service, settings().data_dir, create=False)
    except SystemExit:
        return None
    return checkpoints.public_bytes(key) if key else None


@audit_app.command("verify")
def verify(service: list[str] = typer.Argument(None, help=f"services to verify (default all: {', '.join(SERVICES)})"),
           checkpoint_files: list[Path] = typer.Option(
               [], "--checkpoints", help="checkpoints kept offline (`xinfang audit export`), besides those "
                                         "the services hold / 离线保存的检查点文件")):
    """Recompute every hash of each service's event chain and check it against every signed
    checkpoint held of it; exit 1 at the first that does not verify, naming its position and
    what is wrong there (重新计算每个服务事件链的哈希，并与签名检查点核对)."""
    service = service or list(SERVICES)
    unknown = [s for s in service if s not in SERVICES]
    if unknown:
        raise typer.BadParameter(f"unknown service(s) {unknown} / 未知的服务", param_hint="SERVICE")
    kept, missing = _held_everywhere()
    kept += _from_files(checkpoint_files)
    rows, failed, unreadable = [], False, False
    with Progress(TextColumn("verifying 正在校验 {task.fields[what]}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=console) as bar:
        for s in service:
            mine = [(cp, h) for cp, h in kept if cp.service == s]
            try:
                with engine_for(database_url(s)) as engine, engine.connect() as conn:
                    task = bar.add_task(s, total=chain.count(conn), what=s)
                    v = chain.verify(conn, progress=lambda n, t=task: bar.advance(t, n),
                                     heads_at={cp.size for cp, _ in mine})
            except _UNREADABLE as exc:
                unreadable = True
                rows.append((s, "-", "-", len(mine), "cannot be read 无法读取"))
                console.print(f"[red]{s}: {str(exc).splitlines()[0]}[/red]\n{s} 的数据库无法读取（未迁移或不存在）")
                continue
            findings = sorted(v.findings + checkpoints.check(s, v, v.heads, mine, _trusted(s)),
                              key=lambda f: f.seq)
            distinct = {cp for cp, _ in mine}
            held = (f"{len(distinct)} (newest size {max(cp.size for cp in distinct)}, held by "
                    f"{len({h for _, h in mine})})" if mine else "0")
            if not findings:
                rows.append((s, v.size, v.head[:16], held, "ok 通过"))
                continue
            failed = True
            rows.append((s, v.size, v.head[:16], held, f"FAILED 未通过 at {findings[0]}"))
            for f in findings:
                console.print(f"[red]{s}: {f}[/red]")
    print_rows(("service", "events", "head", "checkpoints", "verdict"), rows)
    if missing:
        console.print(f"[yellow]the checkpoints held by {', '.join(missing)} could not be read[/yellow]\n"
                      "部分服务持有的检查点无法读取")
    if failed:
        console.print("[red]the event store was changed outside the system[/red]\n事件库在系统之外被改动过")
    if failed or unreadable:
        raise typer.Exit(1)


@audit_app.command("export")
def export(out: Path = typer.Option(None, "--out", help="the file to write (default "
                                                         "xinfang-checkpoints-<UTC time>.json here)")):
    """Write every signed checkpoint the services hold, with the keys that signed them, to one
    JSON file for offline keeping; `xinfang audit verify --checkpoints FILE` checks against it
    later (导出全部签名检查点，离线保存)."""
    kept, missing = _held_everywhere()
    if missing == list(SERVICES):
        console.print("[red]no service database could be read[/red]\n没有可读取的服务数据库")
        raise typer.Exit(1)
    now = datetime.now(UTC)
    out = out or Path(f"xinfang-checkpoints-{now:%Y%m%dT%H%M%SZ}.json")
    merged: dict[str, dict] = {}
    for cp, holder in kept:
        entry = merged.setdefault(cp.signature, {**cp.to_json(), "held_by": []})
        if holder not in entry["held_by"]:
            entry["held_by"].append(holder)
    cps = sorted(merged.values(), key=lambda c: (c["service"], c["size"], c["signed_at"]))
    keys = {c["service"]: {"key_id": c["key_id"], "public_key": c["public_key"]} for c in cps}
    doc = {"format": EXPORT_FORMAT, "exported_at": now.isoformat(), "keys": keys, "checkpoints": cps}
    out.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n")
    rows = []
    for s in PRODUCERS:
        of = [c for c in cps if c["service"] == s]
        rows.append((s, len(of), of[-1]["size"] if of else "-", of[-1]["signed_at"] if of else "-",
                     ", ".join(sorted({h for c in of for h in c["held_by"]})) or "-"))
    print_rows(("service", "checkpoints", "newest size", "newest signed at", "held by"), rows)
    console.print(f"written 已写入 {out}")
    if missing:
        console.print(f"[yellow]the checkpoints held by {', '.join(missing)} could not be read[/yellow]\n"
                      "部分服务持有的检查点无法读取")
