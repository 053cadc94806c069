"""Why a record was corrected: the reason codes a correction carries into the audit trail, and their check.

A correction made by a person (the console's edit forms, the write functions that need a reason) names a
kind of correction from :class:`ReasonCode` and says in a note what happened; both are stored on the audit
event next to the before/after values, so an auditor can ask "every death reported in 52.71 this quarter".
"""

from __future__ import annotations

import enum

from domain.text import MAX_NOTE_LENGTH, clean_text
from domain.writes.codes import WriteCode
from domain.writes.errors import Problem

MAX_REASON_LENGTH = MAX_NOTE_LENGTH


class ReasonCode(enum.StrEnum):
    TYPO = "TYPO"  # a typing mistake at data entry
    DUPLICATE_RECORD = "DUPLICATE_RECORD"  # the same person or employer entered twice
    CIVIL_REGISTRY_UPDATE = "CIVIL_REGISTRY_UPDATE"  # an updated KTP/KK or Dukcapil record
    DEATH_REPORTED = "DEATH_REPORTED"  # a death certificate or heir's report
    OTHER = "OTHER"  # anything else: the note says what


#: What each code means, for forms and documentation.
REASON_LABELS: dict[ReasonCode, str] = {
    ReasonCode.TYPO: "Typing mistake",
    ReasonCode.DUPLICATE_RECORD: "Duplicate record",
    ReasonCode.CIVIL_REGISTRY_UPDATE: "Updated civil-registry document",
    ReasonCode.DEATH_REPORTED: "Death reported",
    ReasonCode.OTHER: "Other (explain in the note)",
}


def check_reason(reason: str | None, reason_code: str | None) -> tuple[str, ReasonCode | None, list[Problem]]:
    """The note as stored, the code, and what is wrong with them: both are required."""
    text, problems = clean_text(reason or "", "reason", max_length=MAX_REASON_LENGTH)
    code: ReasonCode | None = None
    if not reason_code:
        problems.append(Problem("reasonCode", WriteCode.REQUIRED, "choose the kind of correction (reason code)"))
    else:
        try:
            code = ReasonCode(reason_code)
        except ValueError:
            known = ", ".join(c.value for c in ReasonCode)
            problems.append(
                Problem("reasonCode", WriteCode.UNKNOWN_REASON, f"{reason_code[:40]!r} is not one of {known}")
            )
    return text, code, problems
