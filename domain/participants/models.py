"""Employers, participants and their programme enrolments."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    DDL,
    CheckConstraint,
    ColumnElement,
    Date,
    Enum,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column

from domain.db import Base, UTCDateTime, utcnow
from domain.nik import Sex
from domain.participants.phone import PHONE_NUMBER
from domain.participants.rules import Program, Segment, segment_program_check_sql
from domain.read_fields import IDENTIFIER, read_field
from domain.regions.models import PlacedMixin


class ParticipantStatus(enum.StrEnum):
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"
    DECEASED = "DECEASED"
    RETIRED = "RETIRED"


class FundingSource(enum.StrEnum):
    SELF = "SELF"
    EMPLOYER = "EMPLOYER"
    APBD = "APBD"  # regional government budget (Inpres 2/2021, 4/2022)
    APBN = "APBN"  # national budget
    CSR = "CSR"


def _enum(e: type[enum.Enum], length: int = 10) -> Enum:
    # Stored as checked strings, not native enums: portable, and adding a value is a simple migration.
    return Enum(e, native_enum=False, length=length, validate_strings=True)


class Employer(PlacedMixin, Base):
    __tablename__ = "employers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    registration_number: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    #: JKK risk class 1-5 (contribution 0.24 % .. 1.74 % of wage).
    jkk_risk_class: Mapped[int] = mapped_column(SmallInteger)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (CheckConstraint("jkk_risk_class BETWEEN 1 AND 5", name="risk_class_range"),)
    __mapper_args__ = {"version_id_col": version}


class Participant(PlacedMixin, Base):
    """An insured worker. Region columns hold where the participant is registered (not the NIK's district).

    A column the API serves says so beside it (``info=read_field(...)``, domain.read_fields): its GraphQL
    name, description and, for personal data, its treatment; the schema, the policy and the compiled reads
    derive from that one declaration.
    """

    __tablename__ = "participants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, info=read_field("id", "The global id."))
    membership_number: Mapped[str] = mapped_column(
        String(11), unique=True, info=read_field("membershipNumber", "Membership number (KPJ).")
    )
    nik: Mapped[str] = mapped_column(
        String(16),
        unique=True,
        info=read_field(
            "nik",
            "National ID (NIK), 16 digits; masked as '5271**********01' without pii:read. "
            "Every response with unmasked NIKs is recorded in the personal-data access log.",
            masked=IDENTIFIER,
        ),
    )
    full_name: Mapped[str] = mapped_column(
        String(200), info=read_field("fullName", "Full name as in the civil registry.")
    )
    birth_date: Mapped[dt.date] = mapped_column(
        Date,
        info=read_field(
            "birthDate", "Birth date; null without pii:read. Reading it is recorded in the access log.", withheld=True
        ),
    )
    sex: Mapped[Sex] = mapped_column(_enum(Sex, 1), info=read_field("sex", "Sex."))
    segment: Mapped[Segment] = mapped_column(
        _enum(Segment), index=True, info=read_field("segment", "Segment (PU, BPU, JAKON, PMI).")
    )
    #: The lifecycle: DECEASED, RETIRED, or a member (ACTIVE or INACTIVE as of the last recount, which means
    #: nothing more). The status every read shows is derived (domain.participants.status).
    status: Mapped[ParticipantStatus] = mapped_column(
        _enum(ParticipantStatus),
        info=read_field(
            "status",
            "Membership status as of today: ACTIVE when contributions are paid through the current "
            "month, INACTIVE otherwise (derived from the ledger on every read), or DECEASED or RETIRED.",
        ),
    )
    funding_source: Mapped[FundingSource] = mapped_column(
        _enum(FundingSource), index=True, info=read_field("fundingSource", "Who pays the contributions.")
    )
    employer_id: Mapped[int | None] = mapped_column(ForeignKey("employers.id"), index=True)
    monthly_wage: Mapped[Decimal | None] = mapped_column(
        Numeric(14, 2),
        info=read_field(
            "monthlyWage",
            "Reported monthly wage (or declared income) in rupiah; null without pii:read. "
            "Reading it is recorded in the access log.",
            withheld=True,
        ),
    )
    #: E.164 (+628…), parsed by domain.participants.phone; personal data (UU PDP), masked like an identifier.
    phone_number: Mapped[str | None] = mapped_column(
        String(16),
        info=read_field(
            "phoneNumber",
            "Mobile number in E.164 (+628…); masked as '+62812******89' without pii:read. "
            "Every response with unmasked phone numbers is recorded in the personal-data access log.",
            masked=PHONE_NUMBER,
        ),
    )
    #: Derived from the contribution ledger (domain.participants.ledger), never typed in: the last day of the
    #: last month paid, the number of months paid, and those among the 24 months up to the last recount.
    paid_through: Mapped[dt.date | None] = mapped_column(
        Date, info=read_field("paidThrough", "Contributions are paid through this date.")
    )
    contribution_months: Mapped[int] = mapped_column(
        Integer, default=0, info=read_field("contributionMonths", "Number of months with contributions paid.")
    )
    recent_contribution_months: Mapped[int] = mapped_column(
        Integer,
        default=0,
        server_default="0",
        info=read_field(
            "recentContributionMonths",
            "Months paid among the 24 months up to the last recount (JKP needs 12 in the 24 before a dismissal).",
        ),
    )
    #: The date of death, set when a death claim (JKK or JKM) is paid; the status is then DECEASED.
    died_on: Mapped[dt.date | None] = mapped_column(
        Date, info=read_field("diedOn", "Date of death, once a death claim has been paid.")
    )
    #: The date the participant retired (status RETIRED); cleared when the status is undone. From the end of
    #: its month the participant is no longer counted as covered, like one who died
    #: (docs/adr/0011-regulations-exactly.md §1).
    retired_on: Mapped[dt.date | None] = mapped_column(Date)
    registered_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime, default=utcnow, info=read_field("registeredAt", "When the participant was registered.")
    )
    version: Mapped[int] = mapped_column(
        Integer, default=1, info=read_field("version", "Row version, for optimistic locking (expectedVersion).")
    )

    __table_args__ = (
        CheckConstraint("monthly_wage IS NULL OR monthly_wage >= 0", name="wage_non_negative"),
        CheckConstraint("contribution_months >= 0", name="months_non_negative"),
        CheckConstraint("phone_number IS NULL OR phone_number LIKE '+628%'", name="phone_number_e164"),
        CheckConstraint("length(nik) = 16", name="nik_length"),
        CheckConstraint("segment <> 'PU' OR employer_id IS NOT NULL", name="pu_has_employer"),
        # Target of the enrolment table's composite key, so an enrolment always knows its segment.
        UniqueConstraint("id", "segment", name="uq_participants_id_segment"),
        # nameContains (ILIKE '%text%'): on PostgreSQL a trigram GIN index serves it (pg_trgm, migration
        # 20261201_0005). SQLite has no index type for it: there the search scans the region-scoped rows.
        Index(
            "ix_participants_full_name_search",
            "full_name",
            postgresql_using="gin",
            postgresql_ops={"full_name": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
        # Target of the beneficiary match, so a beneficiary is only ever linked to the participant with its NIK.
        UniqueConstraint("id", "nik", name="uq_participants_id_nik"),
        # The status filter (domain.participants.status.status_is): the lifecycle, then a paid_through range.
        Index("ix_participants_status_paid_through", "status", "paid_through"),
        Index("ix_participants_registered_at_id", "registered_at", "id"),
        Index("ix_participants_full_name_id", "full_name", "id"),
    )
    __mapper_args__ = {"version_id_col": version}


# The trigram index above needs pg_trgm; migration 20261201_0005 creates it, and this does the same for
# tables made by ``Base.metadata.create_all`` (the seed tests, bench/seed_bench.py) on PostgreSQL.
event.listen(
    Participant.__table__,
    "before_create",
    DDL("CREATE EXTENSION IF NOT EXISTS pg_trgm").execute_if(dialect="postgresql"),  # type: ignore[no-untyped-call]  # SQLAlchemy's DDL() has no annotations
)


class ParticipantProgram(Base):
    """One programme a participant holds, since a date.

    The row repeats the participant's segment (kept equal by a composite foreign key with ON UPDATE
    CASCADE) so that the database itself refuses a programme the segment cannot hold.
    """

    __tablename__ = "participant_programs"

    participant_id: Mapped[int] = mapped_column(primary_key=True)
    program: Mapped[Program] = mapped_column(_enum(Program, 3), primary_key=True, index=True)
    segment: Mapped[Segment] = mapped_column(_enum(Segment))
    since: Mapped[dt.date] = mapped_column(Date)

    __table_args__ = (
        ForeignKeyConstraint(
            ["participant_id", "segment"],
            ["participants.id", "participants.segment"],
            name="fk_participant_programs_participant_segment",
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        CheckConstraint(segment_program_check_sql(), name="segment_allows_program"),
    )


class Contribution(Base):
    """One payment in the contribution ledger: who paid which consecutive months of one participant, how much,
    with which reference.

    The participant's ``paid_through``, ``contribution_months``, ``recent_contribution_months`` and
    ACTIVE/INACTIVE status are recounted from these rows in the transaction that writes them
    (:func:`domain.participants.ledger.recompute_participant_figures`). Months are stored twice: as month
    numbers (``year * 12 + month - 1``) so that windows are integer arithmetic on every database, and as the
    dates they mean, for people reading the table; check constraints keep the two equal in length.
    """

    __tablename__ = "contributions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"))  # indexed with first_month
    first_month: Mapped[int] = mapped_column(Integer)
    last_month: Mapped[int] = mapped_column(Integer)
    months: Mapped[int] = mapped_column(Integer)
    period_from: Mapped[dt.date] = mapped_column(Date)  # the first day of the first month paid
    period_to: Mapped[dt.date] = mapped_column(Date)  # the last day of the last month paid
    #: Rupiah received; the package price times the months for payments recorded through the service
    #: (an opening balance carried over from before the ledger existed is recorded with 0).
    amount: Mapped[Decimal] = mapped_column(Numeric(16, 2))
    #: The programmes paid for, space-separated in alphabetical order (e.g. "JKK JKM").
    programs: Mapped[str] = mapped_column(String(30))
    payer: Mapped[FundingSource] = mapped_column(_enum(FundingSource), index=True)
    #: The paying agency's region, for budget payers (APBD: the province or regency whose budget paid).
    payer_region_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), index=True)
    #: The payment's reference (bank transfer, SP2D number): unique, so a payment is recorded once.
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    @property
    def reveals_wage(self) -> bool:
        """An employer's payment is a percentage of the wage, so its amount is as personal as the wage."""
        return self.payer is FundingSource.EMPLOYER

    @staticmethod
    def reveals_wage_sql(payer: ColumnElement[Any]) -> ColumnElement[bool]:
        """:attr:`reveals_wage` as a SQL condition on a `payer` column (the compiled reads' JSON statements)."""
        return payer == FundingSource.EMPLOYER

    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by: Mapped[str] = mapped_column(String(200))
    #: The contribution rule (domain.participants.contributions) the amount was checked against.
    price_rule: Mapped[str | None] = mapped_column(String(40))

    __table_args__ = (
        CheckConstraint("months > 0", name="months_positive"),
        CheckConstraint("last_month - first_month + 1 = months", name="months_consistent"),
        CheckConstraint("period_from <= period_to", name="period_ordered"),
        CheckConstraint("amount >= 0", name="amount_non_negative"),
        CheckConstraint("payer <> 'APBD' OR payer_region_code IS NOT NULL", name="apbd_has_region"),
        Index("ix_contributions_participant_id_first_month", "participant_id", "first_month"),
    )
