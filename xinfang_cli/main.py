"""``xinfang``: run and operate the system from the command line.

The entrypoint that composes the services' own commands (``services/<name>/cli.py``) with the
kernel's (broker topics, the calendar, keys) and ``up``, which runs everything."""
from __future__ import annotations

import signal
import sys
from pathlib import Path

import typer
from rich.table import Table

from services.intake import cli as intake_cli
from services.reporting import cli as reporting_cli
from services.routing import cli as routing_cli
from xinfang.config import CONSOLE, SERVICES, settings
from xinfang.terminal import console, print_rows
from xinfang_cli import audit as audit_cli
from xinfang_cli import backup as backup_cli
from xinfang_cli import ops as ops_cli
from xinfang_cli import opsdb

app = typer.Typer(help="Xinfang 信访 — run and operate the petition case system.", no_args_is_help=True,
                  add_completion=False)
topics_app = typer.Typer(help="Kafka topics: create or list them.", no_args_is_help=True)
app.add_typer(topics_app, name="topics")
calendar_app = typer.Typer(help="Working-day calendar: show where each year comes from, load a year's schedule.",
                            no_args_is_help=True)
app.add_typer(calendar_app, name="calendar")


@app.command()
def up(
    services: list[str] = typer.Option([*SERVICES, CONSOLE], "--service", "-s", help="which services to start"),
    data_dir: Path = typer.Option(None, help="where SQLite files and logs go (default .xinfang)"),
    demo: bool = typer.Option(True, "--demo/--no-demo", help="seed the DEMO county and the demo users"),
    broker: str = typer.Option(None, help="tansu (embedded, in memory; the default) or kafka (Apache Kafka "
                                         "from Maven Central, its log under the data folder); default XINFANG_BROKER"),
):
    """Start the broker and the services: the embedded tansu, or Apache Kafka with --broker kafka;
    no broker when KAFKA_BOOTSTRAP_SERVERS names a running one (then set XINFANG_BROKER=kafka if
    it is an Apache Kafka).

    Logs are prefixed by service; Ctrl-C stops everything cleanly."""
    from xinfang.messaging.profiles import BROKERS
    from xinfang_cli.supervisor import Stack

    unknown = [s for s in services if s not in (*SERVICES, CONSOLE)]
    if unknown:
        raise typer.BadParameter(f"unknown service(s) {unknown}; choose from {[*SERVICES, CONSOLE]}", param_hint="--service")
    cfg = settings()
    broker = broker or cfg.broker
    if broker not in BROKERS:
        raise typer.BadParameter(f"unknown broker {broker!r}; choose from {list(BROKERS)} / 未知的消息代理",
                                 param_hint="--broker")
    stack = Stack(data_dir=(data_dir or cfg.data_dir).resolve(), bootstrap=cfg.kafka_bootstrap_servers,
                  out=sys.stdout, color=sys.stdout.isatty(), demo=demo, broker_kind=broker)
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
        bootstrap = stack.start_broker(say=console.print)
        if stack.broker is None:
            what = f"external, as {broker}"
        elif broker == "tansu":
            what = "embedded tansu, in memory"
        else:
            what = stack.broker.describe() + (", new log: stores republished" if stack.broker.fresh else "")
        console.print(f"broker: {bootstrap} ({what})")
        stack.start(services, timeout=120)
    except (RuntimeError, TimeoutError, OSError) as exc:  # BrokerError is a RuntimeError
        console.print(f"[red]could not start: {exc}[/red]\n无法启动：{exc}")
        stack.stop()
        raise typer.Exit(1) from None
    t = Table(title="Xinfang is up 信访系统已启动 (Ctrl-C to stop 按 Ctrl-C 停止)")
    t.add_column("service")
    t.add_column("API")
    t.add_column("OpenAPI")
    for name, sp in stack.services.items():
        t.add_row(name, sp.url + ("/" if name == CONSOLE else "/api/v1/"), "" if name == CONSOLE else sp.url + "/docs")
    console.print(t)
    if CONSOLE in stack.services:
        console.print(f"web console 网页工作台: {stack.services[CONSOLE].url}/")
    console.print(f"data and logs: {stack.data_dir}")
    if demo:
        console.print("demo users 演示用户: demo-admin, demo-clerk, demo-dispatcher, demo-handler, demo-supervisor, "
                      "demo-leader, demo-township-clerk — password 密码 xinfang-demo\n"
                      f"sign in: POST {stack.services['routing'].url}/api/v1/auth/sign-in "
                      "or `xinfang token demo-clerk`" if "routing" in stack.services else "")

    def _died(name: str, code: int):
        console.print(f"[red]{name} exited with code {code}; stopping the rest. 服务 {name} 已退出。[/red]")
        stack.stop()
        raise SystemExit(1)

    stack.watch(_died)


@topics_app.command("create")
def topics_create(partitions: int = typer.Option(None, help="partitions per topic (default XINFANG_TOPIC_PARTITIONS)")):
    """Create every Xinfang topic and its dead-letter topic (existing ones are left alone)."""
    from xinfang.messaging.admin import ensure_topics

    bootstrap = opsdb.bootstrap()
    created = ensure_topics(bootstrap, partitions=partitions or settings().topic_partitions)
    console.print(f"created {len(created)}: {', '.join(created) or '-'}")


@topics_app.command("list")
def topics_list():
    """List the broker's topics with their partition counts."""
    from xinfang.messaging.admin import list_topics

    print_rows(("topic", "partitions"), list(list_topics(opsdb.bootstrap()).items()))


@calendar_app.command("load")
def calendar_load(file: Path = typer.Argument(..., exists=True, dir_okay=False,
                                               help='JSON: {"year": 2027, "holidays": [...], "workdays": [...]}')):
    """Load a year's holiday schedule (with its make-up workdays); services read it on start."""
    from xinfang.workdays import ScheduleFileError, calendar_dir, load_schedule_file

    try:
        s = load_schedule_file(file)
    except ScheduleFileError as exc:
        console.print(f"[red]{file}: {exc}[/red]\n节假日安排文件格式错误")
        raise typer.Exit(1) from None
    console.print(f"[green]{s.year}[/]: {len(s.holidays)} holidays, {len(s.workdays)} make-up workdays → "
           f"{calendar_dir() / f'{s.year}.json'} (the running services use it for new clocks within 30 s; "
           f"clocks already set keep their due dates / 30 秒内用于新的期限，已设定的期限不变)")


@calendar_app.command("show")
def calendar_show(first: int = typer.Argument(None), last: int = typer.Argument(None)):
    """Where each year's working days come from: loaded file, published schedule, or Monday–Friday."""
    from datetime import date as _date

    from xinfang.workdays import WorkCalendar

    cal, this = WorkCalendar.default(), _date.today().year
    for y in range(first or this - 1, (last or this + 1) + 1):
        console.print(f"{y}: {cal.source(y)}")


@app.command()
def keys():
    """Print a fresh token key pair as shell exports (for docker-compose or a production start)."""
    from xinfang.security import generate_keypair

    private, public = generate_keypair()
    for name, pem in (("XINFANG_TOKEN_SIGNING_KEY", private), ("XINFANG_TOKEN_VERIFY_KEY", public)):
        escaped = pem.strip().replace("\n", "\\n")
        print(f"export {name}='{escaped}'")


# the services' own commands
routing_cli.register(app)
intake_cli.register(app, token_for=routing_cli.token_for)
reporting_cli.register(app, token_for=routing_cli.token_for)
# the operator's commands: lag, dead letters, backup and restore (xinfang_cli/ops.py, backup.py)
ops_cli.register(app)
backup_cli.register(app)
audit_cli.register(app)


def main() -> None:
    app()
