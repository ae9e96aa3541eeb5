"""``xinfang``: run and operate the system from the command line."""
from __future__ import annotations

import signal
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from xinfang.config import CONSOLE, SERVICES, settings

app = typer.Typer(help="Xinfang 信访 — run and operate the petition case system.", no_args_is_help=True,
                  add_completion=False)
topics_app = typer.Typer(help="Kafka topics: create or list them.", no_args_is_help=True)
app.add_typer(topics_app, name="topics")
users_app = typer.Typer(help="Staff accounts (kept by routing): add, list, change password, disable.",
                        no_args_is_help=True)
app.add_typer(users_app, name="users")
calendar_app = typer.Typer(help="Working-day calendar: show where each year comes from, load a year's schedule.",
                            no_args_is_help=True)
app.add_typer(calendar_app, name="calendar")
console = Console(stderr=True)


@app.command()
def up(
    services: list[str] = typer.Option([*SERVICES, CONSOLE], "--service", "-s", help="which services to start"),
    data_dir: Path = typer.Option(None, help="where SQLite files and logs go (default .xinfang)"),
    demo: bool = typer.Option(True, "--demo/--no-demo", help="seed the DEMO county and the demo users"),
    broker: str = typer.Option(None, help="tansu (embedded, in memory; the default) or kafka (Apache Kafka "
                                         "from Maven Central, its log under the data folder); default XINFANG_BROKER"),
):
    """Start the broker and the services. The broker is the embedded tansu, or Apache Kafka with
    --broker kafka; none when KAFKA_BOOTSTRAP_SERVERS names a running one (set XINFANG_BROKER=kafka
    if it is an Apache Kafka).

    Logs are prefixed by service; Ctrl-C stops everything cleanly."""
    from xinfang.messaging.profiles import BROKERS
    from xinfang.supervisor import Stack

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
        raise typer.Exit(1)
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

    bootstrap = _bootstrap()
    created = ensure_topics(bootstrap, partitions=partitions or settings().topic_partitions)
    console.print(f"created {len(created)}: {', '.join(created) or '-'}")


@topics_app.command("list")
def topics_list():
    """List the broker's topics with their partition counts."""
    from xinfang.messaging.admin import list_topics

    _print_rows(("topic", "partitions"), list(list_topics(_bootstrap()).items()))


def _routing_db():
    from services.routing.bootstrap import MIGRATIONS
    from xinfang.config import service_settings
    from xinfang.storage import Database

    db = Database(service_settings("routing").database_url)
    db.migrate(MIGRATIONS)
    return db


def _fail(exc) -> None:
    from xinfang.errors import DomainError

    if isinstance(exc, DomainError):
        console.print(f"[red]{exc.message}[/red]\n{exc.message_zh}")
        raise typer.Exit(1)
    raise exc


@users_app.command("add")
def users_add(
    username: str,
    role: str = typer.Option(..., help="clerk | dispatcher | handler | supervisor | leader | admin"),
    jurisdiction: str = typer.Option(..., help="12-digit division code of the user's office or unit"),
    unit: str = typer.Option(None, help="unit id (required for a handler)"),
    name: str = typer.Option(None, help="display name"),
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True,
                                 envvar="XINFANG_NEW_PASSWORD"),
):
    """Add a staff account."""
    from services.routing import organisation

    try:
        u = organisation.create_user(_routing_db(), username, password, role, jurisdiction, unit, name)
    except Exception as exc:
        _fail(exc)
    console.print(f"added {u['username']} ({u['role']}, {u['jurisdiction']}) 已添加")


@users_app.command("list")
def users_list():
    """List staff accounts."""
    from services.routing import organisation

    rows = [(u["username"], u["display_name"] or "", u["role"], u["jurisdiction"], u["unit_id"] or "",
             "yes" if u["active"] else "no") for u in organisation.list_users(_routing_db())]
    _print_rows(("user", "name", "role", "jurisdiction", "unit", "active"), rows)


def _print_rows(header, rows) -> None:
    """A table on a terminal; tab-separated lines when piped (for scripts)."""
    if not sys.stdout.isatty():
        for r in [header, *rows]:
            print("\t".join(str(x) for x in r))
        return
    t = Table(*header)
    for r in rows:
        t.add_row(*[str(x) for x in r])
    Console().print(t)


@users_app.command("passwd")
def users_passwd(username: str, password: str = typer.Option(..., prompt=True, hide_input=True,
                                                             confirmation_prompt=True, envvar="XINFANG_NEW_PASSWORD")):
    """Set a user's password; the tokens issued before stop working in every service."""
    from services.routing import organisation

    try:
        organisation.set_password(_routing_db(), username, password)
    except Exception as exc:
        _fail(exc)
    console.print("password changed 密码已修改")


@users_app.command("disable")
def users_disable(username: str):
    """Disable an account: its tokens stop working in every service within moments."""
    from services.routing import organisation

    try:
        organisation.set_active(_routing_db(), username, False)
    except Exception as exc:
        _fail(exc)
    console.print(f"{username} disabled 已停用")


@app.command()
def token(username: str):
    """Print a bearer token for USER (for scripts: curl -H "Authorization: Bearer $(xinfang token demo-clerk)")."""
    print(_token_for(username))


@app.command("import")
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

    from xinfang import importer

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
        raise typer.Exit(1)
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


@app.command()
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


@app.command()
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


def _token_for(username: str) -> str:
    import os

    from services.routing import organisation
    from xinfang.security import TokenIssuer, ensure_keypair, signing_key_from_env

    if not (os.environ.get("XINFANG_TOKEN_SIGNING_KEY") or os.environ.get("XINFANG_TOKEN_SIGNING_KEY_FILE")):
        priv, _ = ensure_keypair(settings().data_dir.resolve() / "keys")  # the keys `xinfang up` uses
        os.environ["XINFANG_TOKEN_SIGNING_KEY_FILE"] = str(priv)
    try:
        principal = organisation.principal_of(_routing_db(), username)
    except Exception as exc:
        _fail(exc)
    tok, _ = TokenIssuer(signing_key_from_env()).issue(principal)
    return tok


@calendar_app.command("load")
def calendar_load(file: Path = typer.Argument(..., exists=True, dir_okay=False,
                                               help='JSON: {"year": 2027, "holidays": [...], "workdays": [...]}')):
    """Load a year's holiday schedule (with its make-up workdays); services read it on start."""
    from xinfang.workdays import ScheduleFileError, calendar_dir, load_schedule_file

    try:
        s = load_schedule_file(file)
    except ScheduleFileError as exc:
        console.print(f"[red]{file}: {exc}[/red]\n节假日安排文件格式错误")
        raise typer.Exit(1)
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


def _bootstrap() -> str:
    b = settings().kafka_bootstrap_servers
    if not b:
        console.print("KAFKA_BOOTSTRAP_SERVERS is not set (the embedded broker runs only inside `xinfang up`).\n"
                      "未设置 KAFKA_BOOTSTRAP_SERVERS。")
        raise typer.Exit(2)
    return b


def main() -> None:
    app()
