"""Codes of submitting a claim and moving it through its workflow (domain/claims/)."""

from __future__ import annotations

from domain.codes import UserErrorCode


class ClaimCode(UserErrorCode):
    """Codes of claims: what the programme pays for, to whom, and when (domain/claims/rules.py, writes.py)."""

    KEY_REUSED = "KEY_REUSED", "The idempotency key was used for a different submission; use a new key for a new claim."
    CAUSE_NOT_COVERED = (
        "CAUSE_NOT_COVERED",
        "The programme does not pay for this cause (the message lists what it pays).",
    )
    NOT_ENROLLED = "NOT_ENROLLED", "The participant does not hold the programme claimed."
    NOT_COVERED = (
        "NOT_COVERED",
        "The participant was not covered on the incident date: the programme started later, or the month of the "
        "incident is not paid.",
    )
    NOT_ELIGIBLE = (
        "NOT_ELIGIBLE",
        "The participant does not meet the programme's condition (contribution months, age); the message says which.",
    )
    NO_RULE = "NO_RULE", "No benefit rule of the rule table applies on the incident date."
    HEIR_REQUIRED = "HEIR_REQUIRED", "A death claim names no heir among its recipients."
    SAME_AS_PARTICIPANT = "SAME_AS_PARTICIPANT", "A recipient's NIK is the participant's own."
    WAGE_UNKNOWN = "WAGE_UNKNOWN", "The benefit is a multiple of the wage and the participant has no wage recorded."
    TOO_EARLY = "TOO_EARLY", "The claim comes before its waiting time has passed (JHT one month after leaving a job)."
    TOO_LATE = "TOO_LATE", "The claim comes after the time allowed to make it (JKP months after the dismissal)."
    AFTER_DEATH = "AFTER_DEATH", "The incident date is after the participant's recorded death."
    DEATH_ALREADY_CLAIMED = (
        "DEATH_ALREADY_CLAIMED",
        "Another programme's claim already covers this death; a death benefit is paid once.",
    )
    DUPLICATE_DEATH_CLAIM = (
        "DUPLICATE_DEATH_CLAIM",
        "A claim of this programme already covers this death; claim a further year's scholarship with the "
        "children only.",
    )
    NO_SCHOLARSHIP = "NO_SCHOLARSHIP", "Scholarships come only with JKK death or disability, or JKM."
    CHILD_TOO_OLD = (
        "CHILD_TOO_OLD",
        "A scholarship child has reached the age at which the scholarship ends (the message gives it).",
    )
    SCHOLARSHIP_ENDED = "SCHOLARSHIP_ENDED", "A scholarship child has married or started work; the scholarship ended."
    TOO_MANY_CHILDREN = (
        "TOO_MANY_CHILDREN",
        "More scholarship children than the rule pays for per participant (the message gives the maximum).",
    )
    YEARS_EXHAUSTED = "YEARS_EXHAUSTED", "The child has had every year of the scholarship the rule pays at that level."
    ALREADY_CLAIMED_THIS_YEAR = (
        "ALREADY_CLAIMED_THIS_YEAR",
        "The child's scholarship for this school year is already claimed; it is paid once a school year.",
    )
    LEVEL_BACKWARDS = "LEVEL_BACKWARDS", "The child's education level is below one already paid for."
    CAP_EXCEEDED = "CAP_EXCEEDED", "Scholarships would total more than the cap per participant."
    INVALID_TRANSITION = (
        "INVALID_TRANSITION",
        "The claim's status does not allow this step (SUBMITTED → VERIFIED → APPROVED → PAID; REJECTED from the "
        "first two).",
    )
