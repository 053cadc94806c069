"""Codes every family's writes share: text rules, ranges, the correction's reason, a target that is not there."""

from __future__ import annotations

from domain.codes import UserErrorCode


class WriteCode(UserErrorCode):
    """Codes of the write plumbing, shared by every family (domain/text.py, domain/writes/)."""

    REQUIRED = "REQUIRED", "A value that must be given is empty or missing (the message names it)."
    TOO_LONG = "TOO_LONG", "A text is longer than the field allows (the message gives the maximum)."
    CONTROL_CHARACTERS = (
        "CONTROL_CHARACTERS",
        "A text holds invisible control or format characters (NUL, bidi overrides, zero-width); remove them.",
    )
    INVALID = "INVALID", "A value is not of the kind the field takes (a UCJ target that is not a number)."
    OUT_OF_RANGE = "OUT_OF_RANGE", "A number or date lies outside the range the field allows (the message says it)."
    IN_FUTURE = "IN_FUTURE", "A date or time that cannot be in the future is (an incident, a payment, a snapshot)."
    INVALID_NIK = (
        "INVALID_NIK",
        "A NIK that is not 16 digits, encodes an impossible date or serial, names a district not in the "
        "Kemendagri list, or disagrees with the sex and birth date given.",
    )
    NO_CHANGE = "NO_CHANGE", "A correction changes nothing: every given value equals the current one."
    UNKNOWN_REASON = (
        "UNKNOWN_REASON",
        "A correction's reasonCode is not one of TYPO, DUPLICATE_RECORD, CIVIL_REGISTRY_UPDATE, DEATH_REPORTED, OTHER.",
    )
    NOT_FOUND = (
        "NOT_FOUND",
        "A row of a batch or import names a record that does not exist or lies outside the caller's region.",
    )
    CONFLICT = "CONFLICT", "A row of a batch or import met a concurrent change of the same record; try it again."
    REFUSED = (
        "REFUSED",
        "A rule of the workflow refuses this action to this user (console forms: accounts, separation of duties).",
    )
