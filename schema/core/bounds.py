"""The numbers that bound one GraphQL request, in one place: page and list sizes, depth, aliases, tokens, cost,
entity representations, the per-caller budgets, and :class:`Limits`, the set a running server applies.

Apart from their enforcement (schema.core.limits, a Strawberry extension) so that what only needs the numbers —
the settings, and with them every ``jamsos`` command — does not import Strawberry and graphql-core for them.
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
#: How every ``first`` argument describes itself (derived, so the SDL cannot disagree with check_first).
PAGE_SIZE_TEXT: Final = f"Page size, 0-{MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE})."

# --- Query shape (enforced by QueryLimits below; each overridable by JAMSOS_<NAME>) ----------------------
#: Fields nested in fields, fragments expanded (JAMSOS_MAX_QUERY_DEPTH).
MAX_QUERY_DEPTH: Final = 12
#: Aliased fields in one document (JAMSOS_MAX_ALIASES).
MAX_ALIASES: Final = 30
#: Lexical tokens in one document; the parser stops at the limit (JAMSOS_MAX_TOKENS).
MAX_TOKENS: Final = 5000
#: Fragments spreading fragments spreading ... (JAMSOS_MAX_FRAGMENT_NESTING).
MAX_FRAGMENT_NESTING: Final = 10
#: Directives written in one document (JAMSOS_MAX_DIRECTIVES). The schema's executable directives are
#: ``@include`` and ``@skip``; a screen's documents use a handful. Thousands fit under the token limit, and
#: validation visits each one (directive overloading), so they are counted and refused before it.
MAX_DIRECTIVES: Final = 50
#: Directives on any one field, fragment spread, inline fragment, operation, fragment definition or variable
#: (JAMSOS_MAX_DIRECTIVES_PER_LOCATION): ``@include`` and ``@skip`` together are two.
MAX_DIRECTIVES_PER_LOCATION: Final = 4

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
#: Clients one trusted document is registered for (schema/documents/): an assumption for pricing, not a
#: bound the domain enforces; a manifest is pushed for an app and its few environments.
TRUSTED_DOCUMENT_CLIENTS_SIZE: Final = 20

#: Monev lists (schema/stats/), each bounded by an enum of the domain or by the month range it accepts.
SEGMENTS_SIZE: Final = 4
FUNDING_SOURCES_SIZE: Final = 5
#: Months in a trend: at most 120 months after the first (domain.monev.periods.MAX_RANGE_MONTHS), both ends in.
TREND_MONTHS_SIZE: Final = 121
#: A claim statistic per month and programme.
CLAIM_STATS_SIZE: Final = TREND_MONTHS_SIZE * PROGRAMS_SIZE

#: Problems one mutation payload reports: at most one per input field, and no input has 20 fields.
PAYLOAD_ERRORS_SIZE: Final = 20
#: A job's counts (outcomes) and refusals (codes): a kind has a handful of outcomes and of refusal codes.
JOB_COUNTS_SIZE: Final = 20
#: A job's monthly cost per payer: one payer; a national dry run without one, per regency or city (514 in
#: the Kemendagri list).
JOB_COSTS_SIZE: Final = 520

#: ``totalCount`` runs a COUNT over every matching row, not just the page: price it like a page of ten.
TOTAL_COUNT_COST: Final = 10

#: What a router's demand control (README, "Composing into a supergraph") should let through: a full page
#: of 100 nodes that each open a full nested page of 100, the deepest fan-out the page limit allows, costs
#: 100 x (3 + 100 x 2) = 20,300 by the IBM cost rules, plus about 1,000 for both levels' totalCount.
ROUTER_MAX_COST: Final = 25_000
#: The subgraph refuses a document above this cost itself, with the router's number (JAMSOS_MAX_COST).
MAX_COST: Final = ROUTER_MAX_COST

# --- Budgets per caller (auth.ratelimit buckets; in Redis when JAMSOS_REDIS_URL is set) --------------------
#: Cost units one client/user may spend per minute (and at once): ten documents at the cost limit.
#: (JAMSOS_COST_BUDGET_PER_MINUTE)
COST_BUDGET_PER_MINUTE: Final = 250_000
#: GraphQL requests per minute from one address without a token (JAMSOS_ANONYMOUS_REQUESTS_PER_MINUTE).
ANONYMOUS_REQUESTS_PER_MINUTE: Final = 120


# --- Monev aggregates -----------------------------------------------------------------------------------
#: Counts below this are withheld (null, ``suppressed``) from callers with ``stats:read`` but not the rows'
#: read scope. Override: JAMSOS_SUPPRESSION_THRESHOLD.
SUPPRESSION_THRESHOLD: Final = DEFAULT_THRESHOLD


@dataclass(frozen=True)
class Limits:
    """The limits a running server applies; built from settings, defaults from the constants above."""

    max_entity_representations: int = MAX_ENTITY_REPRESENTATIONS
    max_depth: int = MAX_QUERY_DEPTH
    max_aliases: int = MAX_ALIASES
    max_tokens: int = MAX_TOKENS
    max_fragment_nesting: int = MAX_FRAGMENT_NESTING
    max_directives: int = MAX_DIRECTIVES
    max_directives_per_location: int = MAX_DIRECTIVES_PER_LOCATION
    max_cost: int = MAX_COST
    cost_budget_per_minute: int = COST_BUDGET_PER_MINUTE
    anonymous_requests_per_minute: int = ANONYMOUS_REQUESTS_PER_MINUTE
    suppression_threshold: int = SUPPRESSION_THRESHOLD


__all__ = [
    "ANONYMOUS_REQUESTS_PER_MINUTE",
    "CLAIM_BENEFITS_SIZE",
    "CLAIM_HISTORY_SIZE",
    "CLAIM_STATS_SIZE",
    "COST_BUDGET_PER_MINUTE",
    "DEFAULT_PAGE_SIZE",
    "FUNDING_SOURCES_SIZE",
    "JOB_COSTS_SIZE",
    "JOB_COUNTS_SIZE",
    "MAX_ALIASES",
    "MAX_COST",
    "MAX_DIRECTIVES",
    "MAX_DIRECTIVES_PER_LOCATION",
    "MAX_ENTITY_REPRESENTATIONS",
    "MAX_FRAGMENT_NESTING",
    "MAX_PAGE_SIZE",
    "MAX_QUERY_DEPTH",
    "MAX_TOKENS",
    "PAGE_SIZE_TEXT",
    "PAYLOAD_ERRORS_SIZE",
    "PROGRAMS_SIZE",
    "REGION_ANCESTORS_SIZE",
    "REGION_CHILDREN_SIZE",
    "ROUTER_MAX_COST",
    "SEGMENTS_SIZE",
    "SUPPRESSION_THRESHOLD",
    "TOTAL_COUNT_COST",
    "TREND_MONTHS_SIZE",
    "TRUSTED_DOCUMENT_CLIENTS_SIZE",
    "Limits",
]
