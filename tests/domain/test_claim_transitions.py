"""The claim status transition table (docs/domain.md, "Claims")."""

from __future__ import annotations

import itertools

import pytest

from domain.claims.models import TRANSITIONS, ClaimStatus

SUBMITTED, VERIFIED, APPROVED, PAID, REJECTED = (
    ClaimStatus.SUBMITTED,
    ClaimStatus.VERIFIED,
    ClaimStatus.APPROVED,
    ClaimStatus.PAID,
    ClaimStatus.REJECTED,
)

ALLOWED = {
    (SUBMITTED, VERIFIED),
    (SUBMITTED, REJECTED),
    (VERIFIED, APPROVED),
    (VERIFIED, REJECTED),
    (APPROVED, PAID),
}


def test_every_status_has_an_entry() -> None:
    assert set(TRANSITIONS) == set(ClaimStatus)


def test_the_table_is_exactly_the_allowed_transitions() -> None:
    assert {(a, b) for a, targets in TRANSITIONS.items() for b in targets} == ALLOWED


@pytest.mark.parametrize(("current", "target"), list(itertools.product(ClaimStatus, ClaimStatus)))
def test_each_status_pair(current: ClaimStatus, target: ClaimStatus) -> None:
    assert (target in TRANSITIONS[current]) is ((current, target) in ALLOWED)


@pytest.mark.parametrize(
    ("current", "targets"),
    [
        (SUBMITTED, {VERIFIED, REJECTED}),
        (VERIFIED, {APPROVED, REJECTED}),
        (APPROVED, {PAID}),
        (PAID, set()),
        (REJECTED, set()),
    ],
)
def test_targets_of_each_status(current: ClaimStatus, targets: set[ClaimStatus]) -> None:
    assert TRANSITIONS[current] == targets


@pytest.mark.parametrize("terminal", [PAID, REJECTED])
def test_paid_and_rejected_are_terminal(terminal: ClaimStatus) -> None:
    assert not TRANSITIONS[terminal]


@pytest.mark.parametrize("status", list(ClaimStatus))
def test_no_status_moves_to_itself_or_back_to_submitted(status: ClaimStatus) -> None:
    assert status not in TRANSITIONS[status]
    assert SUBMITTED not in TRANSITIONS[status]


def test_rejection_only_at_the_first_two_stages() -> None:
    assert {s for s, targets in TRANSITIONS.items() if REJECTED in targets} == {SUBMITTED, VERIFIED}


def test_payment_only_after_approval() -> None:
    assert {s for s, targets in TRANSITIONS.items() if PAID in targets} == {APPROVED}


def test_every_status_is_reachable_from_submitted_and_every_path_ends() -> None:
    reached, frontier, steps = {SUBMITTED}, {SUBMITTED}, 0
    while frontier:
        frontier = {t for s in frontier for t in TRANSITIONS[s]}
        reached |= frontier
        steps += 1
        assert steps <= len(ClaimStatus), "the transition table has a cycle"
    assert reached == set(ClaimStatus)


def test_the_happy_path_takes_three_steps() -> None:
    path = [SUBMITTED, VERIFIED, APPROVED, PAID]
    assert all(b in TRANSITIONS[a] for a, b in itertools.pairwise(path))
