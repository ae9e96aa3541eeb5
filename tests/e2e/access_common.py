"""What every access row uses: the two townships, their users, calls as a user, counts in a
service's database. Rows live beside the service they check (access_<service>.py); test_access.py
joins them into one matrix that must cover every endpoint."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

XINFANG = str(Path(sys.executable).parent / "xinfang")
TOWNSHIP_A, TOWNSHIP_B = "999901001000", "999901002000"
VILLAGE_A, VILLAGE_B = "999901001003", "999901002004"
ID_B = "11010519491231002X"   # valid GB 11643 numbers that appear nowhere else
PHONE_B = "13912345678"


def add_user(system, username, role, jurisdiction, unit=None):
    env = {**os.environ, "ROUTING_DATABASE_URL": system.db_urls["routing"], "XINFANG_NEW_PASSWORD": "pass-for-tests"}
    args = [XINFANG, "users", "add", username, "--role", role, "--jurisdiction", jurisdiction]
    if unit:
        args += ["--unit", unit]
    r = subprocess.run(args, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def _as(system, user, method, service, path, json=None):
    return system.http.request(method, f"{system.url[service]}{path}", json=json, headers=system.auth(user))


def _count(system, service, sql) -> int:
    return int(system.scalar(service, sql))
