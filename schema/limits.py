"""The numbers that bound one GraphQL request, in one place.

The server enforces them (page sizes, query depth, aliases, tokens, entity representations) and the
subgraph SDL advertises the same numbers to a Federation 2 router as demand-control directives
(``@listSize``, ``@cost``), so the router's cost estimate and the server's refusals cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from domain.monev.suppression import DEFAULT_THRESHOLD

# --- Pages -------------------------------------------------------------------------------------------
#: Largest ``first`` a connection accepts.
MAX_PAGE_SIZE: Final = 100
#: Page size when ``first`` is not given.
DEFAULT_PAGE_SIZE: Final = 20

# --- Query shape (enforced by Strawberry extensions in schema.app) -----------------------------------
MAX_QUERY_DEPTH: Final = 12
MAX_ALIASES: Final = 30
MAX_TOKENS: Final = 5000

# --- Federation ---------------------------------------------------------------------------------------
#: Representations one ``_entities`` call may carry. A router batches the keys of a whole plan level
#: into one call: a page of 100 participants with 10 nested references each stays under it. Above it
#: the call is refused (QUERY_TOO_COMPLEX) before any SQL runs. Override: JAMSOS_MAX_ENTITY_REPRESENTATIONS.
MAX_ENTITY_REPRESENTATIONS: Final = 1000

# --- Demand control: what the router may assume about lists that take no ``first`` -------------------
# (tests/schema/test_demand_control.py checks these against the domain's enums and the region table.)
#: Children of one region: the largest parent in the Kemendagri list (district 95.06.03) has 108 villages.
REGION_CHILDREN_SIZE: Final = 110
#: Ancestors of a region: province, regency, district above a village.
REGION_ANCESTORS_SIZE: Final = 3
#: Programmes one participant can hold: each at most once.
PROGRAMS_SIZE: Final = 5
#: Status events of one claim: each status at most once.
CLAIM_HISTORY_SIZE: Final = 5
#: Benefit lines of one claim: a death claim's lump sum, periodic, funeral and death benefits plus two
#: scholarships, with room to spare.
CLAIM_BENEFITS_SIZE: Final = 8

#: Problems one mutation payload reports: at most one per input field, and no input has 20 fields.
PAYLOAD_ERRORS_SIZE: Final = 20

#: ``totalCount`` runs a COUNT over every matching row, not just the page: price it like a page of ten.
TOTAL_COUNT_COST: Final = 10

#: What a router's demand control (README, "Composing into a supergraph") should let through: a full page
#: of 100 nodes that each open a full nested page of 100, the deepest fan-out the page limit allows, costs
#: 100 x (3 + 100 x 2) = 20,300 by the IBM cost rules, plus about 1,000 for both levels' totalCount.
ROUTER_MAX_COST: Final = 25_000


# --- Monev aggregates -----------------------------------------------------------------------------------
#: Counts below this are withheld (null, ``suppressed``) from callers with ``stats:read`` but not the rows'
#: read scope. Override: JAMSOS_SUPPRESSION_THRESHOLD.
SUPPRESSION_THRESHOLD: Final = DEFAULT_THRESHOLD


@dataclass(frozen=True)
class Limits:
    """The limits a running server applies; built from settings, defaults from the constants above."""

    max_entity_representations: int = MAX_ENTITY_REPRESENTATIONS
    #: Monev counts below this are withheld from callers who may not read the rows behind them.
    suppression_threshold: int = SUPPRESSION_THRESHOLD


__all__ = [
    "CLAIM_BENEFITS_SIZE",
    "CLAIM_HISTORY_SIZE",
    "DEFAULT_PAGE_SIZE",
    "MAX_ALIASES",
    "MAX_ENTITY_REPRESENTATIONS",
    "MAX_PAGE_SIZE",
    "MAX_QUERY_DEPTH",
    "MAX_TOKENS",
    "PAYLOAD_ERRORS_SIZE",
    "PROGRAMS_SIZE",
    "REGION_ANCESTORS_SIZE",
    "REGION_CHILDREN_SIZE",
    "ROUTER_MAX_COST",
    "SUPPRESSION_THRESHOLD",
    "TOTAL_COUNT_COST",
    "Limits",
]
