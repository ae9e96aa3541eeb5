"""The README stays a three-minute read and the documentation's links lead somewhere: a newcomer
who follows a link from README.md or docs/ finds the file and the heading it names."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from services.routing.seed import DEMO_PASSWORD, DEMO_USERS

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.M | re.S)
INLINE_CODE = re.compile(r"(`+).+?\1", re.S)
# [text](target) and ![alt](target); the target may be <in brackets> and carry a "title"
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>]*>|[^\s)]*)(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.M)


def _prose(text: str) -> str:
    """The text without code: a `[x](y)` or a `# comment` inside code is neither link nor heading."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its visible text lowercased, punctuation other than '-' and
    '_' dropped, spaces turned into '-'; letters of any script (Chinese included) kept."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading: its text
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every heading's anchor; a repeated heading gets -1, -2, … as on GitHub."""
    seen: dict[str, int] = {}
    out = set()
    for heading in HEADING.findall(FENCE.sub("", page.read_text(encoding="utf-8"))):
        base = slug(heading)
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def relative_links(page: Path) -> list[str]:
    targets = [t.strip("<>") for t in LINK.findall(_prose(page.read_text(encoding="utf-8")))]
    return [t for t in targets if t and not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", t)]  # no http:, mailto:


def test_slug_follows_github():
    assert slug("Brokers: what differs between tansu and Apache Kafka") == \
        "brokers-what-differs-between-tansu-and-apache-kafka"
    assert slug("Known limits (measured, not yet fixed)") == "known-limits-measured-not-yet-fixed"
    assert slug("What `make run` starts") == "what-make-run-starts"
    assert slug("Demo users 演示用户") == "demo-users-演示用户"
    assert slug("The five rates (五率), defined once") == "the-five-rates-五率-defined-once"
    assert slug("Routing: rules, precedence, the unit's side") == "routing-rules-precedence-the-units-side"


def test_readme_is_a_short_read():
    size = README.stat().st_size
    assert size < 8192, f"README.md is {size} bytes; move detail into docs/ (limit 8192)"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves(page):
    broken = []
    for target in relative_links(page):
        path, _, fragment = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(f"{target}: no file {linked.relative_to(ROOT) if linked.is_relative_to(ROOT) else linked}")
        elif fragment and linked.suffix == ".md" and fragment not in anchors(linked):
            broken.append(f"{target}: no heading #{fragment} in {linked.relative_to(ROOT)}")
    assert not broken, f"{page.relative_to(ROOT)}: broken links:\n  " + "\n  ".join(broken)


def test_readme_lists_every_page_of_docs():
    linked = {(README.parent / t.partition("#")[0]).resolve() for t in relative_links(README)}
    missing = [d.name for d in DOCS if d.resolve() not in linked]
    assert not missing, f"README.md does not link to docs/{', docs/'.join(missing)}"


def test_readme_keeps_the_quick_start_and_the_demo_users():
    text = README.read_text(encoding="utf-8")
    for command in ("make run", "make test"):
        assert command in text
    for username, *_ in DEMO_USERS:
        assert f"`{username}`" in text, f"demo user {username} is not in README.md"
    assert DEMO_PASSWORD in text
