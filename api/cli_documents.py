"""``jamsos documents push|list|remove``: the trusted documents each OAuth client may run by id.

``push`` reads GraphQL Code Generator's persisted-documents manifest (``{"sha256:<hex>": text}``, the client
preset's ``persistedDocuments`` output; keys without the ``sha256:`` prefix are taken too) and ``.graphql``
files (one document each, named by the SHA-256 of the file's exact text). Every document must be a valid
operation of this server's schema and every given id the SHA-256 of its text: one bad document refuses the
whole push. Each change is an audit event whose actor is ``cli:<operating-system user>``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from api.cli_identity import cli_actor, cli_settings, in_transaction, print_json, refused
from domain.documents.models import TrustedDocument, TrustedDocumentClient, document_id
from domain.documents.writes import (
    DocumentError,
    NewDocument,
    PushReport,
    check_document,
    push_documents,
    remove_document,
)

#: The largest file read (a manifest of a few hundred operations is well under it).
MAX_FILE_BYTES = 8 * 1024 * 1024


def read_documents(paths: list[str]) -> list[NewDocument]:
    """The documents of manifest (.json) and .graphql files, ids checked against their texts."""
    documents: list[NewDocument] = []
    for raw in paths:
        path = Path(raw)
        if not path.is_file():
            raise DocumentError(f"{raw}: no such file")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise DocumentError(f"{raw}: larger than {MAX_FILE_BYTES:,} bytes")
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".json":
            try:
                manifest = json.loads(text)
            except json.JSONDecodeError as exc:
                raise DocumentError(f"{raw}: not JSON ({exc})") from None
            if not isinstance(manifest, dict) or not all(isinstance(v, str) for v in manifest.values()):
                raise DocumentError(f'{raw}: a manifest is one JSON object {{"sha256:<hex>": "document text", …}}')
            documents += [NewDocument(str(k), v, None, f"{raw}: {k}") for k, v in manifest.items()]
        elif path.suffix in (".graphql", ".gql"):
            documents.append(NewDocument(document_id(text), text, None, raw))
        else:
            raise DocumentError(f"{raw}: give a persisted-documents manifest (.json) or .graphql files")
    return [_named(new) for new in documents]


def _named(new: NewDocument) -> NewDocument:
    """`new` checked (its id is its text's SHA-256, it is a valid operation here) and given its operation name."""
    # Imported here: graphql-core and building the schema are most of what the command line's start-up would
    # cost, and only ``documents push`` needs them (the other commands, ``jamsos --help`` included, start without).
    from graphql import GraphQLError, OperationDefinitionNode, parse, validate

    from schema.app import get_schema

    check_document(new)
    try:
        tree = parse(new.text)
    except GraphQLError as exc:
        raise DocumentError(f"{new.source}: not GraphQL: {exc.message}") from None
    if errors := validate(get_schema(security_directives=cli_settings().federation_security_directives)._schema, tree):
        raise DocumentError(f"{new.source}: not valid against this schema: {errors[0].message}")
    names = [d.name.value for d in tree.definitions if isinstance(d, OperationDefinitionNode) and d.name]
    return NewDocument(new.id, new.text, names[0] if len(names) == 1 else None, new.source)


def _report(args: argparse.Namespace, report: PushReport) -> None:
    if args.json:
        print_json({"client_id": args.client_id, "added": report.added, "already": report.already})
        return
    for doc_id in report.added:
        print(f"added   {doc_id}")
    for doc_id in report.already:
        print(f"already {doc_id}")
    print(f"{len(report.added)} added, {len(report.already)} already registered for {args.client_id}", file=sys.stderr)


def cmd_documents_push(args: argparse.Namespace) -> int:
    try:
        documents = read_documents(args.files)
        report = in_transaction(
            lambda s: push_documents(
                s, client_id=args.client_id, documents=documents, actor=cli_actor(), public_cache=args.public_cache
            )
        )
    except DocumentError as exc:
        return refused(exc)
    _report(args, report)
    return 0


async def _listing(session: AsyncSession, client_id: str | None) -> list[dict[str, Any]]:
    stmt = select(TrustedDocument).options(selectinload(TrustedDocument.clients)).order_by(TrustedDocument.id)
    if client_id is not None:
        stmt = stmt.where(
            TrustedDocument.id.in_(
                select(TrustedDocumentClient.document_id).where(TrustedDocumentClient.client_id == client_id)
            )
        )
    return [
        {
            "id": d.id,
            "operation_name": d.operation_name,
            "clients": [c.client_id for c in d.clients],
            "public_cache": [c.client_id for c in d.clients if c.public_cache],
            "registered_by": d.registered_by,
            "registered_at": d.registered_at.isoformat(),
        }
        for d in await session.scalars(stmt)
    ]


def cmd_documents_list(args: argparse.Namespace) -> int:
    rows = in_transaction(lambda s: _listing(s, args.client_id))
    if args.json:
        print_json(rows)
    for r in [] if args.json else rows:
        print(f"{r['id']}  {r['operation_name'] or '(anonymous)':<32} {' '.join(r['clients'])}")
    return 0


def cmd_documents_remove(args: argparse.Namespace) -> int:
    try:
        clients = in_transaction(
            lambda s: remove_document(s, document=args.document_id, client_id=args.client_id, actor=cli_actor())
        )
    except DocumentError as exc:
        return refused(exc)
    print(f"removed {args.document_id} for {' '.join(clients)}; running servers follow within seconds", file=sys.stderr)
    return 0
