"""Reporting's questions answered from the read model."""
from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa

from services.reporting.adapters import case_facts
from xinfang.security import Principal
from xinfang.storage import Database


def scope(user: Principal):
    """The facts this user may count: their unit's cases for a handler, else their jurisdiction."""
    if user.role == "handler":
        return case_facts.c.unit_id == user.unit_id
    return case_facts.c.office.startswith(user.prefix)


def summary(db: Database, user: Principal) -> dict:
    registered = sa.and_(case_facts.c.channel != "", scope(user))
    with db.engine.connect() as c:
        total = c.execute(sa.select(sa.func.count()).where(registered)).scalar() or 0
        assigned = c.execute(sa.select(sa.func.count()).where(registered, case_facts.c.unit_id.is_not(None))).scalar() or 0
        by_channel = dict(c.execute(sa.select(case_facts.c.channel, sa.func.count())
                                    .where(registered).group_by(case_facts.c.channel)).all())
        persons = c.execute(sa.select(sa.func.coalesce(sa.func.sum(case_facts.c.headcount), 0)).where(registered)).scalar()
    online = by_channel.get("online", 0)
    return {
        "registered": int(total),
        "assigned": int(assigned),
        "person_times": int(persons or 0),
        "by_channel": {k: int(v) for k, v in sorted(by_channel.items())},
        "online_share": round(online / total, 4) if total else None,
        "as_of": datetime.now(timezone.utc),
        "scope": {"jurisdiction": user.jurisdiction, "unit_id": user.unit_id if user.role == "handler" else None},
    }
