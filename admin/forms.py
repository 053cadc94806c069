"""The console's forms (WTForms): what a person can type, before the domain checks it for real.

Validators here only catch what needs no database (a missing field, a number that is not one); every rule
lives in the domain function the form's view calls, and its problems come back onto the fields. Every form
carries the CSRF token; every correction form also carries the version the person read and a required
reason (code and note), which end up in the audit event.
"""

from __future__ import annotations

from typing import Any

from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    Form,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from auth.passwords import MIN_PASSWORD_LENGTH
from auth.scopes import Scope
from domain.beneficiaries.models import MAX_DECILE, MIN_DECILE
from domain.claims.models import ClaimStatus
from domain.nik import Sex
from domain.participants.models import FundingSource, ParticipantStatus
from domain.participants.phone import MAX_INPUT_LENGTH
from domain.participants.rules import JKK_RISK_CLASS_MAX, JKK_RISK_CLASS_MIN, Program, Segment
from domain.text import MAX_NOTE_LENGTH
from domain.writes.reasons import REASON_LABELS

_INPUT = {"class": "form-control"}
_SELECT = {"class": "form-select"}
_CHECK = {"class": "form-check-input"}


def _choices(enum_type: Any) -> list[tuple[str, str]]:
    return [(e.value, e.value) for e in enum_type]


def _text(label: str, *, required: bool = True, max_length: int = 200, description: str = "") -> StringField:
    checks = [InputRequired(), Length(max=max_length)] if required else [Optional(), Length(max=max_length)]
    return StringField(label, validators=checks, render_kw=dict(_INPUT), description=description)


def _select(label: str, choices: list[tuple[str, str]], *, required: bool = True) -> SelectField:
    options = choices if required else [("", "(unchanged)"), *choices]
    return SelectField(label, choices=options, validators=[InputRequired()] if required else [], render_kw=_SELECT)


def _date(label: str, *, required: bool = True) -> DateField:
    return DateField(label, validators=[InputRequired()] if required else [Optional()], render_kw=dict(_INPUT))


class ConsoleForm(Form):  # type: ignore[misc]  # wtforms ships no type information
    csrf_token = HiddenField()


def _with_reason(name: str, fields: type[Form]) -> type[Form]:
    """`fields` as a correction form: the version read, then (after the data fields) the reason."""
    reasons = [("", "(choose)"), *((code.value, label) for code, label in REASON_LABELS.items())]
    extra = {
        "version": HiddenField(validators=[InputRequired()]),
        "reason_code": SelectField(
            "Reason for the correction",
            choices=reasons,
            validators=[InputRequired(message="Choose the kind of correction.")],
            render_kw=_SELECT,
        ),
        "reason": TextAreaField(
            "Note",
            validators=[
                InputRequired(message="Say what happened (e.g. the document you checked)."),
                Length(max=MAX_NOTE_LENGTH),
            ],
            render_kw={"class": "form-control", "rows": 3},
            description="Goes to the audit trail with the values before and after.",
        ),
    }
    return type(name, (fields,), extra)


# -- participants ------------------------------------------------------------------------------------------
def _phone_number_field(*, removable: bool) -> StringField:
    how = "08…, +628… or 628…, spaces and dashes allowed; stored as +628…"
    return _text(
        "Mobile number",
        required=False,
        max_length=MAX_INPUT_LENGTH,
        description=how + ("; empty the field to remove the number." if removable else "."),
    )


class _ParticipantFields(ConsoleForm):
    full_name = _text("Full name")
    nik = _text("NIK", max_length=32, description="16 digits: district, birth date (day + 40 for women), serial.")
    birth_date = _date("Birth date")
    sex = _select("Sex", _choices(Sex))
    status = _select("Status", _choices(ParticipantStatus))
    funding_source = _select("Funding", _choices(FundingSource))
    region_code = _text("Village code", max_length=20, description="Kemendagri village code, e.g. 52.71.01.1001.")
    monthly_wage = DecimalField("Monthly wage (Rp)", validators=[Optional()], places=2, render_kw=dict(_INPUT))
    phone_number = _phone_number_field(removable=True)
    programs = SelectMultipleField(
        "Programmes", choices=_choices(Program), render_kw={"class": "form-select", "size": 5}
    )


ParticipantEditForm = _with_reason("ParticipantEditForm", _ParticipantFields)


class ParticipantCreateForm(ConsoleForm):
    nik = _text("NIK", max_length=32, description="16 digits: district, birth date (day + 40 for women), serial.")
    full_name = _text("Full name")
    birth_date = _date("Birth date")
    sex = _select("Sex", _choices(Sex))
    segment = _select("Segment", _choices(Segment))
    funding_source = _select("Funding", _choices(FundingSource))
    region_code = _text("Village code", max_length=20, description="Kemendagri village code, e.g. 52.71.01.1001.")
    programs = SelectMultipleField(
        "Programmes", choices=_choices(Program), default=["JKK", "JKM"], render_kw={"class": "form-select", "size": 5}
    )
    employer_registration_number = _text("Employer registration number", required=False, max_length=20)
    monthly_wage = DecimalField("Monthly wage (Rp)", validators=[Optional()], places=2, render_kw=dict(_INPUT))
    phone_number = _phone_number_field(removable=False)


# -- employers ---------------------------------------------------------------------------------------------
class _EmployerFields(ConsoleForm):
    registration_number = _text("Registration number (NPP)", max_length=20)
    name = _text("Name")
    jkk_risk_class = IntegerField(
        "JKK risk class",
        validators=[InputRequired(), NumberRange(JKK_RISK_CLASS_MIN, JKK_RISK_CLASS_MAX)],
        render_kw=dict(_INPUT),
    )
    region_code = _text("Village code", max_length=20)


EmployerEditForm = _with_reason("EmployerEditForm", _EmployerFields)
EmployerCreateForm = _EmployerFields


# -- poverty beneficiaries ---------------------------------------------------------------------------------
class _BeneficiaryFields(ConsoleForm):
    full_name = _text("Full name")
    family_card_number = _text("Family card (KK) number", required=False, max_length=32)
    birth_date = _date("Birth date")
    sex = _select("Sex", _choices(Sex))
    decile = IntegerField(
        "Welfare decile", validators=[InputRequired(), NumberRange(MIN_DECILE, MAX_DECILE)], render_kw=dict(_INPUT)
    )
    extreme_poor = BooleanField("Extreme poor", render_kw=_CHECK)
    region_code = _text("Village code", max_length=20)


BeneficiaryEditForm = _with_reason("BeneficiaryEditForm", _BeneficiaryFields)


# -- region figures ----------------------------------------------------------------------------------------
class _FigureValues(ConsoleForm):
    employed_population = IntegerField(
        "Employed population (BPS)", validators=[Optional(), NumberRange(min=0)], render_kw=dict(_INPUT)
    )
    ucj_target = DecimalField(
        "UCJ target",
        validators=[Optional(), NumberRange(0, 1)],
        places=4,
        render_kw=dict(_INPUT),
        description="A share of the employed population: 0.62 for 62 %.",
    )


FigureEditForm = _with_reason("FigureEditForm", _FigureValues)


class FigureCreateForm(ConsoleForm):
    region_code = _text("Region code", max_length=20, description="Province, regency, district or village code.")
    year = IntegerField("Year", validators=[InputRequired(), NumberRange(2000, 2100)], render_kw=dict(_INPUT))
    employed_population = IntegerField(
        "Employed population (BPS)", validators=[Optional(), NumberRange(min=0)], render_kw=dict(_INPUT)
    )
    ucj_target = DecimalField(
        "UCJ target", validators=[Optional(), NumberRange(0, 1)], places=4, render_kw=dict(_INPUT)
    )
    reason = TextAreaField(
        "Source or note", validators=[Optional(), Length(max=MAX_NOTE_LENGTH)], render_kw=dict(_INPUT)
    )


# -- users and partner clients -----------------------------------------------------------------------------
class UserCreateForm(ConsoleForm):
    username = _text("Username", max_length=64)
    password = PasswordField(
        "Password",
        validators=[InputRequired(), Length(min=MIN_PASSWORD_LENGTH, max=1024)],
        render_kw={"class": "form-control", "autocomplete": "new-password"},
        description=f"At least {MIN_PASSWORD_LENGTH} characters.",
    )
    role = _select("Role", [("officer", "officer"), ("analyst", "analyst"), ("auditor", "auditor"), ("admin", "admin")])
    region_code = _text("Region", required=False, max_length=20, description="Officers and analysts: e.g. 52.71.")


class ClientCreateForm(ConsoleForm):
    name = _text("Partner name")
    scopes = SelectMultipleField(
        "Scopes", choices=_choices(Scope), validators=[InputRequired()], render_kw={"class": "form-select", "size": 11}
    )
    region_code = _text("Region", required=False, max_length=20, description="Empty for a national partner.")


# -- claim workflow ----------------------------------------------------------------------------------------
#: What each workflow button needs typed in, and the status it leads to.
WORKFLOW_INPUTS: dict[str, tuple[str, str, bool, ClaimStatus]] = {
    "verify": ("note", "Note (optional)", False, ClaimStatus.VERIFIED),
    "approve": ("note", "Note (optional)", False, ClaimStatus.APPROVED),
    "pay": ("payment_reference", "Payment reference", True, ClaimStatus.PAID),
    "reject": ("reason", "Reason for rejection", True, ClaimStatus.REJECTED),
}
