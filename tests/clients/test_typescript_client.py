"""The TypeScript client in clients/typescript builds against the committed SDL, and every operation of its
persisted-documents manifest runs by id against a real server (uvicorn, migrated and seeded database): the
manifest is registered with ``jamsos documents push`` for a client marked ``trusted_documents_only``, whose
tokens then run each operation by ``documentId`` and nothing sent as text.

``npm ci`` from the lockfile, GraphQL Code Generator's client preset over ``schema.graphql`` and
``tsc --noEmit`` (strict): a change of the SDL that breaks a frontend's operations fails here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from auth.scopes import Role
from domain.nik import Sex, build_nik
from tests.conftest import AUDIENCE, ISSUER
from tests.live import ROOT, free_port, jamsos, live_server, service_env

pytestmark = pytest.mark.whole_machine  # npm ci, codegen and tsc, then a server of its own

CLIENT = ROOT / "clients" / "typescript"
OPERATIONS = {
    "ParticipantByMembershipNumber",
    "ClaimQueue",
    "SubmitClaim",
    "VerifyClaim",
    "ApproveClaim",
    "CoverageByRegion",
    "CoverageTrend",
}


def _npm(*args: str) -> subprocess.CompletedProcess[str]:
    npm = shutil.which("npm")
    if npm is None:
        if os.environ.get("CI") == "true":
            pytest.fail("npm is needed for the TypeScript client test; CI must run it", pytrace=False)
        pytest.skip("npm is not installed")
    done = subprocess.run(  # noqa: S603  # fixed arguments
        [npm, *args], cwd=CLIENT, capture_output=True, text=True, check=False, timeout=600
    )
    assert done.returncode == 0, f"npm {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def manifest() -> dict[str, str]:
    """npm ci (when stale), codegen, tsc --noEmit; the generated manifest: {"sha256:<hex>": document}."""
    installed = CLIENT / "node_modules" / ".package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < (CLIENT / "package-lock.json").stat().st_mtime:
        _npm("ci", "--ignore-scripts", "--no-audit", "--no-fund")
    _npm("run", "codegen")
    _npm("run", "typecheck")
    documents: dict[str, str] = json.loads((CLIENT / "src" / "gql" / "persisted-documents.json").read_text())
    return documents


def _document_id(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _by_name(manifest: dict[str, str]) -> dict[str, str]:
    named = {}
    for text in manifest.values():
        match = re.match(r"(?:query|mutation|subscription)\s+(\w+)", text)
        assert match, text
        named[match.group(1)] = text
    return named


def test_the_client_builds_and_its_manifest_names_each_document_by_its_sha256(manifest: dict[str, str]) -> None:
    assert set(_by_name(manifest)) == OPERATIONS
    for document_id, text in manifest.items():
        assert document_id == "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def test_every_operation_runs_by_id_against_a_running_server(
    manifest: dict[str, str], backend: str, seeded_database: Any, key_path: Path, mint: Any, tmp_path: Path
) -> None:
    database = seeded_database(backend, "typescript_client")
    documents = _by_name(manifest)
    env = service_env(database, tmp_path, signing_key_path=str(key_path), issuer=ISSUER, audience=AUDIENCE)
    created = jamsos(
        env,
        "clients",
        "create",
        "--name",
        "Kantor Cabang Mataram app",
        "--scopes",
        "participants:read",
        "--trusted-documents-only",
        "--json",
    )
    assert created.returncode == 0, created.stderr
    app = json.loads(created.stdout)["client_id"]
    pushed = jamsos(
        env, "documents", "push", "--client-id", app, str(CLIENT / "src" / "gql" / "persisted-documents.json"), "--json"
    )
    assert pushed.returncode == 0, pushed.stderr
    assert sorted(json.loads(pushed.stdout)["added"]) == sorted(manifest)
    # People signed in through the app: its client id, so the app's documents and nothing else.
    officer = {"Authorization": f"Bearer {mint(Role.OFFICER, '52.71', subject='officer.ts@52.71', client_id=app)}"}
    supervisor = {
        "Authorization": f"Bearer {mint(Role.OFFICER, '52.71', subject='supervisor.ts@52.71', client_id=app)}"
    }
    # The set-up below is not in the manifest: it runs as text with a token of another client.
    setup = {"Authorization": f"Bearer {mint(Role.OFFICER, '52.71', subject='setup.ts@52.71')}"}
    with live_server(env, free_port()) as base:

        def run(name: str, variables: dict[str, Any], headers: dict[str, str] = officer) -> dict[str, Any]:
            body = {"documentId": _document_id(documents[name]), "variables": variables}
            response = httpx.post(f"{base}/graphql", json=body, headers=headers, timeout=30)
            assert response.status_code == 200, response.text
            result: dict[str, Any] = response.json()
            assert "errors" not in result, (name, result["errors"])
            data: dict[str, Any] = result["data"]
            return data

        # The app's token may not send text, not even the text of one of its documents.
        text = {"query": documents["ClaimQueue"], "variables": {"regionCode": "52.71", "first": 1}}
        refused = httpx.post(f"{base}/graphql", json=text, headers=officer, timeout=30).json()
        assert refused["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_REQUIRED"

        # A living participant of the officer's region, covered by JKM this month.
        page = httpx.post(
            f"{base}/graphql",
            json={
                "query": '{ participants(first: 100, filter: {regionCode: "52.71", status: ACTIVE}) '
                "{ edges { node { membershipNumber programs { program } } } } }"
            },
            headers=setup,
            timeout=30,
        ).json()["data"]["participants"]["edges"]
        number = next(e["node"]["membershipNumber"] for e in page if {"program": "JKM"} in e["node"]["programs"])

        person = run("ParticipantByMembershipNumber", {"membershipNumber": number})["participant"]
        assert person["membershipNumber"] == number
        assert person["region"]["code"].startswith("52.71")

        heir = {
            "name": "Baiq Sri",
            "nik": build_nik("52.71.01", dt.date(1988, 4, 2), Sex.F, 7391),
            "relationship": "SPOUSE",
        }
        today = dt.date.today()
        submitted = run(
            "SubmitClaim",
            {
                "input": {
                    "participantId": person["id"],
                    "program": "JKM",
                    "cause": "DEATH",
                    "incidentDate": today.isoformat(),
                    "recipients": [heir],
                }
            },
        )["submitClaim"]
        assert submitted["errors"] == [], submitted
        claim = submitted["claim"]
        verified = run("VerifyClaim", {"id": claim["id"], "expectedVersion": claim["version"]})["verifyClaim"]
        assert verified["errors"] == [], verified
        approved = run(
            "ApproveClaim",
            {"id": claim["id"], "expectedVersion": verified["claim"]["version"], "note": "documents checked"},
            supervisor,
        )["approveClaim"]
        assert approved["errors"] == [], approved
        assert approved["claim"]["status"] == "APPROVED"

        # The queue page by page with cursors: every claim once, as many as totalCount.
        seen: list[str] = []
        after = None
        while True:
            claims = run("ClaimQueue", {"regionCode": "52.71", "status": None, "first": 7, "after": after})["claims"]
            seen += [edge["node"]["claimNumber"] for edge in claims["edges"]]
            if not claims["pageInfo"]["hasNextPage"]:
                break
            after = claims["pageInfo"]["endCursor"]
        assert len(seen) == len(set(seen)) == claims["totalCount"]
        assert claim["claimNumber"] in seen

        rows = run("CoverageByRegion", {"parentCode": "52.71", "asOf": None})["coverageByRegion"]
        assert rows
        assert all(row["region"]["code"].startswith("52.71.") for row in rows)
        trend = run(
            "CoverageTrend",
            {"regionCode": "52.71", "from": (today - dt.timedelta(days=180)).isoformat(), "to": today.isoformat()},
        )["coverageTrend"]
        assert [row["month"] for row in trend] == sorted(row["month"] for row in trend)
        assert len(trend) >= 6
