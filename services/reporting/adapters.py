"""Reporting's read model. No personal data: never a petitioner, never free text.

- ``report_log``: the raw fact log, append-only, one row per event reporting consumed, with the
  envelope's times and the payload's non-personal fields. It is the projection's input: the live
  handler writes here and derives the facts from the row; a rebuild derives them again.
- ``report_facts``: one typed row per event, per *generation* of the read model. Rates and counts
  are computed at query time from these rows. Each row has its business time (``occurred_at``;
  for imported history it lies in the past) and its knowledge time (``recorded_at``): periods
  filter the first, ``as_of`` the second.
- ``report_cases``: per case and generation, the case view folded from all its facts (below).
- ``report_months``: per generation, office, breakdown key and month, the counts the dashboard
  adds up (``months``), kept with report_cases.
- ``report_generation``: the pointer row naming the generation the queries read. A rebuild fills
  a new generation while the old one keeps answering, then moves the pointer.
"""
from sqlalchemy import Column, Index, Integer, MetaData, String, Table, Text

from xinfang.storage.types import UtcDateTime

metadata = MetaData()


def _registration_columns() -> list[Column]:
    """What a registration says of a case, kept both as a fact and on the folded case (fresh
    columns each call: a column belongs to one table)."""
    return [
        Column("division_code", String(12), nullable=True),
        Column("category_code", String(8), nullable=True),
        Column("channel", String(16), nullable=True),
        Column("purpose", String(16), nullable=True),
        Column("headcount", Integer, nullable=True),
        Column("received_at", UtcDateTime(), nullable=True),
        Column("first_petition", Integer, nullable=True),
        Column("repeat", Integer, nullable=True),
        Column("skip_level", Integer, nullable=True),
        Column("collective", Integer, nullable=True),
        Column("law_related", Integer, nullable=True),
    ]


report_log = Table(
    "report_log", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("event_type", String(64), nullable=False),
    Column("case_id", String(64), nullable=False),
    Column("office", String(12), nullable=False),
    Column("occurred_at", UtcDateTime(), nullable=False),
    Column("recorded_at", UtcDateTime(), nullable=False),
    Column("facts", Text, nullable=False),  # JSON: the payload's whitelisted fields
)

report_facts = Table(
    "report_facts", metadata,
    Column("generation", Integer, primary_key=True),
    Column("event_id", String(64), primary_key=True),
    Column("kind", String(32), nullable=False),          # the event type
    Column("case_id", String(64), nullable=False),
    Column("office", String(12), nullable=False),
    Column("occurred_at", UtcDateTime(), nullable=False),
    Column("recorded_at", UtcDateTime(), nullable=False),
    Column("stage", String(16), nullable=True),          # replies, deadlines, assignments, reviews
    Column("unit_id", String(64), nullable=True),        # assignments
    Column("due_at", UtcDateTime(), nullable=True),      # deadlines; registrations: the default acceptance limit
    Column("rating", String(24), nullable=True),         # evaluations
    Column("decision", String(24), nullable=True),       # accepted | not_accepted | no_longer_accepted
    # registrations only
    *_registration_columns(),
    Column("repeat_of", String(64), nullable=True),
    # deadlines, assignments, evaluations: when a later one of the same case (and stage) became
    # known. The fact is the case's current one at ``as_of`` iff recorded_at <= as_of < superseded_at.
    Column("superseded_at", UtcDateTime(), nullable=True),
    # 1: the act was recorded late (补录, the event's ``backdated`` mark); NULL for facts stored
    # before the mark existed, which no act carried
    Column("backdated", Integer, nullable=True),
    # queries pick their cases from report_cases; the facts are read by case (folds, supersession)
    # and by the case they repeat; the back-dated acts of a period by their own index
    Index("ix_report_facts_case", "generation", "case_id"),
    Index("ix_report_facts_repeat_of", "generation", "repeat_of"),
    Index("ix_report_facts_backdated", "generation", "backdated", "occurred_at"),
)

# One row per case per generation: the case view's columns folded from *all* the case's facts,
# kept by the projection in the same transaction as the facts. A query at ``as_of`` reads a case
# from here when every fact of it was known by then (``settled_at <= as_of``), and folds the
# facts themselves only for the cases still changing at ``as_of``. The spans let a query pick
# the cases with a fact (or a limit) in its window without touching the facts.
report_cases = Table(
    "report_cases", metadata,
    Column("generation", Integer, primary_key=True),
    Column("case_id", String(64), primary_key=True),
    Column("settled_at", UtcDateTime(), nullable=False),     # the latest recorded_at of its facts
    # when the acts the rates count happened (decisions, replies, evaluations: projections.RATED_ACTS),
    # earliest and latest; None before any. Not every fact: an imported case's DeadlineSet happens
    # at its import and had put every old case in the rates' candidates of the import's year
    Column("rated_from", UtcDateTime(), nullable=True),
    Column("rated_to", UtcDateTime(), nullable=True),
    Column("due_from", UtcDateTime(), nullable=True),
    Column("due_to", UtcDateTime(), nullable=True),
    Column("registered", Integer, nullable=False),           # its registration is among the facts
    Column("office", String(12), nullable=True),
    *_registration_columns(),
    Column("unit_id", String(64), nullable=True),
    Column("decision_at", UtcDateTime(), nullable=True),
    Column("not_accepted", Integer, nullable=False),
    Column("acceptance_due", UtcDateTime(), nullable=True),
    Column("reply_at", UtcDateTime(), nullable=True),
    Column("handling_due", UtcDateTime(), nullable=True),
    Column("eval_at", UtcDateTime(), nullable=True),
    Column("rating", String(24), nullable=True),
    Column("reviewed", Integer, nullable=False),
    Column("closed", Integer, nullable=False),
    Column("repeated_at", UtcDateTime(), nullable=True),    # when a later case naming it repeat_of became known
    Index("ix_report_cases_office", "generation", "office", "received_at"),
    Index("ix_report_cases_settled", "generation", "settled_at"),
    # months.statistics: the cases with an act or a limit in a period's last month
    Index("ix_report_cases_rated_to", "generation", "rated_to"),
    Index("ix_report_cases_due_to", "generation", "due_to"),
)

# The sums of months.py: how many cases count in each figure, per office, breakdown (dim, key),
# kind of time (kind), month of that time (m1, YYYY-MM in the reporting time zone; "Y2025" for a
# year's sum, months.YEARLY) and month of the kind's second time (m2, "" for none). Keys never
# null: "" stands for none.
report_months = Table(
    "report_months", metadata,
    Column("generation", Integer, primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("dim", String(12), primary_key=True),
    Column("m1", String(7), primary_key=True),
    Column("office", String(12), primary_key=True),
    Column("key", String(64), primary_key=True),
    Column("m2", String(7), primary_key=True),
    *[Column(f, Integer, nullable=False, server_default="0") for f in (
        "registered", "assigned", "person_times", "visit_batches", "visit_person_times", "online",
        "first_petition", "repeat", "skip_level", "collective", "law_related", "open", "overdue", "backlog",
        "decided", "decided_on_time", "undecided_past_limit", "replied", "replied_on_time", "replied_evaluated",
        "first_replied", "first_resolved", "unreplied_past_deadline", "evaluated", "satisfied")],
)

# The rules (months.fingerprint) a generation's sums were counted under; "stale" once counted
# under two: they answer nothing until months.build counts them again.
report_months_rules = Table(
    "report_months_rules", metadata,
    Column("generation", Integer, primary_key=True),
    Column("rules", Text, nullable=False),
)

report_generation = Table(
    "report_generation", metadata,
    Column("id", Integer, primary_key=True),             # always 1: the one pointer row
    Column("active", Integer, nullable=False),
    Column("building", Integer, nullable=True),          # a rebuild in progress
)
