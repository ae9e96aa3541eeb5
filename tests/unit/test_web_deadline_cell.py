"""The 期限 cell every list of the console shows: supervision's clock as a stage, a Chinese last day
and the level by name and colour class; — for a case with no running clock."""
from services.web.client import ConsoleSettings
from services.web.console import Console


def cell(clock) -> str:
    macros = Console(ConsoleSettings()).templates.env.get_template("_macros.html").module
    return str(macros.deadline(clock))


def test_a_running_clock_shows_its_stage_last_day_and_level_by_name_and_colour():
    # due at 24:00 on 5 March, Beijing (16:00 UTC): the last day is the 5th
    html = cell({"case_id": "c", "stage": "acceptance", "due_at": "2026-03-05T16:00:00Z", "level": "serious_warning"})
    assert "受理" in html and "2026年3月5日" in html
    assert '<span class="level level-serious_warning">严重警告</span>' in html


def test_each_level_has_the_domains_name():
    names = {lv: cell({"stage": "handling", "due_at": "2026-03-05T16:00:00Z", "level": lv})
             for lv in ("normal", "notice", "warning", "serious_warning", "overdue")}
    for lv, name in {"normal": "正常", "notice": "预警", "warning": "警告", "serious_warning": "严重警告",
                     "overdue": "超期"}.items():
        assert f">{name}</span>" in names[lv], names[lv]


def test_a_case_with_no_running_clock_shows_a_dash():
    assert ">—<" in cell(None) and "level" not in cell(None)
