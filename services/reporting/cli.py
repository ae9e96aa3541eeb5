"""Reporting's commands: rebuilding its read model, and the reports a leader hands on (统计报表)."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

from xinfang.terminal import console

_token_for: Callable[[str], str] = lambda username: (_ for _ in ()).throw(RuntimeError("no token source"))  # noqa: E731


def register(app: typer.Typer, token_for: Callable[[str], str]) -> None:
    """Add reporting's commands to the ``xinfang`` command line; ``token_for`` makes a user's token."""
    global _token_for
    _token_for = token_for
    app.command()(rebuild)
    app.command()(report)


def rebuild(service: str = typer.Argument(..., help="the read model to rebuild: reporting")):
    """Rebuild a read model from its stored facts; the running service answers from the old one until
    the new one has caught up (重建统计库)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from services.reporting.bootstrap import MIGRATIONS
    from services.reporting.rebuild import rebuild as run
    from xinfang.config import service_settings
    from xinfang.storage import Database

    if service != "reporting":
        console.print("only reporting can be rebuilt / 只有 reporting 可以重建")
        raise typer.Exit(2)
    db = Database(service_settings("reporting").database_url)
    db.migrate(MIGRATIONS)
    with Progress(TextColumn("rebuilding 重建中"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console) as bar:
        task = bar.add_task("rebuild", total=None)
        out = run(db, progress=lambda done, total: bar.update(task, completed=done, total=total))
    print(f"generation={out['generation']} previous={out['previous']} events={out['events']}")


def report(
    month: str = typer.Option(None, help="YYYY-MM"), quarter: str = typer.Option(None, help="YYYY-Qn"),
    year: str = typer.Option(None, help="YYYY"), fmt: str = typer.Option("xlsx", "--format", help="xlsx | csv"),
    out: Path = typer.Option(None, help="file to write (default: xinfang-<period>.<format>)"),
    as_user: str = typer.Option(None, "--as", help="report as this user (scope: theirs)"),
    division_code: str = typer.Option(None), unit_id: str = typer.Option(None),
    url: str = typer.Option(None, help="reporting's URL (default http://127.0.0.1:$REPORTING_PORT)"),
):
    """Write the monthly, quarterly or yearly report (统计报表) as XLSX or CSV."""
    import os

    import httpx

    chosen = [(k, f, v) for k, f, v in (("monthly", "month", month), ("quarterly", "quarter", quarter),
                                        ("yearly", "year", year)) if v]
    if len(chosen) != 1 or fmt not in ("xlsx", "csv"):
        console.print("give one of --month, --quarter, --year and --format xlsx|csv / 请指定一个统计期间")
        raise typer.Exit(2)
    kind, field, value = chosen[0]
    token = os.environ.get("XINFANG_TOKEN") or (_token_for(as_user) if as_user else None)
    if not token:
        console.print("give --as USER or set XINFANG_TOKEN / 请用 --as 指定用户或设置 XINFANG_TOKEN")
        raise typer.Exit(2)
    url = url or f"http://127.0.0.1:{os.environ.get('REPORTING_PORT', '8004')}"
    params = {field: value, **({"division_code": division_code} if division_code else {}),
              **({"unit_id": unit_id} if unit_id else {})}
    r = httpx.get(f"{url}/api/v1/exports/{kind}.{fmt}", params=params, timeout=120,
                  headers={"Authorization": f"Bearer {token}"})
    if r.status_code != 200:
        console.print(f"[red]{r.status_code} {r.text[:500]}[/red]")
        raise typer.Exit(1)
    out = out or Path(f"xinfang-{value}.{fmt}")
    out.write_bytes(r.content)
    print(out)
