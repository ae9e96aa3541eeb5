"""The ranges every API input is held to, so that an extreme value is a 422 naming its field and
never reaches Python's date arithmetic or the database as an overflow (a 500).

Years: 1900 to 2199. Petition records of the old systems go back decades, not centuries, and
nothing is due after 2199; a date near year 1 or 9999 would overflow when moved to UTC or given a
deadline. Offsets: at most a billion (SQLite's integers end at 2^63 - 1).
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime

from xinfang.errors import InvalidInput

FIRST_YEAR, LAST_YEAR = 1900, 2199
MAX_OFFSET = 1_000_000_000


def _message(field: str) -> tuple[str, str]:
    return (f"{field}: a date between {FIRST_YEAR} and {LAST_YEAR}",
            f"{field}：日期须在 {FIRST_YEAR} 年至 {LAST_YEAR} 年之间")


def in_range(value: datetime | date | None, field: str) -> None:
    """Raise InvalidInput naming ``field`` when ``value`` lies outside the years allowed."""
    if value is not None and not FIRST_YEAR <= value.year <= LAST_YEAR:
        en, zh = _message(field)
        raise InvalidInput(en, zh, field=field)


def _year_in_range(value):
    # in a request body pydantic names the field itself: the message is "english | 中文" (xinfang.web)
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"a date between {FIRST_YEAR} and {LAST_YEAR} | 日期须在 {FIRST_YEAR} 年至 {LAST_YEAR} 年之间")
    return value


# an instant with its offset, in the years allowed: the type of every date-time a request body takes
Instant = Annotated[AwareDatetime, AfterValidator(_year_in_range)]
# a calendar day in the years allowed
Day = Annotated[date, AfterValidator(_year_in_range)]
