"""Codes of the poverty registries' records: corrections, enrolment and list imports (domain/beneficiaries/)."""

from __future__ import annotations

from domain.codes import UserErrorCode


class BeneficiaryCode(UserErrorCode):
    """Codes of beneficiaries (P3KE, DTKS, DTSEN records) and of enrolling them (Inpres 4/2022)."""

    INVALID_KK = "INVALID_KK", "A family-card number (KK) that is not 16 digits."
    DISAGREES_WITH_NIK = "DISAGREES_WITH_NIK", "The sex or birth date given disagrees with what the NIK encodes."
    NOT_EXTREME_POOR = (
        "NOT_EXTREME_POOR",
        "The beneficiary is not flagged extreme-poor by their registry; pass allowNonExtremePoor to enrol them anyway.",
    )
    INVALID_SOURCE = "INVALID_SOURCE", "An import row's source is not P3KE, DTKS or DTSEN."
    FORMULA_LIKE = (
        "FORMULA_LIKE",
        "An import row's name starts with =, + or @, which a spreadsheet would run as a formula.",
    )
    DUPLICATE_ROW = (
        "DUPLICATE_ROW",
        "An import row repeats an earlier row's NIK, source and snapshot date; each person appears once per "
        "source and snapshot.",
    )
    NOT_YOURS = (
        "NOT_YOURS",
        "The person's record for this source and snapshot belongs to a region outside the importer's; it cannot be "
        "changed from there.",
    )
