"""``jamsos users|clients|keys`` and ``jamsos token`` against a database of their own."""

from __future__ import annotations

import asyncio
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

PASSWORD = "sate-rembiga-mataram-7"


@pytest.fixture(scope="module")
def cli_url(backend: str, seeded_database: Callable[[str, str], str]) -> str:
    return seeded_database(backend, "cli")


@pytest.fixture
def cli(cli_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., tuple[int, str]]]:
    monkeypatch.setenv("JAMSOS_DATABASE_URL", cli_url)
    monkeypatch.setenv("JAMSOS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("JAMSOS_ENV", "test")
    monkeypatch.setenv("JAMSOS_SIGNING_KEY_PATH", str(tmp_path / "cli-key.pem"))
    get_settings.cache_clear()

    def run(*args: str, stdin: str = "") -> tuple[int, str]:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        out = io.StringIO()
        monkeypatch.setattr("sys.stdout", out)
        code = main(list(args))
        return code, out.getvalue()

    yield run
    get_settings.cache_clear()


def _audit(url: str, action: str) -> list[AuditEvent]:
    async def run() -> list[AuditEvent]:
        engine = make_engine(url, null_pool=True)
        try:
            async with make_sessionmaker(engine)() as session:
                return list((await session.scalars(select(AuditEvent).where(AuditEvent.action == action))).all())
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_users(cli: Callable[..., tuple[int, str]], cli_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        cli("users", "create", "--username", "Rina.Officer", "--role", "officer", "--region", "52.71", stdin=PASSWORD)[
            0
        ]
        == 0
    )
    assert cli("users", "create", "--username", "auditor.pusat", "--role", "auditor", stdin=PASSWORD + "\n")[0] == 0
    out = cli("users", "list", "--json")[1]
    users = {u["username"]: u for u in json.loads(out)}
    assert users["rina.officer"]["role"] == "officer"
    assert users["rina.officer"]["region"] == "52.71"
    assert users["auditor.pusat"]["region"] is None
    assert PASSWORD not in out

    assert cli("users", "set-password", "--username", "rina.officer", stdin="a-new-long-passphrase")[0] == 0
    assert cli("users", "disable", "--username", "rina.officer")[0] == 0
    listed = {u["username"]: u for u in json.loads(cli("users", "list", "--json")[1])}
    assert listed["rina.officer"]["active"] is False
    created = _audit(cli_url, "user.create")
    assert {e.entity_id for e in created} >= {"rina.officer", "auditor.pusat"}
    assert all("password" not in json.dumps(e.changes) for e in created)
    assert _audit(cli_url, "user.password_set")[-1].entity_id == "rina.officer"
    assert _audit(cli_url, "user.disable")[-1].actor_subject.startswith("cli:")


@pytest.mark.parametrize(
    ("args", "stdin", "problem"),
    [
        (("--username", "x", "--role", "analyst", "--region", "52.03"), PASSWORD, "username"),
        (("--username", "budi", "--role", "analyst"), PASSWORD, "bound to a region"),
        (("--username", "budi", "--role", "admin", "--region", "52.03"), PASSWORD, "national"),
        (("--username", "budi", "--role", "analyst", "--region", "52.99"), PASSWORD, "does not exist"),
        (("--username", "budi", "--role", "analyst", "--region", "52.03"), "short", "at least 12"),
        (("--username", "budi", "--role", "analyst", "--region", "nowhere"), PASSWORD, "region code"),
    ],
)
def test_user_refusals(
    cli: Callable[..., tuple[int, str]],
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
    stdin: str,
    problem: str,
) -> None:
    assert cli("users", "create", *args, stdin=stdin)[0] == 2
    assert problem in capsys.readouterr().err


def test_duplicate_and_unknown_users(cli: Callable[..., tuple[int, str]], capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        cli("users", "create", "--username", "dewi", "--role", "analyst", "--region", "52.03", stdin=PASSWORD)[0] == 0
    )
    assert (
        cli("users", "create", "--username", "dewi", "--role", "analyst", "--region", "52.03", stdin=PASSWORD)[0] == 2
    )
    assert "taken" in capsys.readouterr().err
    assert cli("users", "disable", "--username", "nobody")[0] == 2
    assert "no user" in capsys.readouterr().err


def test_clients(cli: Callable[..., tuple[int, str]], cli_url: str) -> None:
    code, out = cli(
        "clients", "create", "--name", "Bappeda NTB", "--scopes", "stats:read regions:read", "--region", "52", "--json"
    )
    assert code == 0
    created = json.loads(out)
    assert set(created) == {"client_id", "client_secret"}
    assert len(created["client_secret"]) >= 40

    grants = ("--grant-types", "authorization_code refresh_token", "--redirect-uri", "https://monev.example/cb")
    code, out = cli("clients", "create", "--name", "Monev", "--scopes", "stats:read", "--public", *grants)
    assert code == 0
    assert "(none: a public client)" in out

    code, out = cli("clients", "rotate-secret", "--client-id", created["client_id"], "--json")
    rotated = json.loads(out)
    assert rotated["client_id"] == created["client_id"]
    assert rotated["client_secret"] != created["client_secret"]
    assert cli("clients", "disable", "--client-id", created["client_id"])[0] == 0
    listed = {c["name"]: c for c in json.loads(cli("clients", "list", "--json")[1])}
    assert listed["Bappeda NTB"]["active"] is False
    assert listed["Bappeda NTB"]["region"] == "52"
    assert listed["Monev"]["public"] is True
    assert created["client_secret"] not in json.dumps(listed)
    assert [e.entity_id for e in _audit(cli_url, "client.secret_rotate")] == [created["client_id"]]
    rotation = _audit(cli_url, "client.secret_rotate")[0]
    assert created["client_secret"] not in json.dumps(rotation.changes)
    assert rotated["client_secret"] not in json.dumps(rotation.changes)


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (("--scopes", "stats:read everything:write"), "unknown scope"),
        (("--scopes", ""), "at least one scope"),
        (("--scopes", "stats:read", "--grant-types", "password"), "unknown grant types"),
        (("--scopes", "stats:read", "--grant-types", "authorization_code"), "redirect-uri"),
        (
            (
                "--scopes",
                "stats:read",
                "--grant-types",
                "authorization_code",
                "--redirect-uri",
                "http://evil.example/cb",
            ),
            "https",
        ),
        (("--scopes", "stats:read", "--public"), "public client"),
        (("--scopes", "stats:read", "--token-lifetime", "86400"), "lifetime"),
    ],
)
def test_client_refusals(
    cli: Callable[..., tuple[int, str]], capsys: pytest.CaptureFixture[str], args: tuple[str, ...], problem: str
) -> None:
    assert cli("clients", "create", "--name", "Refused", *args)[0] == 2
    assert problem in capsys.readouterr().err


def test_keys_and_dev_tokens(cli: Callable[..., tuple[int, str]], cli_url: str, tmp_path: Path) -> None:
    code, first = cli("token", "--role", "analyst", "--region", "52.03")
    assert code == 0
    token = first.strip()
    assert token.count(".") == 2
    code, out = cli("keys", "list", "--json")
    keys_before = json.loads(out)
    assert len(keys_before) == 1
    assert cli("keys", "rotate")[0] == 0
    keys_after = json.loads(cli("keys", "list", "--json")[1])
    assert len(keys_after) == 2
    assert [k["retired_at"] is None for k in keys_after] == [True, False]
    second = cli("token", "--role", "admin")[1].strip()
    assert _kid(second) == keys_after[0]["kid"] != _kid(token)
    assert [e.entity_id for e in _audit(cli_url, "signing_key.rotate")][-1] == keys_after[0]["kid"]


def _kid(token: str) -> Any:
    import base64

    head = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))["kid"]
