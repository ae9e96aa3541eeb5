"""From HTML form fields to the APIs' request bodies. Field names follow the API's own paths
(``petitioners.0.name``) so that a 422's ``error.fields[].field`` lands next to its input."""
from __future__ import annotations

import re

MAX_REPRESENTATIVES = 5
_LOCAL = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$")


def instant(value: str | None, tz: str = "+08:00") -> str | None:
    """A ``datetime-local`` value is Beijing time; anything else goes as typed for the API to judge."""
    value = (value or "").strip()
    if not value:
        return None
    if _LOCAL.match(value):
        return (value if value.count(":") == 2 else value + ":00") + tz
    return value


def number(value: str | None):
    value = (value or "").strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        return value  # the API answers 应为整数 next to the field


def text(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def petition(form: dict) -> dict:
    people = []
    for i in range(MAX_REPRESENTATIVES):
        keys = ("name", "id_type", "id_number", "phone", "address")
        row = {k: (form.get(f"petitioners.{i}.{k}") or "").strip() for k in keys}
        if i > 0 and not any(row[k] for k in ("name", "id_number", "phone", "address")):
            continue
        people.append({"name": row["name"], "id_type": row["id_type"] or "resident_id", "id_number": row["id_number"],
                       "phone": row["phone"] or None, "address": row["address"]})
    body = {"channel": text(form.get("channel")), "received_at": instant(form.get("received_at")),
            "petitioners": people, "headcount": number(form.get("headcount")) or 1,
            "purpose": text(form.get("purpose")), "category_code": text(form.get("category_code")),
            "division_code": text(form.get("division_code")), "summary": text(form.get("summary")),
            "request": text(form.get("request"))}
    return {k: v for k, v in body.items() if v is not None}


def drop_empty(body: dict) -> dict:
    return {k: v for k, v in body.items() if v not in (None, "")}
