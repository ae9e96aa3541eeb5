"""Intake's commands: bringing historical cases in (导入历史信访事项)."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer
from rich.table import Table

from xinfang.terminal import console

# given by the command line that composes the services: a token for a user, made from local keys
_token_for: Callable[[str], str] = lambda username: (_ for _ in ()).throw(RuntimeError("no token source"))  # noqa: E731


def register(app: typer.Typer, token_for: Callable[[str], str]) -> None:
    """Add intake's commands to the ``xinfang`` command line; ``token_for`` makes a user's token."""
    global _token_for
    _token_for = token_for
    app.command("import")(import_cases)


def import_cases(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV or JSON Lines of historical cases"),
    as_user: str = typer.Option(None, "--as", help="import as this user (its token is made from the local keys)"),
    url: str = typer.Option(None, help="intake's URL (default http://127.0.0.1:$INTAKE_PORT)"),
    batch: int = typer.Option(100, min=1, max=500, help="cases per request"),
):
    """Bring historical cases from the old system in, with their real dates (导入历史信访事项).

    Each case is stored whole or refused with its reason; a rerun skips what was imported."""
    import os

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from services.intake import importer

    token = os.environ.get("XINFANG_TOKEN")
    if not token:
        if not as_user:
            console.print("give --as USER or set XINFANG_TOKEN / 请用 --as 指定用户或设置 XINFANG_TOKEN")
            raise typer.Exit(2)
        token = _token_for(as_user)
    url = url or f"http://127.0.0.1:{os.environ.get('INTAKE_PORT', '8001')}"
    total = importer.count_rows(file)
    try:
        with Progress(TextColumn("importing 导入中"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      console=console) as bar:
            task = bar.add_task("import", total=total)
            out = importer.run_import(file, url, token, batch=batch, progress=lambda n: bar.advance(task, n))
    except (ValueError, RuntimeError, OSError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    t = Table(title=f"{file.name}: {out.total} rows 行")
    t.add_column("result 结果")
    t.add_column("rows 行数", justify="right")
    t.add_row("imported 已导入", str(out.imported))
    t.add_row("skipped (imported before) 已跳过（此前已导入）", str(out.skipped))
    t.add_row("refused 拒绝", str(len(out.refused)))
    console.print(t)
    if out.refused:
        report = importer.write_refusals(file, out.refused)
        for r in out.refused[:10]:
            console.print(f"  line {r['line']} ({r['legacy_id']}): {r['field'] or ''} {r['reason']} {r['reason_zh'] or ''}")
        console.print(f"every refusal with its reason 全部拒绝原因: {report}")
    print(f"imported={out.imported} skipped={out.skipped} refused={len(out.refused)}")
