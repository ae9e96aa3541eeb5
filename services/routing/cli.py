"""Routing's commands: staff accounts (kept by routing) and tokens for scripts."""
from __future__ import annotations

from pathlib import Path

import typer

from xinfang.config import service_settings, settings
from xinfang.storage import Database
from xinfang.terminal import console, fail, print_rows

MIGRATIONS = Path(__file__).parent / "migrations"  # bootstrap's; not imported, which builds the whole app

users_app = typer.Typer(help="Staff accounts (kept by routing): add, list, change password, disable.",
                        no_args_is_help=True)


def routing_db() -> Database:
    db = Database(service_settings("routing").database_url)
    db.migrate(MIGRATIONS)
    return db


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
    from services.routing import staff

    try:
        u = staff.create_user(routing_db(), username, password, role, jurisdiction, unit, name)
    except Exception as exc:
        fail(exc)
    console.print(f"added {u['username']} ({u['role']}, {u['jurisdiction']}) 已添加")


@users_app.command("list")
def users_list():
    """List staff accounts."""
    from services.routing import staff

    rows = [(u["username"], u["display_name"] or "", u["role"], u["jurisdiction"], u["unit_id"] or "",
             "yes" if u["active"] else "no") for u in staff.list_users(routing_db())]
    print_rows(("user", "name", "role", "jurisdiction", "unit", "active"), rows)


@users_app.command("passwd")
def users_passwd(username: str, password: str = typer.Option(..., prompt=True, hide_input=True,
                                                             confirmation_prompt=True, envvar="XINFANG_NEW_PASSWORD")):
    """Set a user's password; the tokens issued before stop working in every service."""
    from services.routing import staff

    try:
        staff.set_password(routing_db(), username, password)
    except Exception as exc:
        fail(exc)
    console.print("password changed 密码已修改")


@users_app.command("disable")
def users_disable(username: str):
    """Disable an account: its tokens stop working in every service within moments."""
    from services.routing import staff

    try:
        staff.set_active(routing_db(), username, False)
    except Exception as exc:
        fail(exc)
    console.print(f"{username} disabled 已停用")


def token_for(username: str) -> str:
    """A token for ``username``, signed with the operator's key or the development keys of ``xinfang up``."""
    import os

    from services.routing import staff
    from xinfang.security import TokenIssuer, ensure_keypair, signing_key_from_env

    if not (os.environ.get("XINFANG_TOKEN_SIGNING_KEY") or os.environ.get("XINFANG_TOKEN_SIGNING_KEY_FILE")):
        priv, _ = ensure_keypair(settings().data_dir.resolve() / "keys")  # the keys `xinfang up` uses
        os.environ["XINFANG_TOKEN_SIGNING_KEY_FILE"] = str(priv)
    try:
        principal = staff.principal_of(routing_db(), username)
    except Exception as exc:
        fail(exc)
    tok, _ = TokenIssuer(signing_key_from_env()).issue(principal)
    return tok


def register(app: typer.Typer) -> None:
    """Add routing's commands to the ``xinfang`` command line."""
    app.add_typer(users_app, name="users")
    app.command()(token)


def token(username: str):
    """Print a bearer token for USER (for scripts: curl -H "Authorization: Bearer $(xinfang token demo-clerk)")."""
    print(token_for(username))
