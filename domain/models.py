"""Every model, imported once so that ``Base.metadata`` is complete (Alembic and table creation use it)."""

from domain.audit.models import AuditChainHead, AuditEvent, DataAccessEvent
from domain.beneficiaries.models import PovertyBeneficiary
from domain.claims.models import Claim, ClaimBenefit, ClaimEvent
from domain.db import Base
from domain.documents.models import TrustedDocument, TrustedDocumentClient
from domain.identity.models import AuthorizationCode, OAuthClient, RefreshToken, RevokedToken, SigningKey, User
from domain.jobs.models import Job, JobKey
from domain.monev.rollup_tables import BudgetMonth, ParticipantMonth, PoorMonth, ProgramMonth, RollupState
from domain.monev.rollups import install_triggers
from domain.participants.models import Contribution, Employer, Participant, ParticipantProgram
from domain.regions.models import Region, RegionYearFigure

__all__ = [
    "AuditChainHead",
    "AuditEvent",
    "AuthorizationCode",
    "Base",
    "BudgetMonth",
    "Claim",
    "ClaimBenefit",
    "ClaimEvent",
    "Contribution",
    "DataAccessEvent",
    "Employer",
    "Job",
    "JobKey",
    "OAuthClient",
    "Participant",
    "ParticipantMonth",
    "ParticipantProgram",
    "PoorMonth",
    "PovertyBeneficiary",
    "ProgramMonth",
    "RefreshToken",
    "Region",
    "RegionYearFigure",
    "RevokedToken",
    "RollupState",
    "SigningKey",
    "TrustedDocument",
    "TrustedDocumentClient",
    "User",
    "install_triggers",
]
