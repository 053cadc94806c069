"""Per-request DataLoaders: every relation is loaded through one, so nested lists cost one query per level.

Loaders are built per request (never shared: a cache across requests would leak rows between callers) and
apply the caller's region scope in SQL, so a loaded row is always one the caller may see.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.orm import InstrumentedAttribute
from strawberry.dataloader import DataLoader

from auth.policy import visible
from auth.principal import Principal
from domain.beneficiaries.models import LATEST_SNAPSHOT, PovertyBeneficiary
from domain.claims.models import Claim, ClaimBenefit, ClaimEvent
from domain.participants.models import Employer, Participant, ParticipantProgram
from domain.regions.models import Region
from schema.core.context import Reader

K = TypeVar("K", bound=Hashable)
R = TypeVar("R")

#: Keys per SQL statement; stays well under both databases' bound-parameter limits.
MAX_BATCH = 1000


def _one_per_key(
    reader: Reader, stmt: Callable[[Sequence[Any]], Select[R]], key_of: Callable[[R], Any]
) -> Callable[[list[Any]], Awaitable[list[R | None]]]:
    async def load(keys: list[Any]) -> list[R | None]:
        found = {key_of(row): row for row in await reader.all(stmt(keys))}
        return [found.get(k) for k in keys]

    return load


def _many_per_key(
    reader: Reader, stmt: Callable[[Sequence[Any]], Select[R]], key_of: Callable[[R], Any]
) -> Callable[[list[Any]], Awaitable[list[list[R]]]]:
    async def load(keys: list[Any]) -> list[list[R]]:
        grouped: dict[Any, list[R]] = defaultdict(list)
        for row in await reader.all(stmt(keys)):
            grouped[key_of(row)].append(row)
        return [grouped.get(k, []) for k in keys]

    return load


def _loader(fn: Callable[[list[K]], Awaitable[list[R]]]) -> DataLoader[K, R]:
    return DataLoader(load_fn=fn, max_batch_size=MAX_BATCH)


class Loaders:
    """The loaders of one request, scoped to its principal."""

    def __init__(self, reader: Reader, principal: Principal) -> None:
        self.reader = reader
        self.principal = principal

        def scoped(model: Any, column: InstrumentedAttribute[Any]) -> Callable[[Sequence[Any]], Select[Any]]:
            clause: ColumnElement[bool] = visible(principal, model)
            return lambda keys: select(model).where(column.in_(keys), clause)

        regions_visible = visible(principal, Region)
        self.region: DataLoader[str, Region | None] = _loader(
            _one_per_key(
                reader,
                lambda keys: select(Region).where(Region.code.in_(keys), regions_visible),
                lambda r: r.code,
            )
        )
        self.region_children: DataLoader[str, list[Region]] = _loader(
            _many_per_key(
                reader,
                lambda keys: select(Region).where(Region.parent_code.in_(keys), regions_visible).order_by(Region.code),
                lambda r: r.parent_code,
            )
        )
        self.employer: DataLoader[int, Employer | None] = _loader(
            _one_per_key(reader, scoped(Employer, Employer.id), lambda r: r.id)
        )
        self.participant: DataLoader[int, Participant | None] = _loader(
            _one_per_key(reader, scoped(Participant, Participant.id), lambda r: r.id)
        )
        self.participant_by_membership: DataLoader[str, Participant | None] = _loader(
            _one_per_key(reader, scoped(Participant, Participant.membership_number), lambda r: r.membership_number)
        )
        #: Federation references arrive by either key, mixed in one batch: one statement for all of them.
        self.participant_by_key: DataLoader[ParticipantKey, Participant | None] = _loader(
            _participants_by_key(reader, visible(principal, Participant))
        )
        self.participant_by_nik: DataLoader[str, Participant | None] = _loader(
            _one_per_key(reader, scoped(Participant, Participant.nik), lambda r: r.nik)
        )
        # Children of an already visible parent inherit its visibility: no second scope filter needed.
        self.programs: DataLoader[int, list[ParticipantProgram]] = _loader(
            _many_per_key(
                reader,
                lambda keys: (
                    select(ParticipantProgram)
                    .where(ParticipantProgram.participant_id.in_(keys))
                    .order_by(ParticipantProgram.program)
                ),
                lambda r: r.participant_id,
            )
        )
        self.beneficiary: DataLoader[int, PovertyBeneficiary | None] = _loader(
            _one_per_key(reader, scoped(PovertyBeneficiary, PovertyBeneficiary.id), lambda r: r.id)
        )
        self.beneficiary_by_nik: DataLoader[str, PovertyBeneficiary | None] = _loader(
            _latest_snapshot(reader, scoped(PovertyBeneficiary, PovertyBeneficiary.nik), lambda r: r.nik)
        )
        self.beneficiary_of_participant: DataLoader[int, PovertyBeneficiary | None] = _loader(
            _latest_snapshot(
                reader,
                scoped(PovertyBeneficiary, PovertyBeneficiary.participant_id),
                lambda r: r.participant_id,
            )
        )
        self.claim: DataLoader[int, Claim | None] = _loader(
            _one_per_key(reader, scoped(Claim, Claim.id), lambda r: r.id)
        )
        self.claim_by_number: DataLoader[str, Claim | None] = _loader(
            _one_per_key(reader, scoped(Claim, Claim.claim_number), lambda r: r.claim_number)
        )
        self.benefits: DataLoader[int, list[ClaimBenefit]] = _loader(
            _many_per_key(
                reader,
                lambda keys: select(ClaimBenefit).where(ClaimBenefit.claim_id.in_(keys)).order_by(ClaimBenefit.id),
                lambda r: r.claim_id,
            )
        )
        self.claim_history: DataLoader[int, list[ClaimEvent]] = _loader(
            _many_per_key(
                reader,
                lambda keys: (
                    select(ClaimEvent).where(ClaimEvent.claim_id.in_(keys)).order_by(ClaimEvent.at, ClaimEvent.id)
                ),
                lambda r: r.claim_id,
            )
        )
        #: Loaders other modules add for themselves (e.g. paginated child connections), by name.
        self.custom: dict[str, DataLoader[Any, Any]] = {}

    def get_or_create(self, name: str, factory: Callable[[], DataLoader[Any, Any]]) -> DataLoader[Any, Any]:
        loader = self.custom.get(name)
        if loader is None:
            loader = self.custom[name] = factory()
        return loader


ParticipantKey = tuple[str, int | str]
"""``("id", 42)`` or ``("membershipNumber", "17000012345")``: a participant by either of its entity keys."""


def _participants_by_key(
    reader: Reader, visible: ColumnElement[bool]
) -> Callable[[list[ParticipantKey]], Awaitable[list[Participant | None]]]:
    async def load(keys: list[ParticipantKey]) -> list[Participant | None]:
        ids = [value for kind, value in keys if kind == "id"]
        numbers = [value for kind, value in keys if kind == "membershipNumber"]
        conditions = [Participant.id.in_(ids)] if ids else []
        conditions += [Participant.membership_number.in_(numbers)] if numbers else []
        found: dict[ParticipantKey, Participant] = {}
        for row in await reader.all(select(Participant).where(or_(*conditions), visible)):
            found[("id", row.id)] = found[("membershipNumber", row.membership_number)] = row
        return [found.get(k) for k in keys]

    return load


def _latest_snapshot(
    reader: Reader,
    stmt: Callable[[Sequence[Any]], Select[PovertyBeneficiary]],
    key_of: Callable[[Any], Any],
) -> Callable[[list[Any]], Awaitable[list[PovertyBeneficiary | None]]]:
    """A person can appear in several registries and snapshots; the latest snapshot speaks for them."""

    async def load(keys: list[Any]) -> list[PovertyBeneficiary | None]:
        latest: dict[Any, PovertyBeneficiary] = {}
        for row in await reader.all(stmt(keys)):
            key = key_of(row)
            current = latest.get(key)
            if current is None or _recency(row) > _recency(current):
                latest[key] = row
        return [latest.get(k) for k in keys]

    return load


def _recency(row: PovertyBeneficiary) -> tuple[Any, ...]:
    return tuple(getattr(row, column) for column in LATEST_SNAPSHOT)


__all__ = ["MAX_BATCH", "Loaders", "ParticipantKey"]
