"""``xinfang audit verify``: recompute every service store's hash chain (xinfang/storage/chain.py)
and say where it first fails. Read-only: it opens each database by its ``<NAME>_DATABASE_URL``."""
from __future__ import annotations

import sqlalchemy as sa
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from xinfang.config import SERVICES
from xinfang.storage import chain
from xinfang.terminal import console, print_rows
from xinfang_cli.opsdb import database_url, engine_for

audit_app = typer.Typer(help="Audit 审计: prove that no stored event was edited, deleted or moved.",
                        no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def verify(service: list[str] = typer.Argument(None, help=f"services to verify (default all: {', '.join(SERVICES)})")):
    """Recompute every hash of each service's event chain; exit 1 at the first that does not
    verify, naming its position and what is wrong there (重新计算每个服务事件链的哈希)."""
    service = service or list(SERVICES)
    unknown = [s for s in service if s not in SERVICES]
    if unknown:
        raise typer.BadParameter(f"unknown service(s) {unknown} / 未知的服务", param_hint="SERVICE")
    rows, failed, unreadable = [], False, False
    with Progress(TextColumn("verifying 正在校验 {task.fields[what]}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=console) as bar:
        for s in service:
            try:
                with engine_for(database_url(s)) as engine, engine.connect() as conn:
                    total = chain.count(conn)
                    task = bar.add_task(s, total=total, what=s)
                    v = chain.verify(conn, progress=lambda n, t=task: bar.advance(t, n))
            except (FileNotFoundError, sa.exc.OperationalError, sa.exc.ProgrammingError) as exc:
                unreadable = True
                rows.append((s, "-", "-", "cannot be read 无法读取"))
                console.print(f"[red]{s}: {str(exc).splitlines()[0]}[/red]\n{s} 的数据库无法读取（未迁移或不存在）")
                continue
            if v.ok:
                rows.append((s, v.size, v.head[:16], "ok 通过"))
            else:
                failed = True
                rows.append((s, v.size, v.head[:16], f"FAILED 未通过 at {v.first}"))
                for f in v.findings:
                    console.print(f"[red]{s}: {f}[/red]")
    print_rows(("service", "events", "head", "verdict"), rows)
    if failed:
        console.print("[red]the event store was changed outside the system[/red]\n事件库在系统之外被改动过")
    if failed or unreadable:
        raise typer.Exit(1)
