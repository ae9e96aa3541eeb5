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


def test_routings_reasons_read_in_chinese_with_names_for_codes():
    from services.web.labels import basis

    names = {"999901000000": "示范县", "0702": "劳动和社会保障/拖欠工资", "999901-d02": "县人社局",
             "999901001000": "城关镇"}
    assert basis("rule demo-999901-07: division 999901* × category 0702 → 999901-d02 (劳动和社会保障：县人社局)",
                 names) == "交办规则：示范县 · 劳动和社会保障/拖欠工资 → 县人社局（劳动和社会保障：县人社局）"
    assert basis("rule r1: division 999901001* × category any category → 999901-d02", names) == \
        "交办规则：城关镇 · 任何类别 → 县人社局"
    assert basis("fallback: petition office of 999901000000", names) == "没有匹配的交办规则：由示范县信访工作机构办理"
    assert basis("fallback: petition office of 999901000000, which objected", names).endswith("（该单位已提出异议）")
    assert basis("no_rule: no routing rule matches division 999901001001 × category 1701") == \
        "没有匹配的交办规则：待信访工作机构交办"
    assert basis("review: petition office of 999901000000, the level above 999901001-gov", names) == \
        "复查：由上一级（示范县）信访工作机构受理"
    assert basis("re_review: no level above 999900000000") == "复核：没有可受理的上一级信访工作机构"
    assert basis("县领导交办") == "县领导交办" and basis(None) == ""


def test_a_case_page_offers_the_steps_in_the_order_the_rules_allow():
    from services.web.actions import offered

    assert offered("handler", "assigned", "to_sign") == ("sign", "objection")
    assert offered("handler", "assigned", "signed") == ("objection", "acceptance")
    assert offered("handler", "accepted", "signed") == ("extension", "reply")
    assert offered("handler", "accepted", "signed", extended=True) == ("reply",)
    assert offered("handler", "replied", "signed") == ("closure",)
    assert offered("handler", "closed", "signed") == ()
    assert offered("handler", "assigned", None) == ()  # routing not answering: nothing that needs it
    assert "closure" not in offered("clerk", "replied", "signed")
    assert offered("clerk", "replied", "signed") == ("review-request",)
    assert offered("dispatcher", "registered", "unassigned") == ("assignment",)
    assert offered("dispatcher", "accepted", "signed") == ()
    assert offered("supervisor", "accepted", "signed") == ("supervision-order", "reminder")
    assert offered("leader", "accepted", "signed", owned=True) == ("supervision-order", "reminder")
    assert offered("leader", "accepted", "signed") == ("supervision-order", "reminder", "ownership")
    assert offered("handler", "under_review", "to_sign") == ("sign",)
    assert offered("handler", "under_review", "signed") == ("reply",)


def test_the_unit_an_open_supervision_order_is_addressed_to_is_offered_its_answer():
    from services.web.actions import offered

    # given an open order to the handler's unit, whatever the case's state: the answer is offered
    assert offered("handler", "accepted", "signed", orders_to_answer=True) == ("extension", "reply", "order-answer")
    assert offered("handler", "closed", "signed", orders_to_answer=True) == ("order-answer",)
    # the supervisor who issued it, or a clerk, is never offered the answer
    assert "order-answer" not in offered("supervisor", "accepted", "signed", orders_to_answer=True)
    assert "order-answer" not in offered("clerk", "accepted", "signed", orders_to_answer=True)


def test_a_paper_act_entered_late_sends_its_real_time_and_the_reason():
    """补录: the form's 实际办理时间 (Beijing time) and 补录理由 go with the act; left blank, the act is now."""
    from services.web.routes.cases import _command

    late = {"outcome": "explained", "text": "答复", "occurred_at": "2026-11-30T16:00",
            "backdate_reason": " 纸质答复意见书当日已送达 "}
    service, path, body = _command("reply", "c-1", late, {"username": "h"})
    assert (service, path) == ("intake", "/api/v1/cases/c-1/reply")
    assert body == {"outcome": "explained", "text": "答复", "occurred_at": "2026-11-30T16:00:00+08:00",
                    "backdate_reason": "纸质答复意见书当日已送达"}
    assert _command("reply", "c-1", {"outcome": "explained", "text": "答复", "occurred_at": "", "backdate_reason": ""},
                    {"username": "h"})[2] == {"outcome": "explained", "text": "答复"}
    assert _command("sign", "c-1", {"occurred_at": "2026-11-30T16:00"}, {})[2] == {
        "occurred_at": "2026-11-30T16:00:00+08:00"}
    assert "occurred_at" not in _command("reminder", "c-1", {"text": "催", "occurred_at": "2026-11-30T16:00"}, {})[2]
    assert labels.field_name("backdate_reason") == "补录理由"


def test_a_step_recorded_late_reads_as_such_in_the_case_timeline():
    from services.web.routes.cases import late_entry

    mark = {"reason": "纸质文书当日已送达", "entered_by": "h1", "recorded_at": "2026-12-02T01:00:00+00:00",
            "correction": False}
    assert late_entry(mark, {"h1": "王五"}) == "补录：纸质文书当日已送达（王五于2026-12-02 09:00录入）"
    assert late_entry({**mark, "correction": True}, {}).startswith("更正记录：")
    assert late_entry(None, {}) == ""
