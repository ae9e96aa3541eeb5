"""One source per word: the Chinese names every service shows come from xinfang.labels, and the
glossary says the same."""
from __future__ import annotations

import re
from pathlib import Path

from xinfang import labels
from xinfang.contracts import registry

GLOSSARY = Path(__file__).resolve().parents[2] / "docs" / "glossary.md"


def test_every_event_type_has_a_name_and_no_name_is_of_an_event_that_does_not_exist():
    assert set(labels.EVENTS) == set(registry.names())


def test_the_glossary_lists_the_codes_and_names_the_services_use():
    text = GLOSSARY.read_text(encoding="utf-8")
    begin, end = text.index(labels.BEGIN), text.index(labels.END) + len(labels.END)
    assert text[begin:end] == labels.glossary_section(), "run `python -m xinfang.labels` and paste it into the glossary"


def test_the_glossary_s_terms_agree_with_the_labels_where_both_name_one_code():
    """The glossary's own rows (English | 中文 | notes) name rates by code: the Chinese must be the label's."""
    rows = [r.split("|")[1:4] for r in GLOSSARY.read_text(encoding="utf-8").splitlines() if r.startswith("| ")]
    checked = 0
    for _english, chinese, notes in rows:
        code = re.match(r"\s*`(\w+)`", notes)
        if code and code.group(1) in labels.RATES:
            assert chinese.strip() == labels.RATES[code.group(1)], code.group(1)
            checked += 1
    assert checked == len(labels.RATES)


def test_the_console_reporting_and_the_roles_read_the_same_words():
    from services.web import labels as console
    from xinfang.security import ROLE_NAMES_ZH

    assert console.RATES is labels.RATES and console.EVENTS is labels.EVENTS
    assert ROLE_NAMES_ZH is labels.ROLES
    assert labels.RATES["evaluation"] == "群众参评率" and labels.RATES["satisfaction"] == "参评群众满意率"
