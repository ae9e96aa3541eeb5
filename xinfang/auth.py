"""FastAPI dependencies that turn a bearer token into a Principal, and role checks.

Every ``/api/v1/`` route of every service depends on ``current_user`` except sign-in and the
public tracking routes. Missing or bad token: 401. Wrong role: 403. Out of scope: the route
answers 404 itself (see ``xinfang.security``).
"""
from __future__ import annotations

import ipaddress
import logging
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from xinfang import metrics
from xinfang.errors import Forbidden, TooManyRequests, Unauthenticated  # noqa: F401  (raised here, imported from here)
from xinfang.security import ROLE_NAMES_ZH, InvalidToken, Principal, TokenVerifier, require_role  # noqa: F401

log = logging.getLogger(__name__)


_bearer = HTTPBearer(auto_error=False, description="a token from routing's POST /api/v1/auth/sign-in "
                                                   "or `xinfang token USER`")


def issued_before(iat: int | None, revoked: datetime | None) -> bool:
    """Whether a token issued at ``iat`` (whole seconds, rounded down) predates a revocation at
    ``revoked``. One issued in the same second counts as before it: refused, the user signs in
    again (a disabled one cannot)."""
    if revoked is None:
        return False
    return iat is None or datetime.fromtimestamp(iat, UTC) <= revoked


def current_user_dependency(verifier: TokenVerifier,
                            revoked_at: Callable[[str], datetime | None] | None = None) -> Callable[..., Principal]:
    """``revoked_at``: when a user's tokens were last revoked (``xinfang.staff``); a token issued
    before is refused as an expired one is."""
    def current_user(creds: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Principal:
        if creds is None or creds.scheme.lower() != "bearer":
            metrics.token_refused("missing")
            raise Unauthenticated("sign in first: this endpoint needs a bearer token",
                                  "请先登录：此接口需要有效的访问令牌")
        try:
            user, iat = verifier.verify_issued(creds.credentials)
        except InvalidToken as exc:
            metrics.token_refused("invalid")
            raise Unauthenticated(f"{exc}; sign in again", "令牌无效或已过期，请重新登录") from exc
        if revoked_at is not None and issued_before(iat, revoked_at(user.username)):
            metrics.token_refused("revoked")
            raise Unauthenticated("this token was revoked (the account was disabled or its password changed); "
                                  "sign in again", "令牌已失效（账号已停用或密码已修改），请重新登录")
        return user

    return current_user


class RateLimiter:
    """A sliding window per client key, in memory (one process per service)."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit, self.window_s = limit, window_s
        self._hits: dict[str, deque] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> None:
        now = time.monotonic()
        with self._lock:
            q = self._hits.setdefault(key, deque())
            while q and now - q[0] > self.window_s:
                q.popleft()
            if len(q) >= self.limit:
                retry = int(self.window_s - (now - q[0])) + 1
                raise TooManyRequests(f"too many requests; try again in {retry}s",
                                      f"请求过于频繁，请 {retry} 秒后再试")
            q.append(now)
            if len(self._hits) > 100_000:  # forget idle clients
                for k in [k for k, v in self._hits.items() if not v or now - v[-1] > self.window_s][:50_000]:
                    del self._hits[k]


def trusted_proxies(spec: str | None = None) -> tuple[tuple, bool]:
    """The proxies whose ``X-Forwarded-For`` a service believes: ``XINFANG_TRUSTED_PROXIES``, a
    comma-separated list of addresses, networks (``10.0.0.0/8``) or host names (e.g. ``web`` in
    docker-compose). Default: this machine, where ``make run`` puts the console. Gives the
    networks, and whether every name resolved."""
    spec = os.environ.get("XINFANG_TRUSTED_PROXIES", "127.0.0.1,::1") if spec is None else spec
    nets, complete = [], True
    for item in (x.strip() for x in spec.split(",")):
        if not item:
            continue
        try:
            nets.append(ipaddress.ip_network(item, strict=False))
        except ValueError:  # a host name
            try:
                nets += [ipaddress.ip_network(a[4][0]) for a in socket.getaddrinfo(item, None)]
            except OSError:
                complete = False
                log.warning("trusted proxy %s does not resolve (yet); its forwarded addresses are not believed", item)
    return tuple(nets), complete


def _trusted(addr: str, nets: tuple) -> bool:
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    return any(ip in n for n in nets)


_TRUSTED: tuple = ()
_TRUSTED_UNTIL = 0.0  # resolved for good, or until a name that did not resolve is tried again


def _trusted_now() -> tuple:
    global _TRUSTED, _TRUSTED_UNTIL
    if time.monotonic() >= _TRUSTED_UNTIL:
        _TRUSTED, complete = trusted_proxies()
        _TRUSTED_UNTIL = float("inf") if complete else time.monotonic() + 30
    return _TRUSTED


def client_key(request: Request, trusted: tuple | None = None) -> str:
    """Who is asking, for rate limits: the peer's address, or, when the peer is a trusted proxy
    (the web console, a front proxy), the nearest address in ``X-Forwarded-For`` that no trusted
    proxy added. Without this every petitioner tracking a case through the console shared the
    console's one limit of 30 lookups a minute."""
    if trusted is None:
        trusted = _trusted_now()
    peer = request.client.host if request.client else "unknown"
    forwarded = request.headers.get("x-forwarded-for")
    if not forwarded or not _trusted(peer, trusted):
        return peer
    hops = [h.strip() for h in forwarded.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop
    return hops[0] if hops else peer
