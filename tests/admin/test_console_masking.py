"""The console masks by the same rule set as the API: identifiers, birth dates, wages, and the claim amounts
and benefit lines that are multiples of a wage (JKK, JKP), in lists, details, exports and the audit trail."""

from __future__ import annotations

from decimal import Decimal

from starlette.requests import Request

from admin.access_log import console_reads
from admin.display import HIDDEN, changes_shown, shown_in_console
from admin.views.audit import AuditEventView
from admin.views.claims import ClaimView
from admin.views.contributions import ContributionView
from auth.policy import PERSONAL_COLUMNS, PERSONAL_FIELDS, WAGE_DERIVED_FIELDS, Treatment
from auth.principal import Principal, PrincipalKind
from auth.scopes import ROLE_SCOPES, Role, Scope
from domain.audit.models import AuditEvent
from domain.claims.benefits import WAGE_BASED_PROGRAMS
from domain.claims.models import Claim, ClaimBenefit
from domain.participants.models import Contribution, FundingSource
from domain.participants.rules import Program
from domain.regions.rules import RegionCode

REGION = RegionCode.parse("52.71")
WITH_PII = Principal("user:x", PrincipalKind.USER, ROLE_SCOPES[Role.OFFICER], frozenset({Role.OFFICER}), REGION)
WITHOUT_PII = Principal(
    "user:y", PrincipalKind.USER, ROLE_SCOPES[Role.OFFICER] - {Scope.PII_READ}, frozenset({Role.OFFICER}), REGION
)
ADMIN_WITHOUT_PII = Principal("user:z", PrincipalKind.USER, frozenset({Scope.AUDIT_READ}), frozenset({Role.ADMIN}))


def _request_as(principal: Principal) -> Request:
    request = Request({"type": "http", "method": "GET", "path": "/", "headers": [], "state": {}})
    request.state.console_principal = principal
    return request


def test_wage_based_claim_amounts_are_hidden_without_pii_read() -> None:
    view = ClaimView()
    assert WAGE_BASED_PROGRAMS, "some programme pays wage-based benefits"
    for program in Program:
        claim = Claim(program=program, amount_approved=Decimal("12500000"))
        wage_based = program in WAGE_BASED_PROGRAMS
        without = view.export_value(claim, "amount_approved", _request_as(WITHOUT_PII))
        assert without == (HIDDEN if wage_based else "12500000"), program
        assert view.export_value(claim, "amount_approved", _request_as(WITH_PII)) == "12500000"


def test_employer_contributions_are_hidden_without_pii_read() -> None:
    view = ContributionView()
    for payer in FundingSource:
        payment = Contribution(payer=payer, amount=Decimal("350000"))
        without = view.export_value(payment, "amount", _request_as(WITHOUT_PII))
        assert without == (HIDDEN if payer is FundingSource.EMPLOYER else "350000"), payer
        assert view.export_value(payment, "amount", _request_as(WITH_PII)) == "350000"


def test_benefit_lines_follow_the_claims_programme() -> None:
    line = ClaimBenefit(amount=Decimal("3000000"), recipient_nik="5271064603890001")
    wage_based = next(iter(WAGE_BASED_PROGRAMS))
    assert shown_in_console(WITHOUT_PII, line, "amount", wage_based) == HIDDEN
    assert shown_in_console(WITHOUT_PII, line, "amount", Program.JHT) == "3000000"
    assert shown_in_console(WITH_PII, line, "amount", wage_based) == "3000000"
    assert shown_in_console(WITHOUT_PII, line, "recipient_nik", Program.JHT) == "5271**********01"
    assert shown_in_console(WITH_PII, line, "recipient_nik", Program.JHT) == "5271064603890001"
    line.recipient_nik = None
    assert shown_in_console(WITHOUT_PII, line, "recipient_nik", Program.JHT) == ""


def test_audit_changes_in_the_console_are_masked_like_the_api() -> None:
    changes = {
        "nik": {"before": "5271064603890001", "after": "5271064603890002"},
        "birth_date": {"before": "1989-03-06", "after": "1989-03-07"},
        "benefits": {"before": None, "after": [{"kind": "DEATH", "recipient_nik": "5271064603890001"}]},
        "full_name": {"before": "Ifa", "after": "Ifa Rahma"},
        "amount_approved": {"before": None, "after": "72000000"},  # JKK death: 48 x the wage
    }
    event = AuditEvent(id=7, changes=changes)
    request = _request_as(ADMIN_WITHOUT_PII)
    shown = changes_shown(request, event)
    assert shown["nik"] == {"before": "5271**********01", "after": "5271**********02"}
    assert shown["birth_date"] == {"before": None, "after": None}
    assert shown["benefits"]["after"][0]["recipient_nik"] == "5271**********01"
    assert shown["full_name"] == changes["full_name"]
    assert shown["amount_approved"] == {"before": None, "after": None}  # the trail need not say the programme
    assert not console_reads(request)  # nothing shown in full: nothing for the access log
    exported = AuditEventView().export_value(event, "changes", _request_as(ADMIN_WITHOUT_PII))
    assert "5271064603890001" not in exported
    assert "5271**********01" in exported


def test_the_graphql_and_audit_tables_are_derived_from_one_rule_set() -> None:
    assert PERSONAL_FIELDS == {
        "Participant": {
            "nik": Treatment.MASKED,
            "birthDate": Treatment.WITHHELD,
            "monthlyWage": Treatment.WITHHELD,
            "phoneNumber": Treatment.MASKED,
        },
        "PovertyBeneficiary": {
            "nik": Treatment.MASKED,
            "familyCardNumber": Treatment.MASKED,
            "birthDate": Treatment.WITHHELD,
        },
        "Claim": {"benefits.recipientNik": Treatment.MASKED},
    }
    assert WAGE_DERIVED_FIELDS == {
        "Claim": {"amountApproved": Treatment.WITHHELD, "benefits.amount": Treatment.WITHHELD},
        "Contribution": {"amount": Treatment.WITHHELD},
    }
    assert set(PERSONAL_COLUMNS) == {
        "nik",
        "family_card_number",
        "recipient_nik",
        "birth_date",
        "monthly_wage",
        "phone_number",
    }
