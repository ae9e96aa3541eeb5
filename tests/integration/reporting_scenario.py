"""A hand-made history of eleven cases in March 2026 for the rate tests (and the rebuild test).

Township A (999901001), its government 999901001-gov; township B (999901002), 999901002-gov; the
county department 999901-d01. Times are Beijing time. Every event is recorded when it occurred,
except case H1, imported from the old system on 15 May with its March dates.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from xinfang.contracts import new_envelope
from xinfang.contracts.events import (
    Backdated,
    CaseAccepted,
    CaseAssigned,
    CaseClosed,
    CaseEvaluated,
    CaseNotAccepted,
    CaseRegistered,
    CaseReplied,
    DeadlineSet,
    HandlingExtended,
    ReviewRequested,
)

CST = timezone(timedelta(hours=8))
A_GOV, B_GOV, D01 = "999901001-gov", "999901002-gov", "999901-d01"
VILLAGE_A, VILLAGE_B, COUNTY = "999901001001", "999901002001", "999901000000"


def D(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=CST)


class History:
    def __init__(self) -> None:
        self.events = []

    def _add(self, payload, case, at, producer, recorded=None, office=COUNTY):
        env = new_envelope(payload, case_id=case, office=office, actor="test", producer=producer, occurred_at=at)
        self.events.append(env.model_copy(update={"recorded_at": (recorded or at).astimezone(UTC)}))

    def case(self, case, received, division, *, flags=("first_petition",), channel="letter", headcount=1,
             repeat_of=None, recorded=None, category="0101", office=None, registered=None):
        """``registered``: when the clerk registered it, if later than received (a letter in the post)."""
        self._add(CaseRegistered(tracking_code_hint="ABCD", channel=channel, received_at=received, petitioners=[],
                                 headcount=headcount, purpose="appeal", category_code=category,
                                 division_code=division, summary="(no text)", flags=list(flags), repeat_of=repeat_of),
                  case, registered or received, "intake", recorded, office or division[:9] + "000")
        return _Case(self, case, recorded, office or division[:9] + "000")


class _Case:
    def __init__(self, h, case, recorded, office):
        self.h, self.case, self.recorded, self.office = h, case, recorded, office

    def _add(self, payload, at, producer):
        self.h._add(payload, self.case, at, producer, self.recorded, self.office)
        return self

    def assigned(self, unit, at):
        return self._add(CaseAssigned(unit_id=unit), at, "routing")

    def deadline(self, stage, at, due, days=15):
        return self._add(DeadlineSet(stage=stage, starts_at=at, due_at=due, limit_days=days, day_kind="calendar",
                                     basis="test"), at, "supervision")

    def accepted(self, at):
        return self._add(CaseAccepted(procedure="normal", notice="…"), at, "intake")

    def not_accepted(self, at):
        return self._add(CaseNotAccepted(decision="not_accepted", notice="…"), at, "intake")

    def extended(self, at, days=30):
        return self._add(HandlingExtended(days=days, reason="…", approver="leader"), at, "intake")

    def replied(self, at, stage="handling"):
        return self._add(CaseReplied(outcome="supported", text="…", stage=stage), at, "intake")

    def review(self, at):
        return self._add(ReviewRequested(level="review", reason="…"), at, "intake")

    def evaluated(self, at, rating):
        return self._add(CaseEvaluated(rating=rating), at, "intake")

    def closed(self, at):
        return self._add(CaseClosed(), at, "intake")

    def late(self, payload, at, recorded, producer="intake"):
        """An act recorded late (补录): dated ``at``, entered at ``recorded``, with its mark."""
        mark = Backdated(reason="纸质文书当日已送达", entered_by="test", recorded_at=recorded.astimezone(UTC))
        self.h._add(payload.model_copy(update={"backdated": mark}), self.case, at, producer, recorded, self.office)
        return self


def march_history() -> list:
    h = History()
    # A1: accepted in time, replied in time, satisfied: resolved at the first try
    (h.case("A1", D(3, 2), VILLAGE_A).assigned(A_GOV, D(3, 2, 11)).deadline("acceptance", D(3, 2, 11), D(3, 17))
     .accepted(D(3, 5)).deadline("handling", D(3, 5), D(5, 4), 60).replied(D(3, 20))
     .evaluated(D(3, 25), "satisfied").closed(D(3, 25)))
    # A2 (February): accepted late in March, replied late without extension, not evaluated; A5 repeats it
    (h.case("A2", D(2, 10), VILLAGE_A).assigned(A_GOV, D(2, 10, 11)).deadline("acceptance", D(2, 10, 11), D(2, 25))
     .accepted(D(3, 3)).deadline("handling", D(3, 3), D(3, 25), 22).replied(D(3, 28)))
    # A3 (January): extended on 1 March, replied in time thanks to the extension; evaluated 2 April; reviewed
    (h.case("A3", D(1, 5), VILLAGE_A).assigned(A_GOV, D(1, 5, 11)).deadline("acceptance", D(1, 5, 11), D(1, 20))
     .accepted(D(1, 10)).deadline("handling", D(1, 10), D(3, 6), 55).extended(D(3, 1))
     .deadline("handling", D(3, 1, 11), D(4, 5), 85).replied(D(3, 30)).evaluated(D(4, 2), "basically_satisfied")
     .review(D(4, 10)))
    # A4 (January): extended in February, still replied late in March; dissatisfied
    (h.case("A4", D(1, 2), VILLAGE_A).assigned(A_GOV, D(1, 2, 11)).deadline("acceptance", D(1, 2, 11), D(1, 17))
     .accepted(D(1, 5)).deadline("handling", D(1, 5), D(2, 20), 46).extended(D(2, 15))
     .deadline("handling", D(2, 15, 11), D(3, 10), 64).replied(D(3, 15)).evaluated(D(3, 20), "dissatisfied"))
    # A5 (April): a repeat petition about A2's matter
    h.case("A5", D(4, 20), VILLAGE_A, flags=("repeat",), repeat_of="A2").assigned(A_GOV, D(4, 20, 11))
    # A6: the acceptance limit passes in March with no decision; decided on 2 April
    (h.case("A6", D(3, 1), VILLAGE_A, channel="visit", headcount=3).assigned(A_GOV, D(3, 1, 11))
     .deadline("acceptance", D(3, 1, 11), D(3, 16)).accepted(D(4, 2)))
    # A7: not accepted, in time
    (h.case("A7", D(3, 3), VILLAGE_A, channel="online").assigned(A_GOV, D(3, 3, 11))
     .deadline("acceptance", D(3, 3, 11), D(3, 18)).not_accepted(D(3, 10)))
    # H1: imported on 15 May with its March dates; no deadlines: the legal acceptance limit applies
    (h.case("H1", D(3, 10), VILLAGE_A, recorded=D(5, 15)).assigned(A_GOV, D(3, 10, 11)).accepted(D(3, 11))
     .replied(D(3, 20)).evaluated(D(3, 21), "satisfied"))
    # A8: township A's case handled by the county department; replied in April
    (h.case("A8", D(3, 12), VILLAGE_A, channel="online").assigned(D01, D(3, 12, 11))
     .deadline("acceptance", D(3, 12, 11), D(3, 27)).accepted(D(3, 13)).deadline("handling", D(3, 13), D(5, 12), 60)
     .replied(D(4, 5)))
    # B1: accepted; its handling deadline passes on 31 March with no reply
    (h.case("B1", D(3, 4), VILLAGE_B, channel="visit", headcount=2).assigned(B_GOV, D(3, 4, 11)).accepted(D(3, 6))
     .deadline("handling", D(3, 6), D(3, 31), 25))
    # B2: first assigned to township B, then forwarded to the county department: the latest counts
    (h.case("B2", D(3, 5), VILLAGE_B, channel="online").assigned(B_GOV, D(3, 5, 11)).assigned(D01, D(3, 6))
     .accepted(D(3, 8)).deadline("handling", D(3, 8), D(5, 7), 60).replied(D(3, 18)).evaluated(D(3, 19), "satisfied"))
    # C1: a collective visit at county level (not a first petition)
    (h.case("C1", D(3, 7), COUNTY, flags=("collective",), channel="visit", headcount=6, office=COUNTY)
     .assigned(D01, D(3, 7, 11)).accepted(D(3, 9)).deadline("handling", D(3, 9), D(5, 10), 60).replied(D(3, 12))
     .evaluated(D(3, 13), "basically_satisfied"))
    return h.events
