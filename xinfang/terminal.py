"""What the command line of every service shares: the console, tables for people or scripts, and
a domain error shown in both languages instead of a traceback."""
from __future__ import annotations

import sys
from typing import NoReturn

import typer
from rich.console import Console
from rich.table import Table

console = Console(stderr=True)


def print_rows(header, rows) -> None:
    """A table on a terminal; tab-separated lines when piped (for scripts)."""
    if not sys.stdout.isatty():
        for r in [header, *rows]:
            print("\t".join(str(x) for x in r))
        return
    t = Table(*header)
    for r in rows:
        t.add_row(*[str(x) for x in r])
    Console().print(t)


def fail(exc: BaseException) -> NoReturn:
    """Exit 1 with a domain error's message in English and Chinese; re-raise anything else."""
    from xinfang.errors import DomainError

    if isinstance(exc, DomainError):
        console.print(f"[red]{exc.message}[/red]\n{exc.message_zh}")
        raise typer.Exit(1)
    raise exc
