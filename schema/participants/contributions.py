"""The contribution ledger in GraphQL: ``Participant.contributions`` and ``recordContributions``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Annotated

import strawberry
from sqlalchemy import ColumnElement, select
from strawberry import relay

from auth.policy import require_scope, shown, visible
from auth.principal import Principal
from auth.scopes import Scope
from domain.participants.ledger import MAX_BATCH as MAX_PAYMENTS
from domain.participants.ledger import ContributionItem, record_contributions
from domain.participants.models import Contribution, Participant
from schema.core import demand
from schema.core.bounds import PAYLOAD_ERRORS_SIZE
from schema.core.context import Info
from schema.core.enums import FundingSourceEnum, domain_value
from schema.core.errors import BadInput
from schema.core.ids import db_id
from schema.core.nested import ChildPages, child_connection
from schema.core.pagination import CountedConnection, SortKey
from schema.core.permissions import needs
from schema.core.writes import UserError, require_local_id, run_write

PERIOD_SORT = SortKey("FIRST_MONTH", Contribution.first_month)


def visible_payments(principal: Principal) -> ColumnElement[bool]:
    """The payments a caller may see: those of participants they may see (``visible``). Uncorrelated, so that
    under a participant's row (the compiled reads) it never reads that row instead of the participants table."""
    visible_participants = select(Participant.id).where(visible(principal, Participant)).correlate(None)
    return Contribution.participant_id.in_(visible_participants)


@strawberry.type(name="Contribution", description="One recorded payment of contributions for consecutive months.")
class ContributionNode(relay.Node):
    id: relay.NodeID[int]
    months: int = strawberry.field(description="Number of months paid.")
    from_: dt.date = strawberry.field(name="from", description="First day of the first month paid.")
    to: dt.date = strawberry.field(description="Last day of the last month paid.")
    amount: Decimal | None = strawberry.field(
        description="Rupiah received. Null without pii:read for employer-paid (wage-based) contributions, "
        "which reveal the wage."
    )
    payer: FundingSourceEnum = strawberry.field(description="Who paid.")
    payer_region_code: str | None = strawberry.field(
        description="For an APBD payment: the province or regency whose budget paid."
    )
    programs: list[str] = strawberry.field(description="The programmes paid for.")
    reference: str = strawberry.field(description="The payment's reference (unique: a payment is recorded once).")
    received_at: dt.datetime = strawberry.field(description="When the payment was received.")

    @classmethod
    def from_row(cls, row: Contribution, principal: Principal) -> ContributionNode:
        return cls(
            id=row.id,
            months=row.months,
            from_=row.period_from,
            to=row.period_to,
            amount=shown(principal, Contribution, "amount", row.amount, wage_based=row.reveals_wage),
            payer=row.payer,
            payer_region_code=row.payer_region_code,
            programs=row.programs.split(),
            reference=row.reference,
            received_at=row.received_at,
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]  # relay.Node declares overloads per `required`
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[ContributionNode | None]:
        """``node(id)``: a payment exists for a caller only when its participant is in their region."""
        principal = info.context.principal
        require_scope(principal, Scope.PARTICIPANTS_READ)
        ids = [db_id(i) for i in node_ids]
        stmt = select(Contribution).where(Contribution.id.in_(ids), visible_payments(principal))
        rows = {row.id: row for row in await info.context.reader.all(stmt)}
        return [cls.from_row(rows[i], principal) if i in rows else None for i in ids]


@strawberry.type(name="ContributionConnection", description="A page of a participant's payments, oldest first.")
class ContributionConnection(CountedConnection[ContributionNode]):
    pass


#: ``Participant.contributions``: a participant's payments, oldest first, for callers who may see the participant.
PARTICIPANT_CONTRIBUTIONS: ChildPages[Contribution] = ChildPages(
    name="contributions_of_participant",
    model=Contribution,
    parent=Contribution.participant_id,
    sort=PERIOD_SORT,
    visible=visible_payments,
)


async def contributions_of_participant(
    info: Info, participant_id: int, first: int | None, after: str | None
) -> ContributionConnection:
    return await child_connection(
        info,
        PARTICIPANT_CONTRIBUTIONS,
        participant_id,
        first,
        after,
        to_node=lambda r: ContributionNode.from_row(r, info.context.principal),
        connection=ContributionConnection,
    )


@strawberry.input(description="One payment to record.")
class ContributionInput:
    participant_id: strawberry.ID = strawberry.field(description="Global id of the participant paid for.")
    months: int = strawberry.field(description="Number of consecutive months paid (1-120).")
    amount: Decimal = strawberry.field(
        description="Rupiah received; must equal the monthly price of the participant's programmes times months."
    )
    payer: FundingSourceEnum = strawberry.field(description="Who paid.")
    reference: str = strawberry.field(
        description="The payment's reference (bank transfer, SP2D number), at most 64 characters. Recording the "
        "same payment again changes nothing; the same reference for another payment is refused."
    )
    payer_region_code: str | None = strawberry.field(
        default=None,
        description="APBD only: the province or regency whose budget paid (default: your own region).",
    )
    from_month: dt.date | None = strawberry.field(
        default=None,
        description="Any day of the first month paid. Default: the month after the last one paid, or the "
        "current month when the membership has lapsed (give it to record arrears).",
    )
    received_at: dt.datetime | None = strawberry.field(
        default=None, description="When the payment was received (default: now)."
    )


@strawberry.type(description="Result of recording payments.")
class RecordContributionsPayload:
    recorded: int = strawberry.field(description="Payments written by this call.")
    unchanged: int = strawberry.field(description="Payments already recorded with the same reference.")
    contributions: list[ContributionNode] = strawberry.field(
        description="Every payment of the input, in input order, as recorded.",
        directives=demand.bounded(MAX_PAYMENTS),
    )
    errors: list[UserError] = strawberry.field(
        description="Problems with the input (field input[i].…); nothing was written when there are any.",
        directives=demand.bounded(PAYLOAD_ERRORS_SIZE),
    )


@strawberry.type
class ContributionMutation:
    @strawberry.federation.field(
        description="Record payments of contributions, up to 1,000 at once, all or none (e.g. one APBD payment "
        "for a regency's whole enrolled list). Recounts each participant's paidThrough, contributionMonths and "
        "status. Idempotent by reference.",
        **needs(Scope.PARTICIPANTS_WRITE),
    )
    async def record_contributions(
        self,
        info: Info,
        input: Annotated[list[ContributionInput], strawberry.argument(description="The payments.")],
    ) -> RecordContributionsPayload:
        if len(input) > MAX_PAYMENTS:
            raise BadInput(f"at most {MAX_PAYMENTS} payments per call; {len(input)} were given", field="input")
        items = [
            ContributionItem(
                participant_id=require_local_id(item.participant_id, "Participant"),
                months=item.months,
                amount=item.amount,
                payer=domain_value(item.payer),
                reference=item.reference,
                payer_region_code=item.payer_region_code,
                from_month=item.from_month,
                received_at=item.received_at,
            )
            for item in input
        ]
        result, errors = await run_write(info, lambda s, c: record_contributions(s, c, items))
        principal = info.context.principal
        rows = result or []
        return RecordContributionsPayload(
            recorded=sum(1 for r in rows if r.created),
            unchanged=sum(1 for r in rows if not r.created),
            contributions=[ContributionNode.from_row(r.row, principal) for r in rows],
            errors=errors,
        )
