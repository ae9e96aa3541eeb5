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
    pii = typer.Typer(help="The PII key: rewrite every row under a new key (个人信息密钥轮换).", no_args_is_help=True)
    pii.command("status")(pii_status)
    pii.command("rotate")(pii_rotate)
    app.add_typer(pii, name="pii")


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


def _intake_db():
    from xinfang.config import service_settings
    from xinfang.storage import Database

    db = Database(service_settings("intake").database_url)
    db.migrate(Path(__file__).parent / "migrations")  # migrations first: the key id column is intake_0008
    return db


def pii_status():
    """How many petitioner rows each PII key wrote (current, previous, unknown)."""
    from services.intake import handlers
    from xinfang.config import settings

    vault = settings().pii_vault()
    counts = handlers.pii_keys_in_use(_intake_db(), vault)
    t = Table(title=f"petitioner rows by PII key 按密钥统计当事人记录 (current key id {vault.key_id})")
    t.add_column("key 密钥")
    t.add_column("rows 行数", justify="right")
    t.add_row("current 当前密钥", str(counts["current"]))
    t.add_row("previous (XINFANG_PII_PREVIOUS_KEYS) 旧密钥", str(counts["previous"]))
    t.add_row("unknown: before key ids, or not in the ring 未知", str(counts["unknown"]))
    console.print(t)
    print(f"current={counts['current']} previous={counts['previous']} unknown={counts['unknown']}")


def pii_rotate(batch: int = typer.Option(500, min=1, max=10_000, help="rows per transaction")):
    """Rewrite every petitioner row under the current XINFANG_PII_KEY (个人信息密钥轮换).

    Give intake the new key as XINFANG_PII_KEY and the old one in XINFANG_PII_PREVIOUS_KEYS,
    restart it, then run this (intake may keep running). When it reports nothing left, drop the
    old key. A rerun rewrites only what is left."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from services.intake import handlers
    from xinfang.config import settings

    vault = settings().pii_vault()
    db = _intake_db()
    counts = handlers.pii_keys_in_use(db, vault)
    left = counts["previous"] + counts["unknown"]
    with Progress(TextColumn("re-encrypting 重新加密"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console) as bar:
        task = bar.add_task("rotate", total=left)
        out = handlers.rotate_pii_key(db, vault, batch=batch, progress=lambda n: bar.advance(task, n))
    after = handlers.pii_keys_in_use(db, vault)
    remaining = after["previous"] + after["unknown"]
    console.print(f"rewritten under key {vault.key_id} 已按当前密钥重写: {out.rewritten}; "
                  f"left 剩余: {remaining}")
    if out.unreadable:
        console.print(f"[red]{len(out.unreadable)} rows no key decrypts (add the key they were written with to "
                      f"XINFANG_PII_PREVIOUS_KEYS and run again) / {len(out.unreadable)} 行无法用现有密钥解密[/red]")
        for pid in out.unreadable[:10]:
            console.print(f"  petitioner 当事人 {pid}")
    print(f"rewritten={out.rewritten} unreadable={len(out.unreadable)} left={remaining}")
    if out.unreadable or remaining:
        raise typer.Exit(1)
