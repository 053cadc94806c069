"""Poverty beneficiaries: people on the extreme-poverty target lists (P3KE, DTKS, DTSEN).

The decile is stored as the source registry gives it, and the extreme-poor flag explicitly, not derived:
P3KE and DTKS use deciles 1-4, DTSEN 1-10, and "extreme poor" is the registry's call. A beneficiary is
matched to a participant by NIK; the link is a composite foreign key on (participant id, NIK), so it can
only ever point at the participant holding the same NIK.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    Enum,
    ForeignKeyConstraint,
    Index,
    Integer,
    SmallInteger,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from domain.db import Base
from domain.nik import Sex
from domain.read_fields import IDENTIFIER, read_field
from domain.regions.models import PlacedMixin


class BeneficiarySource(enum.StrEnum):
    P3KE = "P3KE"  # Kemenko PMK, from the 2021 family census, deciles 1-4
    DTKS = "DTKS"  # Ministry of Social Affairs, deciles 1-4
    DTSEN = "DTSEN"  # BPS, since 2025, deciles 1-10


#: Highest decile each source publishes.
SOURCE_MAX_DECILE = {BeneficiarySource.P3KE: 4, BeneficiarySource.DTKS: 4, BeneficiarySource.DTSEN: 10}
#: The poorest decile, and the widest range any registry publishes: filters, forms and checks read these.
MIN_DECILE = 1
MAX_DECILE = max(SOURCE_MAX_DECILE.values())


#: A person can appear in several registries and snapshots: the row with the greatest of these columns, in this
#: order, speaks for them (the DataLoaders and the compiled reads both pick by it).
LATEST_SNAPSHOT = ("snapshot_date", "id")


class PovertyBeneficiary(PlacedMixin, Base):
    """One person in one registry snapshot.

    A column the API serves says so beside it (``info=read_field(...)``, domain.read_fields): its GraphQL
    name, description and, for personal data (UU PDP), whether it is masked or withheld without ``pii:read``.
    The GraphQL type, the compiled reads, the console and the access log all follow these declarations.
    """

    __tablename__ = "poverty_beneficiaries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, info=read_field("id", "The global id."))
    nik: Mapped[str] = mapped_column(
        String(16),
        index=True,
        info=read_field(
            "nik",
            "National ID; masked without pii:read. Unmasked reads are recorded in the access log.",
            masked=IDENTIFIER,
        ),
    )
    family_card_number: Mapped[str | None] = mapped_column(
        String(16),
        info=read_field(
            "familyCardNumber",
            "Family card (KK) number; masked without pii:read. Changes when a family moves or splits; "
            "unmasked reads are recorded in the access log.",
            masked=IDENTIFIER,
        ),
    )
    full_name: Mapped[str] = mapped_column(
        String(200), info=read_field("fullName", "Full name as the registry gives it.")
    )
    birth_date: Mapped[dt.date] = mapped_column(
        Date,
        info=read_field(
            "birthDate", "Birth date; null without pii:read. Reading it is recorded in the access log.", withheld=True
        ),
    )
    sex: Mapped[Sex] = mapped_column(
        Enum(Sex, native_enum=False, length=1, validate_strings=True), info=read_field("sex", "Sex.")
    )
    decile: Mapped[int] = mapped_column(
        SmallInteger,
        index=True,
        info=read_field(
            "decile",
            f"Welfare decile as the source gives it ({MIN_DECILE} = poorest; "
            + " or ".join(f"{MIN_DECILE}-{top}" for top in sorted(set(SOURCE_MAX_DECILE.values())))
            + ").",
        ),
    )
    extreme_poor: Mapped[bool] = mapped_column(
        Boolean, index=True, info=read_field("extremePoor", "The registry's extreme-poverty flag (Inpres 4/2022).")
    )
    source: Mapped[BeneficiarySource] = mapped_column(
        Enum(BeneficiarySource, native_enum=False, length=10, validate_strings=True),
        info=read_field("source", "The registry the record comes from."),
    )
    snapshot_date: Mapped[dt.date] = mapped_column(
        Date, info=read_field("snapshotDate", "Date of the registry snapshot.")
    )
    # Served as the derived ``enrolled`` (whether it is set), not as a column of its own.
    participant_id: Mapped[int | None] = mapped_column(Integer, index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (
        CheckConstraint("decile BETWEEN 1 AND 10", name="decile_range"),
        CheckConstraint("source = 'DTSEN' OR decile <= 4", name="decile_within_source"),
        CheckConstraint("length(nik) = 16", name="nik_length"),
        ForeignKeyConstraint(
            ["participant_id", "nik"],
            ["participants.id", "participants.nik"],
            name="fk_poverty_beneficiaries_participant_nik",
        ),
        # One row per person per registry snapshot.
        Index("uq_poverty_beneficiaries_nik_source_snapshot", "nik", "source", "snapshot_date", unique=True),
    )
    __mapper_args__ = {"version_id_col": version}
