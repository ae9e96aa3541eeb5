"""Working days (工作日) as the State Council's yearly holiday schedule fixes them.

Days are counted in China's local time (UTC+8). The published schedules, with their make-up
workdays (调休), come from the `chinese-calendar` package. A year the package does not know yet
does not crash anything: it falls back to Monday–Friday and says so once in the log, until an
operator loads that year's schedule from a file (``xinfang calendar load FILE``):

    {"year": 2027, "holidays": ["2027-01-01", ...], "workdays": ["2027-02-07", ...]}

``holidays`` are weekdays off; ``workdays`` are weekend days worked. Loaded files live in
``<data_dir>/calendar/<year>.json`` (or ``XINFANG_CALENDAR_DIR``) and win over the package.

Counting rule (期间开始之日不计算在内): "N working days from D" ends at the close of the N-th
working day after D.
"""
from __future__ import annotations

import json
import logging
import os
import time as _time
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

log = logging.getLogger("xinfang.workdays")

CHINA = timezone(timedelta(hours=8), "CST")


def local_date(at: datetime) -> date:
    """The calendar date in China of an instant."""
    return at.astimezone(CHINA).date()


def end_of_day(d: date) -> datetime:
    """The last instant of a Chinese calendar day, as an aware datetime (24:00 local)."""
    return datetime.combine(d + timedelta(days=1), time(0), CHINA)


class ScheduleFileError(ValueError):
    pass


@dataclass(frozen=True)
class YearSchedule:
    year: int
    holidays: frozenset[date]
    workdays: frozenset[date]

    @classmethod
    def parse(cls, text: str) -> YearSchedule:
        try:
            doc = json.loads(text)
            year = int(doc["year"])
            holidays = frozenset(date.fromisoformat(d) for d in doc.get("holidays", []))
            workdays = frozenset(date.fromisoformat(d) for d in doc.get("workdays", []))
        except (ValueError, KeyError, TypeError) as exc:
            raise ScheduleFileError(f"not a holiday schedule: {exc}") from exc
        wrong = sorted(d for d in holidays | workdays if d.year != year)
        if wrong:
            raise ScheduleFileError(f"dates outside {year}: {', '.join(map(str, wrong[:5]))}")
        both = holidays & workdays
        if both:
            raise ScheduleFileError(f"both holiday and workday: {', '.join(map(str, sorted(both)[:5]))}")
        return cls(year, holidays, workdays)

    def dump(self) -> str:
        return json.dumps({"year": self.year, "holidays": sorted(map(str, self.holidays)),
                           "workdays": sorted(map(str, self.workdays))}, ensure_ascii=False, indent=1)


@dataclass
class WorkCalendar:
    loaded: dict[int, YearSchedule] = field(default_factory=dict)
    _fallback_years: set[int] = field(default_factory=set)
    # the directory of loaded schedules, looked at again at most every ``recheck_s`` seconds: a
    # schedule loaded with ``xinfang calendar load`` counts in the running services without a
    # restart (new clocks; a clock already set keeps its due date)
    directory: Path | None = None
    recheck_s: float = 30.0
    _seen: tuple = ()
    _checked: float = field(default=float("-inf"))

    @classmethod
    def from_dir(cls, directory: Path | None, recheck_s: float = 30.0) -> WorkCalendar:
        cal = cls(directory=directory, recheck_s=recheck_s)
        cal._refresh(strict=True)
        return cal

    def _refresh(self, strict: bool = False) -> None:
        now = _time.monotonic()
        if self.directory is None or now - self._checked < self.recheck_s:
            return
        self._checked = now
        files = sorted(self.directory.glob("*.json")) if self.directory.is_dir() else []
        seen = tuple((f.name, f.stat().st_mtime_ns) for f in files)
        if seen == self._seen:
            return
        loaded: dict[int, YearSchedule] = {}
        for f in files:
            try:
                s = YearSchedule.parse(f.read_text(encoding="utf-8"))
            except ScheduleFileError:
                if strict:
                    raise
                log.exception("holiday schedule %s unreadable: the one read before is kept", f)
                continue
            loaded[s.year] = s
        for year in set(self.loaded) - set(loaded):  # a file that went bad keeps its year's last good schedule
            loaded.setdefault(year, self.loaded[year])
        if self._seen and set(loaded.items()) != set(self.loaded.items()):
            log.info("holiday schedules now loaded for %s / 已载入节假日安排：%s", sorted(loaded), sorted(loaded))
        self.loaded, self._seen = loaded, seen
        self._fallback_years -= set(loaded)

    @classmethod
    def default(cls) -> WorkCalendar:
        return cls.from_dir(calendar_dir())

    @classmethod
    def shared(cls) -> WorkCalendar:
        """One calendar per process, made on first use (it re-reads its directory when a file
        changes): what a service's handlers and reads count working days with."""
        global _shared
        if _shared is None:
            _shared = cls.default()
        return _shared

    def source(self, year: int) -> str:
        """Where this year's schedule comes from: ``loaded``, ``published`` or ``fallback``."""
        self._refresh()
        if year in self.loaded:
            return "loaded"
        return "published" if _published(year) else "fallback"

    def is_working_day(self, d: date) -> bool:
        self._refresh()
        s = self.loaded.get(d.year)
        if s is not None:
            if d in s.workdays:
                return True
            if d in s.holidays:
                return False
            return d.weekday() < 5
        if _published(d.year):
            import chinese_calendar

            return chinese_calendar.is_workday(d)
        if d.year not in self._fallback_years:
            self._fallback_years.add(d.year)
            log.warning("no holiday schedule for %s: counting Monday to Friday as working days until "
                        "an operator loads it (xinfang calendar load FILE) / %s 年节假日安排未发布，暂按周一至周五计算",
                        d.year, d.year)
        return d.weekday() < 5

    def add_working_days(self, start: date, n: int) -> date:
        """The N-th working day after ``start`` (the start day itself not counted)."""
        if n < 0:
            raise ValueError("n must not be negative")
        d, left = start, n
        while left:
            d += timedelta(days=1)
            if self.is_working_day(d):
                left -= 1
        return d

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end`` (0 if end <= start)."""
        count, d = 0, start
        while d < end:
            d += timedelta(days=1)
            count += self.is_working_day(d)
        return count

    def fallback_years(self, first: date, last: date) -> list[int]:
        return [y for y in range(first.year, last.year + 1) if self.source(y) == "fallback"]


def _published(year: int) -> bool:
    import chinese_calendar

    try:
        chinese_calendar.is_workday(date(year, 6, 1))
        return True
    except NotImplementedError:
        return False


def calendar_dir() -> Path:
    if os.environ.get("XINFANG_CALENDAR_DIR"):
        return Path(os.environ["XINFANG_CALENDAR_DIR"])
    from xinfang.config import settings

    return settings().data_dir / "calendar"


def load_schedule_file(path: Path, directory: Path | None = None) -> YearSchedule:
    """Validate a schedule file and keep it where every service reads it (within 30 seconds)."""
    s = YearSchedule.parse(path.read_text(encoding="utf-8"))
    target = directory or calendar_dir()
    target.mkdir(parents=True, exist_ok=True)
    (target / f"{s.year}.json").write_text(s.dump(), encoding="utf-8")
    return s


_shared: WorkCalendar | None = None
