"""GraphQL enums for the domain's enums, each value with a description for the frontend teams.

The GraphQL enum's values *are* the domain enum members, so resolvers pass domain values straight through
and inputs come back as domain values (``.value``) without a mapping table to keep in step.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any, TypeVar

import strawberry

from domain.beneficiaries.models import MIN_DECILE, SOURCE_MAX_DECILE, BeneficiarySource
from domain.claims.models import BenefitKind, ClaimCause, ClaimStatus, EducationLevel, Relationship, ScholarshipEnd
from domain.codes import UserErrorCode
from domain.error_catalogue import user_error_codes
from domain.nik import Sex
from domain.participants.models import FundingSource, ParticipantStatus
from domain.participants.rules import Program, Segment
from domain.regions.rules import RegionLevel

E = TypeVar("E", bound=enum.Enum)


def graphql_enum(domain: type[E], description: str, values: dict[E, str], name: str | None = None) -> Any:
    missing = set(domain) - set(values)
    if missing:
        raise ValueError(f"{domain.__name__}: no description for {sorted(m.name for m in missing)}")
    members = {m.name: strawberry.enum_value(m, description=values[m]) for m in domain}
    built = enum.Enum(name or domain.__name__, members)  # type: ignore[misc]
    return strawberry.enum(built, description=description)


def catalogue_enum(name: str, description: str) -> Any:
    """The GraphQL enum of every user error code of the catalogue (domain/error_catalogue.py), each described.

    Its values are the families' members (``ClaimCode.HEIR_REQUIRED``…), so a ``Problem.code`` is returned as it
    is and serialises as its string.
    """
    members = {c.name: strawberry.enum_value(c, description=c.description) for c in user_error_codes()}
    built = enum.Enum(name, members)  # type: ignore[misc]
    return strawberry.enum(built, description=description)


def domain_value(value: Any) -> Any:
    """The domain enum member behind a GraphQL enum input (or None)."""
    return None if value is None else value.value


if TYPE_CHECKING:  # to mypy the GraphQL enums are the domain enums whose members they carry
    RegionLevelEnum = RegionLevel
    SexEnum = Sex
    ProgramEnum = Program
    SegmentEnum = Segment
    ParticipantStatusEnum = ParticipantStatus
    FundingSourceEnum = FundingSource
    BeneficiarySourceEnum = BeneficiarySource
    ClaimStatusEnum = ClaimStatus
    BenefitKindEnum = BenefitKind
    RelationshipEnum = Relationship
    EducationLevelEnum = EducationLevel
    ClaimCauseEnum = ClaimCause
    ScholarshipEndEnum = ScholarshipEnd
    UserErrorCodeEnum = UserErrorCode
else:
    UserErrorCodeEnum = catalogue_enum(
        "UserErrorCode",
        "Why an input was refused: the code of a UserError, an import row's error or an enrolment refusal. Stable: "
        "a code is never renamed; new codes are added (handle an unknown one as a generic error).",
    )
    RegionLevelEnum = graphql_enum(
        RegionLevel,
        "Level of a region in the Kemendagri hierarchy.",
        {
            RegionLevel.PROVINCE: "Province (provinsi), e.g. 52 Nusa Tenggara Barat.",
            RegionLevel.REGENCY: "Regency (kabupaten) or city (kota), e.g. 52.71 Kota Mataram.",
            RegionLevel.DISTRICT: "District (kecamatan), e.g. 52.71.01.",
            RegionLevel.VILLAGE: "Village: kelurahan (urban, 1xxx) or desa (rural, 2xxx), e.g. 52.71.01.1001.",
        },
        name="RegionLevel",
    )
    SexEnum = graphql_enum(Sex, "Sex as recorded in the civil registry.", {Sex.M: "Male.", Sex.F: "Female."}, "Sex")
    ProgramEnum = graphql_enum(
        Program,
        "A BPJS Ketenagakerjaan programme.",
        {
            Program.JKK: "Jaminan Kecelakaan Kerja: work accident and occupational disease.",
            Program.JKM: "Jaminan Kematian: death not caused by work.",
            Program.JHT: "Jaminan Hari Tua: old-age savings, paid as a lump sum.",
            Program.JP: "Jaminan Pensiun: monthly pension (lump sum below 180 contribution months).",
            Program.JKP: "Jaminan Kehilangan Pekerjaan: job-loss benefit, wage earners (PU) only.",
        },
        "Program",
    )
    SegmentEnum = graphql_enum(
        Segment,
        "Participant segment; it decides which programmes a participant may hold.",
        {
            Segment.PU: "Penerima Upah: wage earners employed by an employer (all five programmes).",
            Segment.BPU: "Bukan Penerima Upah: informal and self-employed workers (JKK, JKM, optional JHT).",
            Segment.JAKON: "Construction workers enrolled per project (JKK, JKM).",
            Segment.PMI: "Pekerja Migran Indonesia: migrant workers (JKK, JKM, optional JHT).",
        },
        "Segment",
    )
    ParticipantStatusEnum = graphql_enum(
        ParticipantStatus,
        "Membership status.",
        {
            ParticipantStatus.ACTIVE: "Contributions paid through the current month.",
            ParticipantStatus.INACTIVE: "Contributions lapsed.",
            ParticipantStatus.DECEASED: "The participant has died.",
            ParticipantStatus.RETIRED: "The participant has retired (age 56) and left active membership.",
        },
        "ParticipantStatus",
    )
    FundingSourceEnum = graphql_enum(
        FundingSource,
        "Who pays the contributions.",
        {
            FundingSource.SELF: "The participant.",
            FundingSource.EMPLOYER: "The employer (with the worker's share for JHT and JP).",
            FundingSource.APBD: "A regional government budget (Inpres 2/2021 and 4/2022 vulnerable workers).",
            FundingSource.APBN: "The national budget.",
            FundingSource.CSR: "A company's corporate social responsibility programme.",
        },
        "FundingSource",
    )
    BeneficiarySourceEnum = graphql_enum(
        BeneficiarySource,
        "The poverty registry a beneficiary record comes from.",
        {
            BeneficiarySource.P3KE: "P3KE (Kemenko PMK, from the 2021 family census), welfare deciles "
            f"{MIN_DECILE}-{SOURCE_MAX_DECILE[BeneficiarySource.P3KE]}.",
            BeneficiarySource.DTKS: f"DTKS (Ministry of Social Affairs), deciles {MIN_DECILE}-"
            f"{SOURCE_MAX_DECILE[BeneficiarySource.DTKS]}.",
            BeneficiarySource.DTSEN: f"DTSEN (BPS, since 2025), deciles {MIN_DECILE}-"
            f"{SOURCE_MAX_DECILE[BeneficiarySource.DTSEN]}, updated quarterly.",
        },
        "BeneficiarySource",
    )
    ClaimStatusEnum = graphql_enum(
        ClaimStatus,
        "Stage of a claim. SUBMITTED → VERIFIED → APPROVED → PAID, or REJECTED at the first two stages.",
        {
            ClaimStatus.SUBMITTED: "Received, documents not yet assessed.",
            ClaimStatus.VERIFIED: "Documents assessed and complete.",
            ClaimStatus.APPROVED: "Approved for payment (by someone other than the verifier).",
            ClaimStatus.PAID: "Paid to the recipients.",
            ClaimStatus.REJECTED: "Rejected, with a reason.",
        },
        "ClaimStatus",
    )
    BenefitKindEnum = graphql_enum(
        BenefitKind,
        "Kind of a benefit line of a claim.",
        {
            BenefitKind.LUMP_SUM: "JKM lump sum (Rp20M).",
            BenefitKind.PERIODIC: "JKM periodic benefit, 24 months paid at once (Rp12M).",
            BenefitKind.FUNERAL: "JKM funeral costs (Rp10M).",
            BenefitKind.DEATH: "JKK death benefit, 48 times the monthly wage.",
            BenefitKind.DISABILITY: "JKK total permanent disability, 56 times the monthly wage.",
            BenefitKind.TEMPORARY_INABILITY: "JKK pay during temporary inability to work.",
            BenefitKind.MEDICAL: "JKK medical care (no cap).",
            BenefitKind.SCHOLARSHIP: "Education benefit for a child, per year and level.",
            BenefitKind.BALANCE: "JHT balance paid out.",
            BenefitKind.PENSION: "JP pension (monthly or lump sum).",
            BenefitKind.JOB_LOSS: "JKP cash benefit after dismissal.",
        },
        "BenefitKind",
    )
    RelationshipEnum = graphql_enum(
        Relationship,
        "How a recipient is related to the participant.",
        {
            Relationship.SELF: "The participant.",
            Relationship.SPOUSE: "Husband or wife.",
            Relationship.CHILD: "Child.",
            Relationship.PARENT: "Father or mother.",
            Relationship.SIBLING: "Brother or sister.",
            Relationship.GRANDPARENT: "Grandparent.",
            Relationship.GRANDCHILD: "Grandchild.",
            Relationship.PARENT_IN_LAW: "Father- or mother-in-law.",
            Relationship.NAMED_PERSON: "A person named by the participant.",
        },
        "Relationship",
    )
    EducationLevelEnum = graphql_enum(
        EducationLevel,
        "Education level of a scholarship child.",
        {
            EducationLevel.TK: "Kindergarten (TK).",
            EducationLevel.SD: "Primary school (SD).",
            EducationLevel.SMP: "Junior secondary school (SMP).",
            EducationLevel.SMA: "Senior secondary school (SMA/SMK).",
            EducationLevel.UNIVERSITY: "University or vocational training.",
        },
        "EducationLevel",
    )
    ClaimCauseEnum = graphql_enum(
        ClaimCause,
        "What happened; decides which benefits the programme pays.",
        {
            ClaimCause.DEATH: "The participant died (JKM; JKK when caused by work; JHT and JP to heirs).",
            ClaimCause.TOTAL_DISABILITY: "Total permanent disability.",
            ClaimCause.WORK_ACCIDENT: "Work accident or occupational disease: medical care and temporary inability.",
            ClaimCause.LEAVING_COUNTRY: "Leaving Indonesia for good (JHT, paid without the one-month wait).",
            ClaimCause.RETIREMENT: "Retirement at 56.",
            ClaimCause.RESIGNATION: "Leaving the job (JHT, after a one-month wait).",
            ClaimCause.JOB_LOSS: "Dismissal (JKP).",
        },
        "ClaimCause",
    )
    ScholarshipEndEnum = graphql_enum(
        ScholarshipEnd,
        "A declared event that ends a child's scholarship before age 23.",
        {ScholarshipEnd.MARRIED: "The child has married.", ScholarshipEnd.EMPLOYED: "The child has started work."},
        "ScholarshipEnd",
    )
