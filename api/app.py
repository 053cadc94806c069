"""The Starlette application factory: wires settings, database, tokens, GraphQL and health together."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.routing import Route

from admin.console import mount_console
from api.console import console_config
from api.graphql import JamsosGraphQL
from api.health import healthz, readyz
from api.identity import build_identity
from api.logs import configure_logging
from api.middleware import BearerTokenBackend, RequestId, authentication_error
from api.settings import Settings, get_settings
from domain.db import make_engine, make_sessionmaker
from schema.app import schema


def create_app(settings: Settings | None = None) -> Starlette:
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
    identity = build_identity(settings, sessions)

    graphql_app = JamsosGraphQL(
        schema,
        sessions,
        limits=settings.limits,
        graphql_ide="graphiql" if settings.env == "development" else None,
        allow_queries_via_get=True,
        compiled_reads=settings.compiled_reads,
        document_cache=settings.document_cache,
        read_autocommit=settings.read_autocommit,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    app = Starlette(
        routes=[
            Route("/graphql", graphql_app, methods=["GET", "POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            *identity.routes,  # /oauth/*, /.well-known/oauth-authorization-server, /.well-known/jwks.json
        ],
        middleware=[
            Middleware(RequestId),
            Middleware(
                AuthenticationMiddleware,
                backend=BearerTokenBackend(identity.verifier),
                on_error=authentication_error,
            ),
        ],
        lifespan=lifespan,
        max_body_size=settings.max_body_bytes,
    )
    app.state.console = mount_console(app, engine=engine, sessions=sessions, config=console_config(settings))
    app.state.settings = settings
    app.state.engine = engine
    app.state.graphql = graphql_app
    app.state.sessions = sessions
    app.state.identity = identity
    return app
