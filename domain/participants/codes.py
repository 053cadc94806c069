"""Codes of participants' and employers' writes, and of the contribution ledger."""

from __future__ import annotations

from domain.codes import UserErrorCode


class ParticipantCode(UserErrorCode):
    """Codes of registering and correcting participants and employers (domain/participants/)."""

    DUPLICATE_NIK = "DUPLICATE_NIK", "The NIK is already registered to another participant."
    PROGRAM_NOT_ALLOWED = (
        "PROGRAM_NOT_ALLOWED",
        "The segment may not hold one of these programmes, or lacks one it must hold (every segment holds JKK "
        "and JKM; JP and JKP are PU only; JAKON holds JKK and JKM only).",
    )
    FUNDING_NOT_ALLOWED = (
        "FUNDING_NOT_ALLOWED",
        "The segment may not be funded this way: PU and JAKON are paid by their employer, the others never are.",
    )
    BELOW_WORKING_AGE = (
        "BELOW_WORKING_AGE",
        "The person is younger than the minimum working age (UU 13/2003 on manpower; the message gives it).",
    )
    NEGATIVE = "NEGATIVE", "The monthly wage is negative."
    ABSURD = "ABSURD", "The monthly wage is beyond any plausible figure; check the number of digits."
    UNKNOWN_EMPLOYER = (
        "UNKNOWN_EMPLOYER",
        "A wage earner (PU) needs an employer registration number (NPP) registered in the caller's region.",
    )
    DERIVED_FIELD = (
        "DERIVED_FIELD",
        "The field is derived from the contribution ledger (paidThrough, ACTIVE/INACTIVE status); record the "
        "payment with recordContributions instead.",
    )
    PARTICIPANT_DECEASED = (
        "PARTICIPANT_DECEASED",
        "The participant has died: no contribution is due after that month, and only the death benefit and the "
        "heirs' scholarships remain to claim.",
    )
    INVALID_PHONE_NUMBER = (
        "INVALID_PHONE_NUMBER",
        "The phone number is not an Indonesian mobile number: 08…, +628… or 628… with 10-13 digits after +62 "
        "(the message says what is wrong).",
    )
    INVALID_REGISTRATION_NUMBER = (
        "INVALID_REGISTRATION_NUMBER",
        "An employer registration number (NPP) has 5-20 capital letters and digits, e.g. NPP52710000001.",
    )
    DUPLICATE_REGISTRATION_NUMBER = (
        "DUPLICATE_REGISTRATION_NUMBER",
        "The employer registration number (NPP) is already registered.",
    )


class ContributionCode(UserErrorCode):
    """Codes of recording contributions in the ledger (domain/participants/ledger.py)."""

    EMPTY = "EMPTY", "recordContributions was given no payment."
    TOO_MANY = "TOO_MANY", "More payments in one call than the batch allows (the message gives the maximum)."
    INVALID_MONTHS = "INVALID_MONTHS", "A payment covers fewer than 1 or more months than one payment may."
    INVALID_AMOUNT = (
        "INVALID_AMOUNT",
        "The amount is not a positive rupiah figure (at most two decimals) within the maximum.",
    )
    NO_TIME_ZONE = "NO_TIME_ZONE", "receivedAt has no offset; give it as 2026-12-01T09:00:00+08:00."
    DUPLICATE_REFERENCE = "DUPLICATE_REFERENCE", "Two payments of the same call carry the same reference."
    REFERENCE_REUSED = (
        "REFERENCE_REUSED",
        "The reference was already recorded for another payment (participant, months or amount differ); a "
        "reference names one payment.",
    )
    BEFORE_REGISTRATION = "BEFORE_REGISTRATION", "The payment starts before the month the participant was registered."
    TOO_FAR_AHEAD = "TOO_FAR_AHEAD", "The payment reaches further ahead than months may be paid in advance."
    MONTHS_ALREADY_PAID = "MONTHS_ALREADY_PAID", "Some of the months are already paid by a recorded contribution."
    PAYER_NOT_ALLOWED = "PAYER_NOT_ALLOWED", "The participant's segment may not be paid for by this payer."
    NO_PRICE = (
        "NO_PRICE",
        "The contribution rules price no such package for that month (segment, programmes, wage or risk class).",
    )
    AMOUNT_MISMATCH = (
        "AMOUNT_MISMATCH",
        "The amount is not the months times the monthly price the rules give (the message shows the sum).",
    )
    NOT_APPLICABLE = "NOT_APPLICABLE", "Only an APBD (regional budget) payer has a payerRegionCode."
    PAYER_OUT_OF_REGION = (
        "PAYER_OUT_OF_REGION",
        "The paying region is not one the caller may record payments for.",
    )
    NOT_A_BUDGET = (
        "NOT_A_BUDGET",
        "The APBD payer named is not a province or a regency/city: only those hold a regional budget (APBD).",
    )
    PAYER_NOT_RESPONSIBLE = (
        "PAYER_NOT_RESPONSIBLE",
        "The participant lives outside the paying region; its budget does not pay for them.",
    )
    PAYER_REQUIRED = (
        "PAYER_REQUIRED",
        "An APBD bulk write names no payer and the caller has no budget of its own (a national administrator, a "
        "district office): name the province or regency whose budget pays.",
    )
