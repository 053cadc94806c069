"""Every model, imported once so that ``Base.metadata`` is complete (Alembic and table creation use it)."""

from domain.audit import AuditChainHead, AuditEvent, DataAccessEvent
from domain.beneficiaries import PovertyBeneficiary
from domain.claims import Claim, ClaimBenefit, ClaimEvent
from domain.db import Base
from domain.participants import Employer, Participant, ParticipantProgram
from domain.regions import Region, RegionYearFigure

__all__ = [
    "AuditChainHead",
    "AuditEvent",
    "Base",
    "Claim",
    "ClaimBenefit",
    "ClaimEvent",
    "DataAccessEvent",
    "Employer",
    "Participant",
    "ParticipantProgram",
    "PovertyBeneficiary",
    "Region",
    "RegionYearFigure",
]
