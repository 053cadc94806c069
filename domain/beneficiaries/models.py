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
    __tablename__ = "poverty_beneficiaries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    nik: Mapped[str] = mapped_column(String(16), index=True)
    family_card_number: Mapped[str | None] = mapped_column(String(16))
    full_name: Mapped[str] = mapped_column(String(200))
    birth_date: Mapped[dt.date] = mapped_column(Date)
    sex: Mapped[Sex] = mapped_column(Enum(Sex, native_enum=False, length=1, validate_strings=True))
    decile: Mapped[int] = mapped_column(SmallInteger, index=True)
    extreme_poor: Mapped[bool] = mapped_column(Boolean, index=True)
    source: Mapped[BeneficiarySource] = mapped_column(
        Enum(BeneficiarySource, native_enum=False, length=10, validate_strings=True)
    )
    snapshot_date: Mapped[dt.date] = mapped_column(Date)
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
