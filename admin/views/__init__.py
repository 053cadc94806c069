"""The console's views, in menu order."""

from __future__ import annotations

from admin.views.audit import AuditEventView
from admin.views.base import ConsoleView
from admin.views.beneficiaries import BeneficiaryView
from admin.views.claims import ClaimView
from admin.views.contributions import ContributionView
from admin.views.documents import TrustedDocumentView
from admin.views.identity import ClientView, UserView
from admin.views.jobs import JobView
from admin.views.participants import EmployerView, ParticipantView
from admin.views.regions import RegionFigureView, RegionView

VIEWS: list[type[ConsoleView]] = [
    ParticipantView,
    EmployerView,
    ContributionView,
    BeneficiaryView,
    ClaimView,
    JobView,
    RegionView,
    RegionFigureView,
    UserView,
    ClientView,
    TrustedDocumentView,
    AuditEventView,
]

__all__ = ["VIEWS", "ConsoleView"]
