"""Small-count suppression: which cells of a table a caller who may not see the rows gets as null.

Primary suppression hides every count below the threshold (a village count of 2 identifies people; zero is
below it too). Secondary suppression then closes the arithmetic: wherever a total and its parts are both
published (a region's participants and its segments, a region's figure and its sub-regions'), a group with
exactly one hidden member would give it away by subtraction, so a second member is hidden too, the smallest
part first. That repeats until no group has a lone hidden member.

Tables are suppressed top-down along the region hierarchy: a region's pattern is fixed while its
sub-regions' table is suppressed, so the sub-regions never reveal a cell hidden one level up (the parent's
cells may not be hidden anew there: the rule always finds a part to hide instead, and a lone sub-region
simply takes its parent's pattern, being equal to it).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping

Key = tuple[str, str, str]
"""(area code, month key, cell name)."""
Group = tuple[Key, tuple[Key, ...]]
"""(total, parts): total = sum(parts)."""

#: Suppression threshold when the settings give none: counts of 0-4 are withheld.
DEFAULT_THRESHOLD = 5


class Family(enum.StrEnum):
    """Whose rows a count is about; a caller may be allowed to read the rows of some families and not others."""

    PARTICIPANTS = "participants"
    BENEFICIARIES = "beneficiaries"
    CLAIMS = "claims"


def family_of(cell: str) -> Family:
    if cell.startswith("poor:"):
        return Family.BENEFICIARIES
    if cell.startswith("claims:"):
        return Family.CLAIMS
    return Family.PARTICIPANTS


def suppress(
    values: Mapping[Key, int],
    groups: Iterable[Group],
    *,
    threshold: int,
    protected: frozenset[Family],
    fixed: Mapping[Key, bool] | None = None,
) -> set[Key]:
    """The hidden keys of a table: primary then secondary suppression, for the `protected` families only.

    `fixed` keys (a parent's cells, suppressed one level up) keep their state: hidden when True, shown when
    False; they are never hidden anew here.
    """
    fixed = fixed or {}
    hidden = {
        key for key, value in values.items() if family_of(key[2]) in protected and fixed.get(key, value < threshold)
    }
    hidden |= {key for key, is_hidden in fixed.items() if is_hidden}
    relevant = [g for g in groups if family_of(g[0][2]) in protected]
    changed = True
    while changed:
        changed = False
        for total, parts in relevant:
            lone = sum(1 for k in (total, *parts) if k in hidden)
            if lone != 1:
                continue
            candidates = sorted((values.get(p, 0), p) for p in parts if p not in hidden and p not in fixed)
            if candidates:
                hidden.add(candidates[0][1])
            elif total not in hidden and total not in fixed:
                hidden.add(total)
            else:
                # Only a fixed member is left to hide: cannot happen for sums of counts (a lone part equals its
                # total and takes its pattern), so a table that gets here is inconsistent.
                raise ValueError(f"cannot protect the hidden member of the group of {total}")
            changed = True
    return hidden
