"""Claims: the claim, its benefit lines, its status history, and the status transition table."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from domain.db import Base, UTCDateTime, utcnow
from domain.participants.rules import Program
from domain.read_fields import read_field
from domain.regions.models import PlacedMixin


class ClaimStatus(enum.StrEnum):
    SUBMITTED = "SUBMITTED"  # received
    VERIFIED = "VERIFIED"  # documents assessed
    APPROVED = "APPROVED"
    PAID = "PAID"
    REJECTED = "REJECTED"


#: The only status changes there are. Rejection is possible at the first two stages, with a reason.
TRANSITIONS: dict[ClaimStatus, frozenset[ClaimStatus]] = {
    ClaimStatus.SUBMITTED: frozenset({ClaimStatus.VERIFIED, ClaimStatus.REJECTED}),
    ClaimStatus.VERIFIED: frozenset({ClaimStatus.APPROVED, ClaimStatus.REJECTED}),
    ClaimStatus.APPROVED: frozenset({ClaimStatus.PAID}),
    ClaimStatus.PAID: frozenset(),
    ClaimStatus.REJECTED: frozenset(),
}


class ClaimCause(enum.StrEnum):
    """What happened: decides which benefits a claim on a programme pays."""

    DEATH = "DEATH"
    TOTAL_DISABILITY = "TOTAL_DISABILITY"
    WORK_ACCIDENT = "WORK_ACCIDENT"  # medical care and temporary inability (JKK)
    RETIREMENT = "RETIREMENT"
    RESIGNATION = "RESIGNATION"  # leaving the job (JHT, after a one-month wait)
    LEAVING_COUNTRY = "LEAVING_COUNTRY"  # leaving Indonesia for good (JHT, no wait)
    JOB_LOSS = "JOB_LOSS"  # dismissal (JKP)


#: The causes each programme pays for.
PROGRAM_CAUSES: dict[Program, frozenset[ClaimCause]] = {
    Program.JKM: frozenset({ClaimCause.DEATH}),
    Program.JKK: frozenset({ClaimCause.DEATH, ClaimCause.TOTAL_DISABILITY, ClaimCause.WORK_ACCIDENT}),
    Program.JHT: frozenset(
        {
            ClaimCause.RETIREMENT,
            ClaimCause.RESIGNATION,
            ClaimCause.LEAVING_COUNTRY,
            ClaimCause.DEATH,
            ClaimCause.TOTAL_DISABILITY,
        }
    ),
    Program.JP: frozenset({ClaimCause.RETIREMENT, ClaimCause.DEATH, ClaimCause.TOTAL_DISABILITY}),
    Program.JKP: frozenset({ClaimCause.JOB_LOSS}),
}


class InvalidTransition(ValueError):
    """A status change the workflow does not have."""


def check_transition(current: ClaimStatus, target: ClaimStatus) -> None:
    """Raise unless `current` → `target` is in :data:`TRANSITIONS`, saying what is possible instead."""
    if target not in TRANSITIONS[current]:
        possible = ", ".join(sorted(s.value for s in TRANSITIONS[current])) or "nothing (it is final)"
        raise InvalidTransition(f"a {current.value} claim cannot become {target.value}; it can become {possible}")


class BenefitKind(enum.StrEnum):
    LUMP_SUM = "LUMP_SUM"
    PERIODIC = "PERIODIC"
    FUNERAL = "FUNERAL"
    DEATH = "DEATH"  # JKK death benefit, 48 x wage
    DISABILITY = "DISABILITY"
    TEMPORARY_INABILITY = "TEMPORARY_INABILITY"
    MEDICAL = "MEDICAL"
    SCHOLARSHIP = "SCHOLARSHIP"
    BALANCE = "BALANCE"  # JHT balance paid out
    PENSION = "PENSION"
    JOB_LOSS = "JOB_LOSS"


class Relationship(enum.StrEnum):
    SELF = "SELF"
    SPOUSE = "SPOUSE"
    CHILD = "CHILD"
    PARENT = "PARENT"
    SIBLING = "SIBLING"
    GRANDPARENT = "GRANDPARENT"
    GRANDCHILD = "GRANDCHILD"
    PARENT_IN_LAW = "PARENT_IN_LAW"
    NAMED_PERSON = "NAMED_PERSON"


class ScholarshipEnd(enum.StrEnum):
    """A declared event that ends a child's scholarship before age 23."""

    MARRIED = "MARRIED"
    EMPLOYED = "EMPLOYED"


class EducationLevel(enum.StrEnum):
    TK = "TK"  # kindergarten
    SD = "SD"  # primary
    SMP = "SMP"  # junior secondary
    SMA = "SMA"  # senior secondary
    UNIVERSITY = "UNIVERSITY"  # university or vocational training


def _enum(e: type[enum.Enum], length: int = 20) -> Enum:
    return Enum(e, native_enum=False, length=length, validate_strings=True)


class Claim(PlacedMixin, Base):
    """A benefit claim. Its region columns copy the participant's at submission, for scoping and aggregates.

    A column the API serves says so beside it (``info=read_field(...)``, domain.read_fields); the GraphQL type
    and the compiled reads follow it. The approved amount reveals a wage on some programmes: that rule is the
    policy's (``auth.policy.WAGE_DERIVED_DATA``), by the row's programme.
    """

    __tablename__ = "claims"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, info=read_field("id", "The global id."))
    claim_number: Mapped[str] = mapped_column(
        String(20), unique=True, info=read_field("claimNumber", "Claim number shown to the participant.")
    )
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    program: Mapped[Program] = mapped_column(
        _enum(Program, 3), index=True, info=read_field("program", "Programme claimed on.")
    )
    status: Mapped[ClaimStatus] = mapped_column(
        _enum(ClaimStatus, 10), index=True, info=read_field("status", "Current stage.")
    )
    incident_date: Mapped[dt.date] = mapped_column(
        Date, info=read_field("incidentDate", "Date of the death, accident, dismissal or retirement.")
    )
    submitted_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime, default=utcnow, info=read_field("submittedAt", "When the claim was received.")
    )
    # Indexed: the Monev claim figures read one month's payments by this column (domain.monev.figures).
    paid_at: Mapped[dt.datetime | None] = mapped_column(
        UTCDateTime, index=True, info=read_field("paidAt", "When it was paid.")
    )
    amount_approved: Mapped[Decimal | None] = mapped_column(
        Numeric(16, 2),
        info=read_field(
            "amountApproved",
            "Total approved, in rupiah; null without pii:read for JKK and JKP claims, whose amounts are "
            "multiples of the wage.",
        ),
    )
    payment_reference: Mapped[str | None] = mapped_column(String(64))
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    #: Subjects of the principals who verified and approved: separation of duties is checked against these.
    verified_by: Mapped[str | None] = mapped_column(String(200))
    approved_by: Mapped[str | None] = mapped_column(String(200))
    idempotency_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    version: Mapped[int] = mapped_column(
        Integer, default=1, info=read_field("version", "Row version, for optimistic locking (expectedVersion).")
    )

    __table_args__ = (
        CheckConstraint("amount_approved IS NULL OR amount_approved >= 0", name="amount_non_negative"),
        CheckConstraint("status <> 'PAID' OR paid_at IS NOT NULL", name="paid_has_date"),
        CheckConstraint("status <> 'REJECTED' OR rejection_reason IS NOT NULL", name="rejected_has_reason"),
        Index("ix_claims_submitted_at_id", "submitted_at", "id"),
    )
    __mapper_args__ = {"version_id_col": version}


class ClaimBenefit(Base):
    """One line of a claim's benefit: what kind, to whom, how much."""

    __tablename__ = "claim_benefits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"), index=True)
    kind: Mapped[BenefitKind] = mapped_column(_enum(BenefitKind))
    recipient_name: Mapped[str | None] = mapped_column(String(200))
    recipient_nik: Mapped[str | None] = mapped_column(String(16))
    relationship: Mapped[Relationship | None] = mapped_column(_enum(Relationship))
    education_level: Mapped[EducationLevel | None] = mapped_column(_enum(EducationLevel))
    amount: Mapped[Decimal] = mapped_column(Numeric(16, 2))
    #: The benefit rule (domain.claims.benefits) the amount came from.
    rule_id: Mapped[str | None] = mapped_column(String(40))

    __table_args__ = (
        CheckConstraint("amount >= 0", name="amount_non_negative"),
        CheckConstraint("kind <> 'SCHOLARSHIP' OR education_level IS NOT NULL", name="scholarship_has_level"),
    )


class ClaimEvent(Base):
    """One step of a claim's status history (append-only)."""

    __tablename__ = "claim_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"), index=True)
    status: Mapped[ClaimStatus] = mapped_column(_enum(ClaimStatus, 10))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
