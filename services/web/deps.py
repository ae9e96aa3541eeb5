"""What the pages are given by FastAPI instead of fetching it themselves.

- ``Site``: the app's ``Console`` (settings, templates, reference data).
- ``VisitorApi``: the services as the visitor, with the token of their cookie if they have one
  (public tracking); ``AnonymousApi``: without any token (signing in, the petitioner's rating).
- ``Me``: the signed-in user as routing's ``/api/v1/me`` names them; ``UserApi``: the services
  with that user's token. Declaring either signs the visitor in: with no cookie, or a token the
  services refuse, the dependency raises ``SignedOut`` and the app answers it as it answers a
  ``SignedOut`` from any later call: 303 to ``/login?next=<path>``, the cookie deleted
  (services/web/app.py).

A page's own parameters are checked before the visitor is signed in, as when each handler signed
in as its first line: a malformed ``page`` answers 422, signed in or not, and asks routing nothing.
"""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.dependencies.utils import request_params_to_args
from fastapi.exceptions import RequestValidationError

from services.web.client import Api
from services.web.console import Console


async def get_console(request: Request) -> Console:
    return request.app.state.console


Site = Annotated[Console, Depends(get_console)]


async def visitor_api(request: Request, site: Site) -> Api:
    return site.api(request)


async def anonymous_api(request: Request, site: Site) -> Api:
    return site.api(request, token=False)


VisitorApi = Annotated[Api, Depends(visitor_api)]
AnonymousApi = Annotated[Api, Depends(anonymous_api)]


async def page_parameters(request: Request) -> None:
    """The page's path and query parameters, validated as FastAPI validates them after the
    dependencies: the same 422, before the sign-in (which FastAPI resolves first)."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    _, path_errors = request_params_to_args(dependant.path_params, request.path_params)
    _, query_errors = request_params_to_args(dependant.query_params, request.query_params)
    if path_errors or query_errors:
        raise RequestValidationError(path_errors + query_errors)


async def current_user(request: Request, _checked: Annotated[None, Depends(page_parameters)], site: Site,
                       a: VisitorApi) -> dict:
    me = await site.identify(a)
    # the navigation's counts, for a page read (a form sent answers a redirect, which shows none);
    # a copy: the identity is cached, the counts never are
    return {**me, "todo": await site.todo(a, me) if request.method == "GET" else {}}


Me = Annotated[dict, Depends(current_user)]


async def user_api(a: VisitorApi, _me: Me) -> Api:
    return a


UserApi = Annotated[Api, Depends(user_api)]


class WrongRole(Exception):
    """A page of another role, opened by its address: 403 in Chinese (services/web/app.py)."""

    def __init__(self, me: dict, title: str) -> None:
        super().__init__(title)
        self.me, self.title = me, title


def _role_pages() -> dict[str, tuple[str, frozenset[str]]]:
    """{path: (title, roles)} of the navigation's pages that belong to some roles."""
    from services.web.console import NAV

    return {path: (title, frozenset(r)) for path, title, r in NAV if r}


ROLE_PAGES = _role_pages()
PART_OF = {"/export": "/dashboard"}  # the dashboard's downloads belong to the dashboard


async def role_user(request: Request, me: Me) -> dict:
    """``Me``, for a page that belongs to some roles (the navigation's, ``console.NAV``): the same
    roles the navigation shows it to; anyone else gets 403, whatever address they typed."""
    route = request.scope.get("route")
    path = getattr(route, "path", request.url.path)
    page = "/" + path.strip("/").split("/", 1)[0]
    page = PART_OF.get(page, page)
    if page in ROLE_PAGES:
        title, allowed = ROLE_PAGES[page]
        if me.get("role") not in allowed:
            raise WrongRole(me, title)
    return me


RoleMe = Annotated[dict, Depends(role_user)]
