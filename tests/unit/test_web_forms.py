"""The console turns what a clerk typed into the API's request, and the API's field paths back
into the names the clerk sees."""
from services.web import forms, labels


def test_a_beijing_local_time_becomes_an_instant_and_anything_else_goes_as_typed():
    assert forms.instant("2026-11-20T09:30") == "2026-11-20T09:30:00+08:00"
    assert forms.instant("") is None
    assert forms.instant("昨天") == "昨天"  # the API refuses it, next to the field


def test_only_the_representatives_filled_in_are_sent():
    form = {"channel": "visit", "received_at": "2026-11-20T09:30", "headcount": "6", "purpose": "appeal",
            "petitioners.0.name": "张三", "petitioners.0.id_number": "1", "petitioners.2.name": "李四",
            "petitioners.2.id_number": "2", "petitioners.1.id_type": "resident_id", "summary": " ", "request": "r"}
    body = forms.petition(form)
    assert [p["name"] for p in body["petitioners"]] == ["张三", "李四"]
    assert body["headcount"] == 6 and "summary" not in body  # blank is missing: 必填项缺失


def test_a_number_that_is_not_one_reaches_the_api_as_typed():
    assert forms.petition({"headcount": "六"})["headcount"] == "六"


def test_field_paths_read_in_chinese():
    assert labels.field_name("petitioners.0.id_number") == "信访人证件号码"
    assert labels.field_name("petitioners.2.name") == "代表2姓名"
    assert labels.field_name("division_code") == "问题属地"


def test_a_period_to_31_december_reads_to_31_december_not_to_new_year():
    from services.web.app import last_day
    assert last_day("2027-01-01T00:00:00+08:00") == "2026-12-31"  # what the services answer: the exclusive end
    assert last_day("2026-12-31T16:00:00+00:00") == "2026-12-31"
    assert last_day(None) == "不限"
