"""FastAPI dependencies that turn a bearer token into a Principal, and role checks.

Every ``/api/v1/`` route of every service depends on ``current_user`` except sign-in and the
public tracking routes. Missing or bad token: 401. Wrong role: 403. Out of scope: the route
answers 404 itself (see ``xinfang.security``).
"""
from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from xinfang.errors import DomainError
from xinfang.security import ROLE_NAMES_ZH, InvalidToken, Principal, TokenVerifier


class Unauthenticated(DomainError):
    status = 401
    code = "unauthenticated"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class TooManyRequests(DomainError):
    status = 429
    code = "too_many_requests"


_bearer = HTTPBearer(auto_error=False, description="a token from routing's POST /api/v1/auth/sign-in "
                                                   "or `xinfang token USER`")


def current_user_dependency(verifier: TokenVerifier) -> Callable[..., Principal]:
    def current_user(creds: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Principal:
        if creds is None or creds.scheme.lower() != "bearer":
            raise Unauthenticated("sign in first: this endpoint needs a bearer token",
                                  "请先登录：此接口需要有效的访问令牌")
        try:
            return verifier.verify(creds.credentials)
        except InvalidToken as exc:
            raise Unauthenticated(f"{exc}; sign in again", "令牌无效或已过期，请重新登录") from exc

    return current_user


def require_role(user: Principal, *roles: str) -> None:
    if user.role not in roles:
        names = "、".join(ROLE_NAMES_ZH[r] for r in roles)
        raise Forbidden(f"role {user.role} may not do this (needs one of: {', '.join(roles)})",
                        f"当前角色（{ROLE_NAMES_ZH.get(user.role, user.role)}）无权执行此操作，需要：{names}")


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


def client_key(request: Request) -> str:
    return request.client.host if request.client else "unknown"
