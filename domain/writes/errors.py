"""Errors of the domain's write functions, independent of how they reach the caller.

:class:`Invalid` carries a list of :class:`Problem` (field, code, message) that a person can act on; the
GraphQL layer turns them into ``UserError`` payload entries, the console into form errors. The others map
to error codes: :class:`NotFound` (also for rows outside the caller's region: no existence leaks),
:class:`Conflict` (a stale ``expectedVersion`` or a concurrent change), :class:`Refused` (a rule of the
workflow, e.g. separation of duties).
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.codes import UserErrorCode, require_code


@dataclass(frozen=True, slots=True)
class Problem:
    field: str | None
    #: A member of a family's catalogue (domain/error_catalogue.py), never a free string.
    code: UserErrorCode
    message: str

    def __post_init__(self) -> None:
        require_code(self.code)


class DomainError(Exception):
    pass


class Invalid(DomainError):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


def invalid(field: str | None, code: UserErrorCode, message: str) -> Invalid:
    return Invalid([Problem(field, code, message)])


class NotFound(DomainError):
    def __init__(self, entity: str, key: object) -> None:
        super().__init__(f"{entity} {key} does not exist or is not visible to you")


class Conflict(DomainError):
    def __init__(self, entity: str, key: object, expected: int | None, actual: int | None) -> None:
        if expected is not None and actual is not None:
            detail = f"you expected version {expected}, it is now at version {actual}"
        else:
            detail = "it was changed at the same time by someone else"
        super().__init__(f"{entity} {key} was changed by someone else ({detail}); reload it and try again")


class Refused(DomainError):
    """A workflow rule forbids this action for this caller (e.g. the verifier approving)."""
