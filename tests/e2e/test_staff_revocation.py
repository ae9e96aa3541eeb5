"""A disabled account, or one whose password changed, stops working at once in every service, not
when its tokens expire: routing publishes StaffAccessRevoked and each service refuses the tokens
issued before it."""
from __future__ import annotations

import os
import subprocess
import time

import pytest

from tests.e2e.access_common import XINFANG, add_user

pytestmark = pytest.mark.e2e

READS = {"intake": "/api/v1/cases?limit=1", "routing": "/api/v1/me", "supervision": "/api/v1/warnings?limit=1",
         "reporting": "/api/v1/stats/summary"}


def _cli(system, *args):
    env = {**os.environ, "ROUTING_DATABASE_URL": system.db_urls["routing"], "XINFANG_NEW_PASSWORD": "new-pass-for-tests"}
    r = subprocess.run([XINFANG, "users", *args], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def _statuses(system, token):
    return {svc: system.http.get(f"{system.url[svc]}{path}", headers={"Authorization": f"Bearer {token}"}).status_code
            for svc, path in READS.items()}


def _sign_in(system, user, password):
    return system.http.post(f"{system.url['routing']}/api/v1/auth/sign-in",
                            json={"username": user, "password": password})


def test_a_disabled_clerks_token_stops_working_in_every_service(system):
    add_user(system, "clerk-leaving", "clerk", "999901001000")
    token = _sign_in(system, "clerk-leaving", "pass-for-tests").json()["access_token"]
    assert set(_statuses(system, token).values()) == {200}
    _cli(system, "disable", "clerk-leaving")
    system.wait_for(lambda: set(_statuses(system, token).values()) == {401}, timeout=20,
                    what="every service to refuse the disabled clerk's token")
    r = system.http.get(f"{system.url['intake']}/api/v1/cases", headers={"Authorization": f"Bearer {token}"})
    assert "已停用" in r.json()["error"]["message_zh"]
    assert _sign_in(system, "clerk-leaving", "pass-for-tests").status_code == 401
    # other staff are untouched
    assert set(_statuses(system, system.token("demo-clerk")).values()) == {200}


def test_a_new_password_ends_the_old_tokens_and_the_new_sign_in_works(system):
    add_user(system, "clerk-moving", "clerk", "999901001000")
    old = _sign_in(system, "clerk-moving", "pass-for-tests").json()["access_token"]
    _cli(system, "passwd", "clerk-moving")
    system.wait_for(lambda: set(_statuses(system, old).values()) == {401}, timeout=20,
                    what="every service to refuse the token from before the new password")
    time.sleep(1.1)  # a token issued in the second of the change counts as before it
    new = _sign_in(system, "clerk-moving", "new-pass-for-tests").json()["access_token"]
    assert set(_statuses(system, new).values()) == {200}
