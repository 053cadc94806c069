"""``jamsos documents push|list|remove`` and the client flag, against a database of their own."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from api.cli import main
from api.settings import get_settings
from domain.audit.models import AuditEvent
from domain.db import make_engine, make_sessionmaker
from domain.identity.models import OAuthClient

REGION = "query Region($code: String!) { region(code: $code) { code name } }"
REGIONS = "query Regions { regions(first: 2) { totalCount } }"

Cli = Callable[..., tuple[int, str]]


def _id(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture(scope="module")
def cli_url(backend: str, seeded_database: Callable[[str, str], str]) -> str:
    return seeded_database(backend, "cli_documents")


@pytest.fixture
def cli(cli_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    monkeypatch.setenv("JAMSOS_DATABASE_URL", cli_url)
    monkeypatch.setenv("JAMSOS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("JAMSOS_ENV", "test")
    get_settings.cache_clear()

    def run(*args: str) -> tuple[int, str]:
        out = io.StringIO()
        monkeypatch.setattr("sys.stdout", out)
        code = main(list(args))
        return code, out.getvalue()

    yield run
    get_settings.cache_clear()


def _rows(url: str, model: Any, *where: Any) -> list[Any]:
    async def run() -> list[Any]:
        engine = make_engine(url, null_pool=True)
        try:
            async with make_sessionmaker(engine)() as session:
                return list((await session.scalars(select(model).where(*where))).all())
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _client(cli: Cli, name: str, *flags: str) -> str:
    code, out = cli("clients", "create", "--name", name, "--scopes", "regions:read", "--json", *flags)
    assert code == 0
    client_id: str = json.loads(out)["client_id"]
    return client_id


def test_push_a_manifest_and_graphql_files_list_and_remove(cli: Cli, cli_url: str, tmp_path: Path) -> None:
    client = _client(cli, "Bappeda NTB")
    manifest = tmp_path / "persisted-documents.json"
    manifest.write_text(json.dumps({_id(REGION): REGION, _id(REGIONS).removeprefix("sha256:"): REGIONS}))
    extra = tmp_path / "coverage.graphql"
    extra.write_text('query One { region(code: "52") { code } }\n')
    code, out = cli("documents", "push", "--client-id", client, str(manifest), str(extra), "--json")
    assert code == 0
    pushed = json.loads(out)
    assert sorted(pushed["added"]) == sorted([_id(REGION), _id(REGIONS), _id(extra.read_text())])
    assert pushed["already"] == []
    # Pushing again adds nothing (and records nothing).
    code, out = cli("documents", "push", "--client-id", client, str(manifest), "--json")
    assert json.loads(out) == {"client_id": client, "added": [], "already": sorted([_id(REGION), _id(REGIONS)])}
    events = _rows(cli_url, AuditEvent, AuditEvent.action == "documents.push", AuditEvent.entity_id == client)
    assert len(events) == 1

    code, out = cli("documents", "list", "--client-id", client, "--json")
    listed = {row["id"]: row for row in json.loads(out)}
    assert set(listed) == set(pushed["added"])
    assert listed[_id(REGION)]["operation_name"] == "Region"
    assert listed[_id(REGION)]["clients"] == [client]
    assert listed[_id(REGION)]["registered_by"].startswith("cli:")

    code, _ = cli("documents", "remove", _id(REGION), "--client-id", client)
    assert code == 0
    code, out = cli("documents", "list", "--client-id", client, "--json")
    assert _id(REGION) not in {row["id"] for row in json.loads(out)}
    assert _rows(cli_url, AuditEvent, AuditEvent.action == "documents.remove", AuditEvent.entity_id == client)
    assert cli("documents", "remove", _id(REGION), "--client-id", client)[0] == 2  # not there any more


def test_push_refuses_mismatched_ids_invalid_documents_and_unknown_clients(
    cli: Cli, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    client = _client(cli, "Dinas Kominfo NTB")
    cases: dict[str, tuple[object, str]] = {
        "mismatch": ({_id(REGION): REGIONS}, "is not the SHA-256 of its text"),
        "malformed": ({"sha256:xyz": REGION}, "is not a document id"),
        "not-graphql": ({_id("query {"): "query {"}, "not GraphQL"),
        "invalid": ({_id("query X { nope }"): "query X { nope }"}, "not valid against this schema"),
        "not-a-manifest": ([REGION], "a manifest is one JSON object"),
    }
    for name, (content, message) in cases.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(content))
        assert cli("documents", "push", "--client-id", client, str(path))[0] == 2, name
        assert message in capsys.readouterr().err, name
    # One bad document refuses the whole push: the good one beside it is not registered either.
    mixed = tmp_path / "mixed.json"
    mixed.write_text(json.dumps({_id(REGION): REGION, _id(REGIONS): REGION}))
    assert cli("documents", "push", "--client-id", client, str(mixed))[0] == 2
    assert cli("documents", "list", "--client-id", client, "--json") == (0, "[]\n")
    good = tmp_path / "good.json"
    good.write_text(json.dumps({_id(REGION): REGION}))
    assert cli("documents", "push", "--client-id", "nobody-0000", str(good))[0] == 2
    assert "no OAuth client" in capsys.readouterr().err
    text = tmp_path / "notes.txt"
    text.write_text(REGION)
    assert cli("documents", "push", "--client-id", client, str(text))[0] == 2


def test_trusted_documents_only_defaults_on_for_partner_clients_in_production(
    cli: Cli, cli_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    dev = _client(cli, "Partner in test")
    explicit = _client(cli, "Partner told", "--trusted-documents-only")
    monkeypatch.setenv("JAMSOS_ENV", "production")
    monkeypatch.setenv("JAMSOS_SECRET_KEY", "x" * 64)
    get_settings.cache_clear()
    production = _client(cli, "Partner in production")
    opted_out = _client(cli, "Partner opted out", "--no-trusted-documents-only")
    flags = {c.client_id: c.trusted_documents_only for c in _rows(cli_url, OAuthClient)}
    assert (flags[dev], flags[explicit], flags[production], flags[opted_out]) == (False, True, True, False)

    assert cli("clients", "set", "--client-id", dev, "--trusted-documents-only")[0] == 0
    assert _rows(cli_url, OAuthClient, OAuthClient.client_id == dev)[0].trusted_documents_only
    events = _rows(cli_url, AuditEvent, AuditEvent.action == "client.trusted_documents_only")
    assert [e.entity_id for e in events] == [dev]
    assert cli("clients", "set", "--client-id", "nobody-0000", "--no-trusted-documents-only")[0] == 2


def test_public_cache_is_set_at_push_and_taken_back_by_pushing_without_it(
    cli: Cli, cli_url: str, tmp_path: Path
) -> None:
    client = _client(cli, "Kementerian PPN statistik")
    manifest = tmp_path / "stats.json"
    manifest.write_text(json.dumps({_id(REGIONS): REGIONS}))

    def public() -> list[str]:
        rows = json.loads(cli("documents", "list", "--client-id", client, "--json")[1])
        return [c for row in rows for c in row["public_cache"]]

    assert cli("documents", "push", "--client-id", client, "--public-cache", str(manifest))[0] == 0
    assert public() == [client]
    assert cli("documents", "push", "--client-id", client, str(manifest))[0] == 0
    assert public() == []
    events = _rows(cli_url, AuditEvent, AuditEvent.action == "documents.push", AuditEvent.entity_id == client)
    assert [e.changes.get("public_cache", {}).get("after") for e in events] == [None, False]
