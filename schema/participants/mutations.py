"""Mutations of the participant family: registerParticipant, updateParticipant, enrollBeneficiary."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from auth.scopes import Scope
from domain.beneficiaries.enrolment import enroll_beneficiary
from domain.codes import ErrorCode
from domain.participants.budget_payer import check_payer
from domain.participants.codes import ContributionCode
from domain.participants.models import FundingSource
from domain.participants.rules import Program
from domain.participants.writes import ParticipantChanges, Registration, register_participant, update_participant
from domain.writes.caller import Caller
from domain.writes.errors import Invalid
from schema.beneficiaries.types import BeneficiaryNode
from schema.core import demand
from schema.core.bounds import PAYLOAD_ERRORS_SIZE
from schema.core.context import Info
from schema.core.enums import (
    FundingSourceEnum,
    ParticipantStatusEnum,
    ProgramEnum,
    SegmentEnum,
    SexEnum,
    domain_value,
)
from schema.core.errors import BadInput
from schema.core.permissions import needs
from schema.core.writes import UserError, WriteError, require_local_id, run_write
from schema.participants.types import ParticipantNode


@strawberry.input(description="A new participant. The NIK must agree with the birth date and sex.")
class RegisterParticipantInput:
    nik: str = strawberry.field(description="National ID, 16 digits; its district must exist.")
    full_name: str = strawberry.field(description="Full name as in the civil registry (at most 200 characters).")
    birth_date: dt.date = strawberry.field(description="Birth date; must match the NIK.")
    sex: SexEnum = strawberry.field(description="Sex; must match the NIK.")
    segment: SegmentEnum = strawberry.field(description="Segment; decides the programmes allowed.")
    funding_source: FundingSourceEnum = strawberry.field(description="Who pays (EMPLOYER for PU and JAKON).")
    region_code: str = strawberry.field(description="The village where the participant is registered.")
    programs: list[ProgramEnum] = strawberry.field(description="Programmes to enrol in (JKK and JKM at least).")
    employer_registration_number: str | None = strawberry.field(
        default=None, description="The employer, required for wage earners (PU)."
    )
    monthly_wage: Decimal | None = strawberry.field(default=None, description="Monthly wage in rupiah (PU: required).")
    phone_number: str | None = strawberry.field(
        default=None,
        description="Indonesian mobile number: 0812-3456-7890, +62 812 3456 7890 or 6281234567890; stored as "
        "+6281234567890. A bad one is INVALID_PHONE_NUMBER.",
    )


@strawberry.input(description="A correction of a participant. Only the fields given change.")
class UpdateParticipantInput:
    expected_version: int = strawberry.field(description="The version you read; a stale one is a CONFLICT.")
    nik: str | None = strawberry.field(default=None, description="Corrected NIK.")
    full_name: str | None = strawberry.field(default=None, description="Corrected full name.")
    birth_date: dt.date | None = strawberry.field(default=None, description="Corrected birth date.")
    sex: SexEnum | None = strawberry.field(default=None, description="Corrected sex.")
    status: ParticipantStatusEnum | None = strawberry.field(
        default=None,
        description="DECEASED or RETIRED (ACTIVE and INACTIVE follow the contribution ledger; they can only be "
        "given to undo DECEASED or RETIRED).",
    )
    funding_source: FundingSourceEnum | None = strawberry.field(default=None, description="New funding source.")
    region_code: str | None = strawberry.field(default=None, description="New village of registration.")
    monthly_wage: Decimal | None = strawberry.field(default=None, description="New monthly wage.")
    phone_number: str | None = strawberry.field(
        default=None, description="Corrected mobile number (as for registration); the empty string removes it."
    )
    paid_through: dt.date | None = strawberry.field(
        default=None,
        description="Not correctable: paid-through is counted from the recorded contributions "
        "(recordContributions); giving it is refused with DERIVED_FIELD.",
    )
    programs: list[ProgramEnum] | None = strawberry.field(default=None, description="The full new set of programmes.")
    reason_code: str | None = strawberry.field(
        default=None,
        description="Kind of correction (required): TYPO, DUPLICATE_RECORD, CIVIL_REGISTRY_UPDATE, "
        "DEATH_REPORTED or OTHER.",
    )


@strawberry.type(description="Result of a participant mutation.")
class ParticipantPayload:
    written: strawberry.Private[ParticipantNode | None]
    errors: list[UserError] = strawberry.field(
        description="Problems with the input; empty on success.", directives=demand.bounded(PAYLOAD_ERRORS_SIZE)
    )

    @strawberry.federation.field(
        description="The participant as it is now (needs participants:read, like any read of one).",
        **needs(Scope.PARTICIPANTS_READ),
    )
    def participant(self) -> ParticipantNode | None:
        return self.written


@strawberry.type(description="Result of enrolling a poverty beneficiary.")
class EnrollBeneficiaryPayload:
    enrolled_participant: strawberry.Private[ParticipantNode | None]
    enrolled_beneficiary: strawberry.Private[BeneficiaryNode | None]
    created: bool = strawberry.field(description="True when this call created the participant.")
    monthly_contribution: Decimal | None = strawberry.field(
        description="The package price per month in rupiah (Rp16,800 for JKK + JKM), paid by the funder."
    )
    errors: list[UserError] = strawberry.field(
        description="Problems with the input; empty on success.", directives=demand.bounded(PAYLOAD_ERRORS_SIZE)
    )

    @strawberry.federation.field(
        description="The participant they are now (or were); needs participants:read like any participant read.",
        **needs(Scope.PARTICIPANTS_READ),
    )
    def participant(self) -> ParticipantNode | None:
        return self.enrolled_participant

    @strawberry.federation.field(
        description="The beneficiary, now enrolled (needs beneficiaries:read).", **needs(Scope.BENEFICIARIES_READ)
    )
    def beneficiary(self) -> BeneficiaryNode | None:
        return self.enrolled_beneficiary


def _programs(values: list[ProgramEnum] | None) -> set[Program] | None:
    return None if values is None else {domain_value(v) for v in values}


@strawberry.type
class ParticipantMutation:
    @strawberry.federation.field(description="Register a new participant.", **needs(Scope.PARTICIPANTS_WRITE))
    async def register_participant(
        self,
        info: Info,
        input: Annotated[RegisterParticipantInput, strawberry.argument(description="The new participant.")],
    ) -> ParticipantPayload:
        data = Registration(
            nik=input.nik,
            full_name=input.full_name,
            birth_date=input.birth_date,
            sex=domain_value(input.sex),
            segment=domain_value(input.segment),
            funding_source=domain_value(input.funding_source),
            region_code=input.region_code,
            programs=_programs(input.programs) or set(),
            employer_registration_number=input.employer_registration_number,
            monthly_wage=input.monthly_wage,
            phone_number=input.phone_number,
        )
        row, errors = await run_write(info, lambda s, c: register_participant(s, c, data))
        return ParticipantPayload(
            written=ParticipantNode.from_row(row, info.context.principal) if row else None, errors=errors
        )

    @strawberry.federation.field(
        description="Correct a participant; the reason is recorded in the audit trail with before/after values.",
        **needs(Scope.PARTICIPANTS_WRITE),
    )
    async def update_participant(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Global id of the participant.")],
        input: Annotated[UpdateParticipantInput, strawberry.argument(description="The changes.")],
        reason: Annotated[str, strawberry.argument(description="Why (required; goes to the audit trail).")],
    ) -> ParticipantPayload:
        participant_id = require_local_id(id, "Participant")
        changes = ParticipantChanges(
            nik=input.nik,
            full_name=input.full_name,
            birth_date=input.birth_date,
            sex=domain_value(input.sex),
            status=domain_value(input.status),
            funding_source=domain_value(input.funding_source),
            region_code=input.region_code,
            monthly_wage=input.monthly_wage,
            phone_number=input.phone_number,
            paid_through=input.paid_through,
            programs=_programs(input.programs),
        )
        row, errors = await run_write(
            info,
            lambda s, c: update_participant(
                s,
                c,
                participant_id,
                changes,
                expected_version=input.expected_version,
                reason=reason,
                reason_code=input.reason_code,
            ),
        )
        return ParticipantPayload(
            written=ParticipantNode.from_row(row, info.context.principal) if row else None, errors=errors
        )

    @strawberry.federation.field(
        description="Enrol a poverty beneficiary as a BPU participant (JKK + JKM, regionally funded; Inpres "
        "4/2022), or link them to the participant with their NIK. Idempotent.",
        **needs(Scope.BENEFICIARIES_WRITE),
    )
    async def enroll_beneficiary(
        self,
        info: Info,
        beneficiary_id: Annotated[strawberry.ID, strawberry.argument(description="Global id of the beneficiary.")],
        programs: Annotated[
            list[ProgramEnum] | None, strawberry.argument(description="Programmes (default JKK and JKM).")
        ] = None,
        funding: Annotated[
            FundingSourceEnum | None, strawberry.argument(description="Who pays (default APBD).")
        ] = None,
        allow_non_extreme_poor: Annotated[
            bool, strawberry.argument(description="Enrol someone the registry does not flag extreme-poor.")
        ] = False,
    ) -> EnrollBeneficiaryPayload:
        bid = require_local_id(beneficiary_id, "PovertyBeneficiary")
        wanted = _programs(programs)
        payer: FundingSource = domain_value(funding) or FundingSource.APBD
        result, errors = await run_write(
            info,
            lambda s, c: enroll_beneficiary(
                s, c, bid, programs=wanted, funding=payer, allow_non_extreme_poor=allow_non_extreme_poor
            ),
        )
        principal = info.context.principal
        if result is None:
            return EnrollBeneficiaryPayload(
                enrolled_participant=None,
                enrolled_beneficiary=None,
                created=False,
                monthly_contribution=None,
                errors=errors,
            )
        beneficiary = await info.context.loaders.beneficiary.load(bid)
        visible = info.context.caller.sees(result.participant.region_code)
        return EnrollBeneficiaryPayload(
            enrolled_participant=ParticipantNode.from_row(result.participant, principal) if visible else None,
            enrolled_beneficiary=BeneficiaryNode.from_row(beneficiary, principal) if beneficiary else None,
            created=result.created,
            monthly_contribution=result.monthly_contribution,
            errors=[],
        )


async def checked_budget(sessions: async_sessionmaker[AsyncSession], caller: Caller, raw: str | None) -> str:
    """The APBD payer `raw` names (or the caller's own budget), by domain.participants.budget_payer, as GraphQL
    errors: another region's budget is FORBIDDEN, a missing or malformed payer BAD_USER_INPUT. It reads the
    region list only, so a caller learns nothing of another region's rows."""
    async with sessions() as session:
        try:
            return await check_payer(session, caller, raw)
        except Invalid as exc:
            problem = exc.problems[0]
            if problem.code is ContributionCode.PAYER_OUT_OF_REGION:
                raise WriteError(problem.message, ErrorCode.FORBIDDEN) from None
            raise BadInput(problem.message, field="payer") from None
