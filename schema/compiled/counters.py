"""What one application's compiled read path did, counted on that application (never per process).

Each ``JamsosGraphQL`` app owns one :class:`ReadCounters` and hands it to every request's context, so two
apps in one process (the test suite makes several) never see each other's counts.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ReadCounters:
    #: Operations the compiled path answered (in the pipeline or in the fast lane).
    compiled: int = 0
    #: Operations the compiled path handed to the resolvers (it met something only they decide).
    fallbacks: int = 0
    #: Root fields answered by one JSON statement (schema.compiled.sql_json).
    json_roots: int = 0
    #: Of those, the ones that ran as kept SQL text rather than a Core statement.
    json_texts: int = 0
    #: Repeated reads the fast lane answered before Strawberry's view (api.fast_reads).
    fast_answered: int = 0
    #: Fast-lane hits handed back to the full pipeline (budget, fallback or failure).
    fast_handed_on: int = 0


__all__ = ["ReadCounters"]
