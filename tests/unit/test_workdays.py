"""Working days follow the State Council's schedule, make-up workdays included; an unpublished
year falls back to Monday–Friday with a warning until an operator loads it."""
from __future__ import annotations

import json
import logging
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from xinfang.workdays import ScheduleFileError, WorkCalendar, YearSchedule, end_of_day, local_date


def test_national_day_week_and_its_make_up_saturday_2026():
    cal = WorkCalendar()
    # the 2026 schedule: 1–7 October off, Saturday 10 October worked, Sunday 20 September worked,
    # Friday 25 September (Mid-Autumn) off
    assert not any(cal.is_working_day(date(2026, 10, d)) for d in range(1, 8))
    assert cal.is_working_day(date(2026, 10, 10)) and cal.is_working_day(date(2026, 9, 20))
    assert not cal.is_working_day(date(2026, 9, 25)) and not cal.is_working_day(date(2026, 10, 11))
    # ten working days from Tuesday 29 September, by hand: 30 Sep; 8, 9, 10 (Sat), 12, 13, 14, 15, 16, 19 Oct
    assert cal.add_working_days(date(2026, 9, 29), 10) == date(2026, 10, 19)
    # Monday to Friday alone would have said 13 October
    assert WorkCalendar.from_dir(None).source(2026) == "published"


def test_the_start_day_is_not_counted():
    cal = WorkCalendar()
    assert cal.add_working_days(date(2026, 11, 23), 1) == date(2026, 11, 24)   # Monday -> Tuesday
    assert cal.add_working_days(date(2026, 11, 27), 1) == date(2026, 11, 30)   # Friday -> Monday
    assert cal.working_days_between(date(2026, 11, 23), date(2026, 11, 30)) == 5


def test_an_unpublished_year_falls_back_to_weekdays_and_warns_once(caplog):
    cal = WorkCalendar()
    year = 2099
    assert cal.source(year) == "fallback"
    with caplog.at_level(logging.WARNING, "xinfang.workdays"):
        assert cal.add_working_days(date(year, 1, 2), 5) == date(year, 1, 9)   # Fri 2 Jan 2099 -> Fri 9 Jan
        cal.add_working_days(date(year, 3, 2), 5)
    warned = [r for r in caplog.records if str(year) in r.getMessage()]
    assert len(warned) == 1
    assert cal.fallback_years(date(2098, 12, 1), date(year, 2, 1)) == [2098, 2099]


def test_a_loaded_schedule_wins_over_the_fallback(tmp_path):
    f = tmp_path / "2099.json"
    f.write_text(json.dumps({"year": 2099, "holidays": ["2099-01-05"], "workdays": ["2099-01-10"]}))
    cal = WorkCalendar.from_dir(tmp_path)
    assert cal.source(2099) == "loaded"
    assert not cal.is_working_day(date(2099, 1, 5))       # a Monday off
    assert cal.is_working_day(date(2099, 1, 10))          # a Saturday worked


def test_a_schedule_loaded_while_the_services_run_counts_without_a_restart(tmp_path):
    from xinfang.workdays import load_schedule_file
    cal = WorkCalendar.from_dir(tmp_path, recheck_s=0)  # the services look again every 30 s
    assert cal.source(2099) == "fallback" and cal.is_working_day(date(2099, 1, 5))
    doc = tmp_path / "upload.json"
    doc.write_text(json.dumps({"year": 2099, "holidays": ["2099-01-05"]}))
    load_schedule_file(doc, tmp_path / "cal")  # what `xinfang calendar load` does
    cal.directory = tmp_path / "cal"
    assert cal.source(2099) == "loaded" and not cal.is_working_day(date(2099, 1, 5))
    (tmp_path / "cal" / "2099.json").write_text("{not json")  # a bad edit keeps the schedule read before
    assert not cal.is_working_day(date(2099, 1, 5))


@pytest.mark.parametrize("doc, says", [
    ({"year": 2099, "holidays": ["2098-12-31"]}, "outside 2099"),
    ({"year": 2099, "holidays": ["2099-02-01"], "workdays": ["2099-02-01"]}, "both"),
    ({"holidays": []}, "year"),
    ({"year": 2099, "holidays": ["2099-13-01"]}, "month"),
])
def test_a_wrong_schedule_file_is_refused_with_the_reason(doc, says):
    with pytest.raises(ScheduleFileError, match=says):
        YearSchedule.parse(json.dumps(doc))


def test_days_are_counted_in_china(tmp_path):
    late_evening_utc = datetime(2026, 11, 22, 17, 0, tzinfo=UTC)   # 01:00 on the 23rd in Beijing
    assert local_date(late_evening_utc) == date(2026, 11, 23)
    assert end_of_day(date(2026, 11, 23)).astimezone(UTC) == datetime(2026, 11, 23, 16, 0, tzinfo=UTC)


def test_operator_loads_a_year_from_the_cli(tmp_path):
    xinfang = str(Path(sys.executable).parent / "xinfang")
    env = {"XINFANG_CALENDAR_DIR": str(tmp_path / "cal"), "PATH": "/usr/bin:/bin"}
    good = tmp_path / "2099.json"
    good.write_text(json.dumps({"year": 2099, "holidays": ["2099-01-01"], "workdays": []}))
    r = subprocess.run([xinfang, "calendar", "load", str(good)], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "cal" / "2099.json").exists()
    shown = subprocess.run([xinfang, "calendar", "show", "2098", "2099"], env=env, capture_output=True, text=True)
    out = shown.stdout + shown.stderr
    assert "2099: loaded" in out and "2098: fallback" in out
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    r = subprocess.run([xinfang, "calendar", "load", str(bad)], env=env, capture_output=True, text=True)
    assert r.returncode == 1 and "格式错误" in r.stdout + r.stderr
