"""The ``jamsos`` subcommands' arguments, without their implementations.

Every ``jamsos`` call builds the whole parser, and the suite starts ``jamsos`` dozens of times: importing every
command module for it (SQLAlchemy, Procrastinate, openpyxl, joserfc, ...) cost about a second of CPU per call.
Here each subcommand names its implementation as (module, function), and :class:`Command` imports that module
only when the subcommand runs. ``tests/api/test_cli_startup.py`` pins both halves: the parser imports none of
those libraries, and every named implementation exists.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
from collections.abc import Callable
from typing import Any

from domain.jobs.rules import JobState

Handler = Callable[[argparse.Namespace], int]

# The modules that implement the subcommands.
IDENTITY = "api.cli_identity"
DOCUMENTS = "api.cli_documents"
IMPORTS = "api.cli_import"
JOBS = "api.cli_jobs"
REPORTS = "api.cli_report"
CONTRIBUTIONS = "api.cli_contributions"


class Command:
    """The subcommand implemented by `name` in `module`, imported when it runs, not when the parser is built."""

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    def resolve(self) -> Handler:
        """The implementation itself (imports its module)."""
        target: Handler = getattr(importlib.import_module(self.module), self.name)
        return target

    def __call__(self, args: argparse.Namespace) -> int:
        return self.resolve()(args)

    def __repr__(self) -> str:
        return f"Command({self.module!r}, {self.name!r})"


# auth.scopes.Role's values (importing auth.scopes loads the ORM models); a test keeps the two equal.
ROLES = ("admin", "officer", "analyst", "auditor")


def month(raw: str) -> dt.date:
    """``--month YYYY-MM`` as the first day of that month (an argparse type: a bad value is a usage error)."""
    try:
        return dt.datetime.strptime(raw, "%Y-%m").date()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a month as YYYY-MM") from None


def add_identity_commands(sub: Any) -> None:
    """Register ``users``, ``clients`` and ``keys`` on the ``jamsos`` parser's subcommands."""
    users = sub.add_parser("users", help="people who sign in").add_subparsers(dest="users_command", required=True)
    create = users.add_parser("create", help="create a user (password from stdin when it is not a terminal)")
    create.add_argument("--username", required=True)
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--region", help="Kemendagri code, for officer and analyst (e.g. 52.71)")
    create.set_defaults(func=Command(IDENTITY, "cmd_users_create"))
    listing = users.add_parser("list", help="list users")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=Command(IDENTITY, "cmd_users_list"))
    for name, func, text in (
        ("disable", Command(IDENTITY, "cmd_users_disable"), "disable a user and revoke their tokens"),
        (
            "set-password",
            Command(IDENTITY, "cmd_users_set_password"),
            "set a new password (clears a lockout)",
        ),
    ):
        cmd = users.add_parser(name, help=text)
        cmd.add_argument("--username", required=True)
        cmd.set_defaults(func=func)

    clients = sub.add_parser("clients", help="OAuth clients").add_subparsers(dest="clients_command", required=True)
    create = clients.add_parser("create", help="register a client; prints its id and secret once")
    create.add_argument("--name", required=True, help='the agency or app, e.g. "Dinas Sosial Lombok Timur"')
    create.add_argument("--scopes", required=True, help='space-separated, e.g. "beneficiaries:read stats:read"')
    create.add_argument("--region", help="the widest region its tokens may carry (none: national)")
    create.add_argument("--grant-types", default="client_credentials", help="space-separated grant types")
    create.add_argument("--redirect-uri", action="append", help="for authorization_code; repeat for several")
    create.add_argument("--public", action="store_true", help="a browser app without a secret (PKCE only)")
    create.add_argument("--token-lifetime", type=int, help="access-token seconds (60-3600)")
    create.add_argument(
        "--trusted-documents-only",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="its tokens run only documents registered with jamsos documents push "
        "(default: on for client_credentials clients when JAMSOS_ENV=production, off otherwise)",
    )
    create.add_argument("--json", action="store_true", help='print {"client_id": ..., "client_secret": ...}')
    create.set_defaults(func=Command(IDENTITY, "cmd_clients_create"))
    listing = clients.add_parser("list", help="list clients")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=Command(IDENTITY, "cmd_clients_list"))
    rotate = clients.add_parser("rotate-secret", help="issue a new secret; the old one stops working")
    rotate.add_argument("--client-id", required=True)
    rotate.add_argument("--json", action="store_true")
    rotate.set_defaults(func=Command(IDENTITY, "cmd_clients_rotate_secret"))
    setting = clients.add_parser("set", help="change a client's settings")
    setting.add_argument("--client-id", required=True)
    setting.add_argument(
        "--trusted-documents-only",
        action=argparse.BooleanOptionalAction,
        required=True,
        help="run only its registered documents (--no-trusted-documents-only: may send text)",
    )
    setting.set_defaults(func=Command(IDENTITY, "cmd_clients_set"))
    disable = clients.add_parser("disable", help="disable a client and revoke its tokens")
    disable.add_argument("--client-id", required=True)
    disable.set_defaults(func=Command(IDENTITY, "cmd_clients_disable"))

    key_cmds = sub.add_parser("keys", help="token signing keys").add_subparsers(dest="keys_command", required=True)
    key_cmds.add_parser("rotate", help="make a new key active; old ones stay trusted until their tokens expire")
    key_cmds.choices["rotate"].set_defaults(func=Command(IDENTITY, "cmd_keys_rotate"))
    listing = key_cmds.add_parser("list", help="list signing keys")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=Command(IDENTITY, "cmd_keys_list"))


def add_document_commands(sub: Any) -> None:
    """Register ``documents`` on the ``jamsos`` parser's subcommands."""
    documents = sub.add_parser("documents", help="trusted documents per OAuth client").add_subparsers(
        dest="documents_command", required=True
    )
    push = documents.add_parser("push", help="register documents for a client (manifest .json, .graphql files)")
    push.add_argument("--client-id", required=True)
    push.add_argument("files", nargs="+", metavar="FILE")
    push.add_argument(
        "--public-cache",
        action="store_true",
        help="these documents return only suppressed Monev aggregates: a shared cache may keep their GET responses "
        "when the client reads statistics only (stats:read alone)",
    )
    push.add_argument("--json", action="store_true", help='print {"added": [...], "already": [...]}')
    push.set_defaults(func=Command(DOCUMENTS, "cmd_documents_push"))
    listing = documents.add_parser("list", help="list registered documents and their clients")
    listing.add_argument("--client-id", help="only this client's")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=Command(DOCUMENTS, "cmd_documents_list"))
    remove = documents.add_parser("remove", help="unregister a document (for one client, or for all)")
    remove.add_argument("document_id", metavar="ID", help="sha256:<hex>")
    remove.add_argument("--client-id", help="only for this client (default: every client)")
    remove.set_defaults(func=Command(DOCUMENTS, "cmd_documents_remove"))


def add_import_commands(sub: Any) -> None:
    imp = sub.add_parser(
        "import",
        help="import a registry list (CSV or XLSX); see docs/import/",
        description="Validate every row with the domain's rules; write all rows or none (default), only the "
        "good ones (--skip-invalid), or nothing (--dry-run). Problems are printed and written to "
        "FILE.report.csv. Exit status 1 when any row was refused.",
    )
    imp.add_argument("kind", choices=["beneficiaries", "participants", "contributions"])
    imp.add_argument("file", help="the .csv or .xlsx file")
    imp.add_argument("--dry-run", action="store_true", help="validate and count; write nothing")
    imp.add_argument("--skip-invalid", action="store_true", help="import the good rows, refuse the bad ones")
    imp.add_argument("--region", help="the importer's region (Kemendagri code); rows outside it are refused")
    imp.add_argument("--source", help="P3KE, DTKS or DTSEN, for a file without a source column")
    imp.add_argument("--snapshot-date", help="YYYY-MM-DD, for a file without a snapshot date column")
    imp.set_defaults(func=Command(IMPORTS, "cmd_import"))


def add_job_commands(sub: Any) -> None:
    jobs = sub.add_parser("jobs", help="background jobs (bulk writes)")
    jobs_sub = jobs.add_subparsers(dest="jobs_command", required=True)
    listing = jobs_sub.add_parser("list", help="the newest jobs")
    listing.add_argument("--state", choices=[s.value for s in JobState])
    listing.add_argument("--limit", type=int, default=20)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=Command(JOBS, "cmd_jobs_list"))
    show = jobs_sub.add_parser("show", help="one job's state and counts (or its report CSV)")
    show.add_argument("id", type=int)
    show.add_argument("--report", action="store_true", help="print the report CSV instead")
    show.set_defaults(func=Command(JOBS, "cmd_jobs_show"))
    cancel = jobs_sub.add_parser("cancel", help="stop a job before its next chunk (rows done stay)")
    cancel.add_argument("id", type=int)
    cancel.set_defaults(func=Command(JOBS, "cmd_jobs_cancel"))

    worker = sub.add_parser("worker", help="run jobs (PostgreSQL; the Procfile's worker process)")
    worker.add_argument("--concurrency", type=int, default=1, help="jobs run at once by this process")
    worker.add_argument(
        "--stalled-after",
        type=float,
        default=None,
        help="seconds without a heartbeat after which a worker counts as dead and its jobs are run again "
        "(default: the queue's STALLED_AFTER)",
    )
    worker.add_argument(
        "--shutdown-after",
        type=float,
        default=30.0,
        help="seconds a stop signal waits for running jobs before aborting them (they resume on the next start)",
    )
    worker.set_defaults(func=Command(JOBS, "cmd_worker"))


def add_report_commands(sub: Any) -> None:
    report = sub.add_parser("report", help="the Inpres Monev reports (XLSX or CSV)")
    kinds = report.add_subparsers(dest="kind", required=True)
    for kind, period_flag, example, text in (
        ("inpres-2-2021", "--semester", "2026-1 (January-June) or 2026-2", "social security coverage, by semester"),
        ("inpres-4-2022", "--quarter", "2026-Q3", "eliminating extreme poverty, by quarter"),
    ):
        p = kinds.add_parser(kind, help=f"the {kind} report: {text}")
        p.add_argument("--region", required=True, help="province, regency or district code, e.g. 52")
        p.add_argument(period_flag, required=True, help=f"the period, e.g. {example}")
        p.add_argument("--format", choices=("xlsx", "csv"), default="xlsx")
        p.add_argument("--output", help="file to write ('-' = standard output); default: a name from the report")
        p.add_argument("--token", help="make the report as this access token's holder would get it over the API")
        p.set_defaults(func=Command(REPORTS, "cmd_report"), semester=None, quarter=None)


def add_contributions_commands(sub: Any) -> None:
    contributions = sub.add_parser("contributions", help="the contribution ledger")
    commands = contributions.add_subparsers(dest="contributions_command", required=True)
    apbd = commands.add_parser(
        "apbd-month",
        help="book one month for every worker a regional budget (APBD) funds",
        description="Books the month for every APBD-funded worker of the payer, priced from the contribution "
        "rules; running it again books nothing twice. --dry-run gives the month's cost.",
    )
    apbd.add_argument("--payer", required=True, help="the province or regency/city whose APBD pays, e.g. 52.03")
    apbd.add_argument("--month", required=True, type=month, help="the month to book, YYYY-MM")
    apbd.add_argument("--dry-run", action="store_true", help="count and price; write nothing")
    apbd.add_argument("--region", help="the region the operator acts for (Kemendagri code); default national")
    apbd.add_argument(
        "--as-job", action="store_true", help="run it as a resumable job (queued for the worker on PostgreSQL)"
    )
    apbd.set_defaults(func=Command(CONTRIBUTIONS, "cmd_apbd_month"))
