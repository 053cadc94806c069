"""importBeneficiaries over the GraphQL multipart request spec, and enrollBeneficiaries for a whole list."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from api.app import create_app
from api.settings import Settings
from domain.audit.models import AuditEvent
from domain.beneficiaries.models import PovertyBeneficiary
from domain.participants.models import Participant
from domain.regions.models import Region
from domain.regions.rules import RegionLevel
from tests.conftest import AUDIENCE, ISSUER, body_reads_counted
from tests.imports.conftest import csv_text, person

IMPORT = """mutation($file: Upload!, $dryRun: Boolean, $skip: Boolean) {
  importBeneficiaries(file: $file, dryRun: $dryRun, skipInvalid: $skip) {
    imported updated unchanged rejected linked read written dryRun sha256 errorCount notes
    errors { row column value code message } } }"""

ENROL = """mutation($filter: EnrollBeneficiariesFilter!, $dryRun: Boolean, $funding: FundingSource) {
  enrollBeneficiaries(filter: $filter, dryRun: $dryRun, funding: $funding) {
    matched created linked unchanged refused monthlyCost more dryRun
    reasons { code count } errors { beneficiaryId code message } } }"""


async def upload(
    client: httpx.AsyncClient,
    content: bytes | str,
    caller: Any,
    *,
    filename: str = "list.csv",
    dry_run: bool = False,
    skip: bool = False,
    status: int = 200,
) -> dict[str, Any]:
    data = content.encode() if isinstance(content, str) else content
    operations = {"query": IMPORT, "variables": {"file": None, "dryRun": dry_run, "skip": skip}}
    response = await client.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
        files={"0": (filename, data, "text/csv")},
        headers=caller.headers,
    )
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


async def _count(writes: Any, model: Any) -> int:
    async with writes.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(model))).scalar_one())


async def test_an_officer_uploads_a_list_of_their_region(writes: Any, staff: dict[str, Any]) -> None:
    rows = [person(), person()]
    before = await _count(writes, PovertyBeneficiary)
    dry = (await upload(writes.client, csv_text(rows), staff["officer_5203"], dry_run=True))["data"]
    assert dry["importBeneficiaries"]["imported"] == 2
    assert dry["importBeneficiaries"]["written"] is False
    assert await _count(writes, PovertyBeneficiary) == before
    body = await upload(writes.client, csv_text(rows), staff["officer_5203"])
    payload = body["data"]["importBeneficiaries"]
    assert (payload["imported"], payload["rejected"], payload["written"], payload["errors"]) == (2, 0, True, [])
    assert len(payload["sha256"]) == 64
    assert await _count(writes, PovertyBeneficiary) == before + 2
    again = (await upload(writes.client, csv_text(rows), staff["officer_5203"]))["data"]["importBeneficiaries"]
    assert (again["imported"], again["unchanged"]) == (0, 2)


async def test_bad_rows_come_back_with_row_and_column_and_nothing_is_written(
    writes: Any, staff: dict[str, Any]
) -> None:
    rows = [person(), person(desil="11"), person(district="52.71.01", village="52.71.01.1004")]
    before = await _count(writes, PovertyBeneficiary), await _count(writes, AuditEvent)
    payload = (await upload(writes.client, csv_text(rows), staff["officer_5203"]))["data"]["importBeneficiaries"]
    assert payload["written"] is False
    assert [(e["row"], e["column"], e["code"]) for e in payload["errors"]] == [
        (3, "desil", "OUT_OF_RANGE"),
        (4, "kode_wilayah", "OUT_OF_REGION"),
    ]
    assert (payload["rejected"], payload["errorCount"]) == (2, 2)
    assert (await _count(writes, PovertyBeneficiary), await _count(writes, AuditEvent)) == before
    skipped = (await upload(writes.client, csv_text(rows), staff["officer_5203"], skip=True))["data"]
    assert skipped["importBeneficiaries"]["imported"] == 1


async def test_a_caller_without_pii_read_gets_masked_niks_in_errors(writes: Any, staff: dict[str, Any]) -> None:
    row = person()
    payload = (await upload(writes.client, csv_text([row, row]), staff["dinsos_5203"]))["data"]["importBeneficiaries"]
    values = [e["value"] for e in payload["errors"]]
    assert row["nik"] not in json.dumps(payload)
    assert [e["code"] for e in payload["errors"]] == ["DUPLICATE_ROW"]
    assert values == [row["nik"][:4] + "*" * 10 + row["nik"][-2:]]


async def test_scope_and_authentication_are_required(writes: Any, staff: dict[str, Any]) -> None:
    analyst = await upload(writes.client, csv_text([person()]), staff["analyst_5203"])
    assert analyst["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    anonymous = await upload(writes.client, csv_text([person()]), type("Anon", (), {"headers": {}})())
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_not_a_file_and_wrong_argument_types(writes: Any, staff: dict[str, Any]) -> None:
    not_a_file = await writes.gql(IMPORT, {"file": "nik,nama\n1,2", "dryRun": True}, staff["officer_5203"])
    assert not_a_file["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    wrong_type = await writes.gql(IMPORT, {"file": None, "dryRun": "yes"}, staff["officer_5203"])
    assert wrong_type["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_an_xlsx_that_is_really_a_csv_is_refused(writes: Any, staff: dict[str, Any]) -> None:
    payload = (await upload(writes.client, csv_text([person()]), staff["officer_5203"], filename="list.xlsx"))["data"]
    assert [e["code"] for e in payload["importBeneficiaries"]["errors"]] == ["WRONG_FILE_TYPE"]


async def test_an_upload_over_the_limit_is_refused_before_it_is_read(
    writes_url: str, key_path: Path, staff: dict[str, Any]
) -> None:
    settings = Settings(
        env="test",
        database_url=writes_url,
        signing_key_path=key_path,
        issuer=ISSUER,
        audience=AUDIENCE,
        import_max_upload_bytes=4_000,
    )
    app = create_app(settings)
    counting_app, received = body_reads_counted(app)

    try:
        transport = httpx.ASGITransport(app=counting_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://jamsos.test") as client:
            big = csv_text([person() for _ in range(60)])
            assert len(big) > 4_000
            body = await upload(client, big, staff["officer_5203"], status=413)
            assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
            assert "at most 4,000" in body["errors"][0]["message"]
            assert received == []  # refused from Content-Length: not one body chunk was read
            small = await upload(client, csv_text([person()]), staff["officer_5203"], dry_run=True)
            assert small["data"]["importBeneficiaries"]["imported"] == 1
    finally:
        await app.state.engine.dispose()


async def _empty_village(writes: Any) -> str:
    """A village of 52.03 with no beneficiaries yet, so the counts below are this test's own."""
    async with writes.engine.connect() as conn:
        used = select(PovertyBeneficiary.region_code)
        stmt = (
            select(Region.code)
            .where(Region.level == RegionLevel.VILLAGE, Region.code.like("52.03.%"), Region.code.not_in(used))
            .order_by(Region.code.desc())
            .limit(1)
        )
        return str((await conn.execute(stmt)).scalar_one())


async def test_enrolling_a_whole_list(writes: Any, staff: dict[str, Any]) -> None:
    village = await _empty_village(writes)
    district = village.rsplit(".", 1)[0]
    rows = [person(district=district, village=village) for _ in range(3)]
    rows.append(person(district=district, village=village, miskin_ekstrem="tidak"))
    payload = (await upload(writes.client, csv_text(rows), staff["officer_5203"]))["data"]["importBeneficiaries"]
    assert payload["imported"] == 4

    where = {"regionCode": village, "extremePoor": True, "enrolled": False}
    participants, audits = await _count(writes, Participant), await _count(writes, AuditEvent)
    dry = (await writes.gql(ENROL, {"filter": where, "dryRun": True}, staff["dinsos_5203"]))["data"]
    dry = dry["enrollBeneficiaries"]
    assert (dry["matched"], dry["created"], dry["refused"], dry["dryRun"]) == (3, 3, 0, True)
    assert Decimal(dry["monthlyCost"]) == Decimal(3 * 16_800)
    assert (await _count(writes, Participant), await _count(writes, AuditEvent)) == (participants, audits)

    done = (await writes.gql(ENROL, {"filter": where}, staff["dinsos_5203"]))["data"]["enrollBeneficiaries"]
    assert (done["created"], done["linked"], done["refused"]) == (3, 0, 0)
    assert Decimal(done["monthlyCost"]) == Decimal(50_400)
    assert await _count(writes, Participant) == participants + 3
    assert await _count(writes, AuditEvent) >= audits + 3  # one enrolment event per person (plus registration)

    # Idempotent: nobody is left unenrolled, and the enrolled ones are not enrolled again.
    again = (await writes.gql(ENROL, {"filter": where}, staff["dinsos_5203"]))["data"]["enrollBeneficiaries"]
    assert (again["matched"], again["created"]) == (0, 0)
    enrolled = {**where, "enrolled": True}
    repeat = (await writes.gql(ENROL, {"filter": enrolled}, staff["dinsos_5203"]))["data"]["enrollBeneficiaries"]
    assert (repeat["matched"], repeat["created"], repeat["linked"], repeat["unchanged"]) == (3, 0, 0, 3)
    assert Decimal(repeat["monthlyCost"]) == 0

    # The one the registry does not flag extreme-poor is refused, with the reason counted.
    poor = {**where, "extremePoor": False}
    refused = (await writes.gql(ENROL, {"filter": poor}, staff["dinsos_5203"]))["data"]["enrollBeneficiaries"]
    assert (refused["matched"], refused["refused"]) == (1, 1)
    assert refused["reasons"] == [{"code": "NOT_EXTREME_POOR", "count": 1}]
    assert refused["errors"][0]["code"] == "NOT_EXTREME_POOR"


async def test_enrolment_refuses_a_wrong_funder_and_sees_nothing_outside_the_region(
    writes: Any, staff: dict[str, Any]
) -> None:
    where = {"regionCode": "52.03", "extremePoor": True, "enrolled": False}
    wrong = await writes.gql(ENROL, {"filter": where, "funding": "EMPLOYER", "dryRun": True}, staff["dinsos_5203"])
    payload = wrong["data"]["enrollBeneficiaries"]
    assert payload["refused"] == payload["matched"] > 0
    assert {r["code"] for r in payload["reasons"]} == {"FUNDING_NOT_ALLOWED"}
    elsewhere = {"regionCode": "52.71", "extremePoor": True, "enrolled": False}
    other = await writes.gql(ENROL, {"filter": elsewhere, "dryRun": True}, staff["dinsos_5203"])
    assert other["data"]["enrollBeneficiaries"]["matched"] == 0
    no_scope = await writes.gql(ENROL, {"filter": where, "dryRun": True}, staff["analyst_5203"])
    assert no_scope["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    bad_region = await writes.gql(ENROL, {"filter": {"regionCode": "52.03.99"}}, staff["dinsos_5203"])
    assert bad_region["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_children_on_the_list_are_refused_by_the_working_age_rule(writes: Any, staff: dict[str, Any]) -> None:
    village = await _empty_village(writes)
    district = village.rsplit(".", 1)[0]
    child = person(district=district, village=village, birth=dt.date(2015, 3, 3), tanggal_lahir="2015-03-03")
    adult = person(district=district, village=village)
    payload = (await upload(writes.client, csv_text([child, adult]), staff["officer_5203"]))["data"]
    assert payload["importBeneficiaries"]["imported"] == 2
    where = {"regionCode": village, "extremePoor": True, "enrolled": False}
    done = (await writes.gql(ENROL, {"filter": where}, staff["dinsos_5203"]))["data"]["enrollBeneficiaries"]
    assert (done["matched"], done["created"], done["refused"]) == (2, 1, 1)
    assert done["reasons"] == [{"code": "BELOW_WORKING_AGE", "count": 1}]
    assert Decimal(done["monthlyCost"]) == Decimal(16_800)
