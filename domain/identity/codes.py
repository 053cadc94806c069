"""Codes of the console's account forms: people's user names and passwords."""

from __future__ import annotations

from domain.codes import UserErrorCode


class IdentityCode(UserErrorCode):
    """Codes of creating and changing console users (admin/views/identity.py)."""

    WEAK_PASSWORD = "WEAK_PASSWORD", "The password is too short, too long or has fewer than 5 different characters."
    INVALID_USERNAME = (
        "INVALID_USERNAME",
        "A user name has 3-64 lower-case letters, digits, '.', '_' or '-', starting and ending with a letter or digit.",
    )
