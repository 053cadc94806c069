"""Demand-control directives (``@listSize``, ``@cost``, Federation 2.9) built from :mod:`schema.core.limits`.

A Federation 2 router estimates what a query costs from these before planning it (Apollo Router's
``demand_control``); the numbers are the ones the server enforces, so estimate and refusal agree.
"""

from __future__ import annotations

import strawberry
from strawberry.federation.schema_directives import Cost, ListSize

from schema.core.bounds import DEFAULT_PAGE_SIZE, TOTAL_COUNT_COST


def page() -> list[object]:
    """For a connection field: ``first`` sizes its ``edges``; without ``first`` the server sends 20."""
    return [
        ListSize(
            assumed_size=DEFAULT_PAGE_SIZE,
            slicing_arguments=["first"],
            sized_fields=["edges"],
            require_one_slicing_argument=False,
        )
    ]


def bounded(size: int) -> list[object]:
    """For a list without arguments whose length the domain bounds (programmes, history, ...)."""
    # UNSET, not None: Strawberry would print `slicingArguments: null`, which @apollo/composition rejects.
    unset = strawberry.UNSET
    return [
        ListSize(assumed_size=size, slicing_arguments=unset, sized_fields=unset, require_one_slicing_argument=False)
    ]


def count() -> list[object]:
    """For ``totalCount``: a COUNT over every matching row."""
    return [Cost(weight=TOTAL_COUNT_COST)]


__all__ = ["bounded", "count", "page"]
