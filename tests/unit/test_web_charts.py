"""The dashboard's month trend: the leader reads whole month labels, and they do not overlap."""
import re

from services.web.charts import columns


def labels(svg: str) -> list[tuple[float, str]]:
    return [(float(x), t) for x, t in re.findall(r'<text x="([\d.]+)" y="\d+" font-size="10"[^>]*>([^<]*)</text>', svg)]


def test_one_month_is_labelled_in_full():
    assert [t for _, t in labels(columns([("2026年11月", 2)]))] == ["2026年11月"]


def test_five_years_of_months_are_labelled_whole_and_apart():
    months = [(f"{2021 + i // 12}年{i % 12 + 1}月", i) for i in range(60)]
    shown = labels(columns(months))
    assert shown[0][1] == "2021年1月" and len(shown) >= 4
    assert all(t in dict((k, 1) for k, _ in months) for _, t in shown)  # whole labels, never cut
    # centres at least one full label's width apart (10 px a character at this size)
    assert all(b[0] - a[0] >= 10 * max(len(a[1]), len(b[1])) - 1 for a, b in zip(shown, shown[1:], strict=False))
