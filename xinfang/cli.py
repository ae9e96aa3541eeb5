"""``xinfang``: run and operate the system from the command line."""
from __future__ import annotations

import signal
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from xinfang.config import SERVICES, settings

app = typer.Typer(help="Xinfang 信访 — run and operate the petition case system.", no_args_is_help=True,
                  add_completion=False)
topics_app = typer.Typer(help="Kafka topics: create or list them.", no_args_is_help=True)
app.add_typer(topics_app, name="topics")
console = Console(stderr=True)


@app.command()
def up(
    services: list[str] = typer.Option(list(SERVICES), "--service", "-s", help="which services to start"),
    data_dir: Path = typer.Option(None, help="where SQLite files and logs go (default .xinfang)"),
):
    """Start the broker (embedded tansu unless KAFKA_BOOTSTRAP_SERVERS is set) and the services.

    Logs are prefixed by service; Ctrl-C stops everything cleanly."""
    from xinfang.supervisor import Stack

    unknown = [s for s in services if s not in SERVICES]
    if unknown:
        raise typer.BadParameter(f"unknown service(s) {unknown}; choose from {list(SERVICES)}", param_hint="--service")
    cfg = settings()
    stack = Stack(data_dir=(data_dir or cfg.data_dir).resolve(), bootstrap=cfg.kafka_bootstrap_servers,
                  out=sys.stdout, color=sys.stdout.isatty())
    stopping = {"now": False}

    def _stop(*_):
        if not stopping["now"]:
            stopping["now"] = True
            console.print("\n[bold]stopping … 正在停止[/bold]")
            stack.stop()
            console.print("stopped. 已停止。")
            raise SystemExit(0)

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        console.print("starting broker … 正在启动消息代理")
        bootstrap = stack.start_broker()
        console.print(f"broker: {bootstrap} ({'embedded tansu, in memory' if stack.broker else 'external Kafka'})")
        stack.start(services, timeout=120)
    except (RuntimeError, TimeoutError, OSError) as exc:
        console.print(f"[red]could not start: {exc}[/red]\n无法启动：{exc}")
        stack.stop()
        raise typer.Exit(1)
    t = Table(title="Xinfang is up 信访系统已启动 (Ctrl-C to stop 按 Ctrl-C 停止)")
    t.add_column("service")
    t.add_column("API")
    t.add_column("OpenAPI")
    for name, sp in stack.services.items():
        t.add_row(name, sp.url + "/api/v1/", sp.url + "/docs")
    console.print(t)
    console.print(f"data and logs: {stack.data_dir}")

    def _died(name: str, code: int):
        console.print(f"[red]{name} exited with code {code}; stopping the rest. 服务 {name} 已退出。[/red]")
        stack.stop()
        raise SystemExit(1)

    stack.watch(_died)


@topics_app.command("create")
def topics_create(partitions: int = typer.Option(None, help="partitions per topic (default XINFANG_TOPIC_PARTITIONS)")):
    """Create every Xinfang topic and its dead-letter topic (existing ones are left alone)."""
    from xinfang.messaging.admin import ensure_topics

    bootstrap = _bootstrap()
    created = ensure_topics(bootstrap, partitions=partitions or settings().topic_partitions)
    console.print(f"created {len(created)}: {', '.join(created) or '-'}")


@topics_app.command("list")
def topics_list():
    """List the broker's topics with their partition counts."""
    from xinfang.messaging.admin import list_topics

    t = Table("topic", "partitions")
    for name, n in list_topics(_bootstrap()).items():
        t.add_row(name, str(n))
    Console().print(t)


def _bootstrap() -> str:
    b = settings().kafka_bootstrap_servers
    if not b:
        console.print("KAFKA_BOOTSTRAP_SERVERS is not set (the embedded broker runs only inside `xinfang up`).\n"
                      "未设置 KAFKA_BOOTSTRAP_SERVERS。")
        raise typer.Exit(2)
    return b


def main() -> None:
    app()
