"""Codes of a region named in the input: not a Kemendagri code, not in the list, not a village, not yours.

(The class is ``RegionErrorCode``: ``RegionCode`` is the Kemendagri code itself, in domain/regions/rules.py.)
"""

from __future__ import annotations

from domain.codes import UserErrorCode


class RegionErrorCode(UserErrorCode):
    """Codes of regions given in the input (villages of registration, payers' regions, figures, import rows)."""

    INVALID_REGION = (
        "INVALID_REGION",
        "Not a dotted Kemendagri code (52, 52.71, 52.71.01, 52.71.01.1001; 10 digits without dots in a file).",
    )
    UNKNOWN_REGION = "UNKNOWN_REGION", "A well-formed region code that is not in the Kemendagri list."
    NOT_A_VILLAGE = (
        "NOT_A_VILLAGE",
        "The region is a province, regency or district where a village (desa/kelurahan) is needed.",
    )
    OUT_OF_REGION = (
        "OUT_OF_REGION",
        "The region exists but lies outside the region the caller is bound to; its rows are not theirs to write.",
    )
