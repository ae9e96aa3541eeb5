"""Periods as the leader names them: the same period a year before (同比) is the same days of last
year in Beijing time, whatever the server's zone."""
from datetime import UTC, date, datetime

from services.reporting import rates

TZ = "Asia/Shanghai"


def test_the_year_before_a_year_to_date_is_the_same_days_of_last_year():
    as_of = datetime(2026, 11, 24, 4, 30, tzinfo=UTC)  # 12:30 in Beijing
    w = rates.period_of(date(2026, 1, 1), None, as_of, TZ)
    before = w.a_year_before(TZ)
    assert before.start == datetime.fromisoformat("2025-01-01T00:00:00+08:00")
    assert before.until == datetime.fromisoformat("2025-11-24T12:30:00+08:00")
    assert before.as_of == as_of  # judged as known now, not as known a year ago


def test_a_closed_month_compares_with_the_whole_month_of_last_year():
    w = rates.period_of(date(2026, 3, 1), date(2026, 3, 31), datetime(2026, 6, 1, tzinfo=UTC), TZ)
    before = w.a_year_before(TZ)
    assert (before.start, before.until) == (datetime.fromisoformat("2025-03-01T00:00:00+08:00"),
                                            datetime.fromisoformat("2025-04-01T00:00:00+08:00"))


def test_the_29th_of_february_falls_back_to_the_28th():
    assert rates.year_before(datetime.fromisoformat("2028-02-29T10:00:00+08:00"), TZ) \
        == datetime.fromisoformat("2027-02-28T10:00:00+08:00")


def test_all_time_has_no_year_before():
    assert rates.Window(None, None, datetime(2026, 6, 1, tzinfo=UTC)).a_year_before(TZ) is None
