"""``xinfang import FILE``: historical cases from the old system into intake, with their real dates.

FILE is CSV (one petitioner per row, the columns of ``CSV_COLUMNS``) or JSON Lines (one
``HistoricalCase`` per line, as ``POST /api/v1/imports`` takes it). Each row is checked here
first; valid rows go to intake in batches, where each case is stored whole or refused with its
reason. Rows imported before (same ``legacy_id``) are skipped, so a rerun imports nothing twice.
"""
from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from pydantic import ValidationError

CSV_COLUMNS = [
    "legacy_id", "channel", "received_at", "registered_at", "name", "id_type", "id_number", "phone", "address",
    "headcount", "purpose", "category_code", "division_code", "summary", "request",
    "accepted_at", "decision", "procedure", "acceptance_notice",
    "extended_at", "extension_days", "extension_reason", "extension_approver",
    "replied_at", "outcome", "reply_text", "evaluated_at", "rating", "closed_at",
]


@dataclass
class Outcome:
    imported: int = 0
    skipped: int = 0
    refused: list[dict] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.imported + self.skipped + len(self.refused)


def _csv_case(row: dict) -> dict:
    g = lambda k: (row.get(k) or "").strip() or None  # noqa: E731
    case: dict = {
        "legacy_id": g("legacy_id"),
        "registration": {
            "channel": g("channel"), "received_at": g("received_at"), "occurred_at": g("registered_at"),
            "petitioners": [{"name": g("name"), "id_type": g("id_type") or "resident_id",
                             "id_number": g("id_number"), "phone": g("phone"), "address": g("address") or ""}],
            "headcount": g("headcount") or 1, "purpose": g("purpose"), "category_code": g("category_code"),
            "division_code": g("division_code"), "summary": g("summary"), "request": g("request"),
        },
    }
    if g("accepted_at") or g("decision"):
        case["acceptance"] = {"decision": g("decision") or "accepted", "procedure": g("procedure") or "normal",
                              "notice": g("acceptance_notice") or "受理", "occurred_at": g("accepted_at")}
    if g("extended_at"):
        case["extension"] = {"days": g("extension_days"), "reason": g("extension_reason"),
                             "approver": g("extension_approver"), "occurred_at": g("extended_at")}
    if g("replied_at"):
        case["reply"] = {"outcome": g("outcome"), "text": g("reply_text"), "occurred_at": g("replied_at")}
    if g("evaluated_at"):
        case["evaluation"] = {"rating": g("rating"), "occurred_at": g("evaluated_at")}
    if g("closed_at"):
        case["closure"] = {"occurred_at": g("closed_at")}
    return case


def read_rows(path: Path) -> Iterator[tuple[int, dict | None, str | None]]:
    """(line number, case as dict, or None and the reason it cannot be read)."""
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        with path.open(encoding="utf-8") as f:
            for n, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    yield n, json.loads(line), None
                except json.JSONDecodeError as exc:
                    yield n, None, f"not JSON: {exc}"
        return
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        missing = {"legacy_id", "channel", "received_at", "id_number", "purpose", "category_code",
                   "division_code"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"CSV lacks columns: {', '.join(sorted(missing))} / CSV 缺少列")
        for n, row in enumerate(reader, start=2):
            yield n, _csv_case(row), None


def validate(case: dict):
    """The row as the API will take it, or the reason (field: message) it will not."""
    from services.intake.api import HistoricalCase

    try:
        return HistoricalCase.model_validate(case), None
    except ValidationError as exc:
        e = exc.errors()[0]
        where = ".".join(str(p) for p in e["loc"])
        return None, f"{where}: {e['msg']}"


def run_import(path: Path, url: str, token: str, *, batch: int = 100, progress=None) -> Outcome:
    out = Outcome()
    pending: list[tuple[int, dict]] = []
    client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120)

    def flush():
        if not pending:
            return
        r = client.post("/api/v1/imports", json={"cases": [c for _, c in pending]})
        if r.status_code != 200:
            raise RuntimeError(f"intake answered {r.status_code}: {r.text[:500]}")
        for (line, _), res in zip(pending, r.json()["results"], strict=False):
            if res["result"] == "imported":
                out.imported += 1
            elif res["result"] == "skipped":
                out.skipped += 1
            else:
                out.refused.append({"line": line, "legacy_id": res.get("legacy_id"), "field": res.get("field"),
                                    "reason": res.get("reason"), "reason_zh": res.get("reason_zh")})
        if progress:
            progress(len(pending))
        pending.clear()

    try:
        for line, case, error in read_rows(path):
            model, error = (None, error) if error else validate(case)
            if model is None:
                out.refused.append({"line": line, "legacy_id": (case or {}).get("legacy_id"), "field": None,
                                    "reason": error, "reason_zh": "该行格式不正确"})
                if progress:
                    progress(1)
                continue
            pending.append((line, model.model_dump(mode="json")))
            if len(pending) >= batch:
                flush()
        flush()
    finally:
        client.close()
    return out


def count_rows(path: Path) -> int:
    with path.open(encoding="utf-8-sig") as f:
        n = sum(1 for line in f if line.strip())
    return n if path.suffix.lower() in (".jsonl", ".ndjson") else max(0, n - 1)


def write_refusals(path: Path, refused: list[dict]) -> Path:
    report = path.with_name(path.name + ".refused.csv")
    with report.open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["line", "legacy_id", "field", "reason", "reason_zh"])
        w.writeheader()
        w.writerows(refused)
    return report
