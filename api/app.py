"""The Starlette application factory: wires settings, database, tokens, GraphQL and health together."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.routing import Route, WebSocketRoute

from admin.console import mount_console
from api.console import console_config
from api.documents import ApqBounds, Documents
from api.fast_reads import FastReads
from api.graphql import JamsosGraphQL
from api.health import healthz, readyz
from api.identity import build_identity
from api.jobs import close_jobs, job_queue, open_jobs
from api.logs import configure_logging
from api.middleware import BearerTokenBackend, RequestId, authentication_error, unexpected_error
from api.observe import RequestLog, metrics_endpoint
from api.settings import Settings, get_settings
from api.tracing import tracing_middleware
from api.uploads import UploadLimit
from auth.ratelimit import make_buckets
from domain.db import make_engine, make_sessionmaker
from domain.events import EventBus
from schema.app import get_schema


def create_app(settings: Settings | None = None, *, tracer_provider: Any = None) -> Starlette:
    settings = settings or get_settings()
    if settings.env != "test":
        configure_logging(settings.log_level, settings.log_json)
    engine = make_engine(
        settings.resolved_database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pre_ping=settings.db_pool_pre_ping,
    )
    sessions = make_sessionmaker(engine)
    # Queries read on the replica when there is one (schema.core.context.Reader); writes stay on the primary.
    read_engine = None
    if settings.database_read_url:
        read_engine = make_engine(
            settings.database_read_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pre_ping=settings.db_pool_pre_ping,
        )
    buckets = make_buckets(settings.redis_url or None, settings.redis_prefix)
    identity = build_identity(settings, sessions, buckets)
    development = settings.env == "development"
    # What committed writes announce, for this process's subscribers (domain.events; ADR 0016).
    events = EventBus(settings.resolved_database_url, queue_size=settings.subscription_queue_size)

    jobs = job_queue(settings, sessions)
    graphql_app = JamsosGraphQL(
        get_schema(security_directives=settings.federation_security_directives),
        sessions,
        limits=settings.limits,
        buckets=buckets,
        introspection=development,
        graphql_ide="graphiql" if development else None,
        allow_queries_via_get=True,
        multipart_uploads_enabled=True,  # the imports; bearer tokens only, so no cross-site form can call it
        read_sessions=make_sessionmaker(read_engine) if read_engine is not None else None,
        compiled_reads=settings.compiled_reads,
        fast_reads=settings.fast_reads,
        document_cache=settings.document_cache,
        read_autocommit=settings.read_autocommit,
        jobs=jobs,
        job_files=settings.data_dir / "job-files",
        http_cache_seconds=settings.http_cache_seconds,
        documents=Documents(
            sessions,
            ttl=settings.documents_cache_seconds,
            apq=ApqBounds(settings.apq_documents_per_client, settings.apq_bytes_per_client, settings.apq_clients),
        ),
        events=events,
        verifier=identity.verifier,
        max_subscriptions_per_connection=settings.subscriptions_per_connection,
        subscriptions_per_client=settings.subscriptions_per_client,
        subscription_token_check_seconds=settings.subscription_token_check_seconds,
        subscription_init_timeout_seconds=settings.subscription_init_timeout_seconds,
        access_log_commits=settings.access_log_commits,
    )

    # Repeated compiled reads are answered before Strawberry's view (api.fast_reads) while the GraphQL app's
    # ``fast_reads`` is on.
    graphql_endpoint = FastReads(UploadLimit(graphql_app, settings.import_max_upload_bytes), graphql_app)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Everything built so far (the schema, SQLAlchemy's mappers, the region register) lives as long as
        # the process: moved out of the collector's reach, a full collection no longer walks it (under load
        # those walks were most of the read benchmark's p99: bench/README.md "Figures behind the code").
        gc.collect()
        gc.freeze()
        await events.start()
        await open_jobs(jobs)
        yield
        await close_jobs(jobs)
        await events.close()  # open subscriptions end (their clients reconnect to another process)
        # Requests still in flight get their access-log rows committed (or their responses withheld).
        await graphql_app.access_log.close()
        await buckets.close()
        await engine.dispose()
        if read_engine is not None:
            await read_engine.dispose()

    app = Starlette(
        routes=[
            Route("/graphql", graphql_endpoint, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql_app),  # graphql-transport-ws subscriptions
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_endpoint(engine)),
            *identity.routes,  # /oauth/*, /.well-known/oauth-authorization-server, /.well-known/jwks.json
        ],
        middleware=[
            Middleware(RequestId),
            *tracing_middleware(settings.tracing, tracer_provider),
            Middleware(RequestLog),
            Middleware(
                AuthenticationMiddleware,
                backend=BearerTokenBackend(identity.verifier),
                on_error=authentication_error,
            ),
        ],
        lifespan=lifespan,
        exception_handlers={Exception: unexpected_error},
        max_body_size=settings.max_body_bytes,
    )
    app.state.console = mount_console(
        app,
        engine=engine,
        sessions=sessions,
        config=console_config(settings),
        buckets=buckets,
        jobs=jobs,
        job_files=settings.data_dir / "job-files",
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.read_engine = read_engine
    app.state.graphql = graphql_app
    app.state.sessions = sessions
    app.state.identity = identity
    app.state.buckets = buckets
    app.state.events = events
    app.state.jobs = jobs
    return app
