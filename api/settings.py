"""Settings from ``JAMSOS_*`` environment variables, with a ``.env`` file read when present."""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from schema.core.bounds import (
    ANONYMOUS_REQUESTS_PER_MINUTE,
    COST_BUDGET_PER_MINUTE,
    MAX_ALIASES,
    MAX_COST,
    MAX_DIRECTIVES,
    MAX_DIRECTIVES_PER_LOCATION,
    MAX_ENTITY_REPRESENTATIONS,
    MAX_FRAGMENT_NESTING,
    MAX_QUERY_DEPTH,
    MAX_TOKENS,
    SUPPRESSION_THRESHOLD,
    Limits,
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JAMSOS_", env_file=".env", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    #: Where the embedded database and the generated signing key live.
    data_dir: Path = Path("data")
    database_url: str = ""
    #: A read replica (``postgresql+asyncpg://…``): GraphQL queries read there; mutations, the personal-data
    #: access log, tokens and the console use ``database_url``. Empty: everything on ``database_url``.
    database_read_url: str = ""
    #: ES256 private key (PEM). Generated on first use when missing.
    signing_key_path: Path | None = None
    issuer: str = "http://127.0.0.1:8000"
    audience: str = "jamsos-graph"
    token_lifetime_seconds: int = Field(default=900, gt=0, le=86_400)
    # -- the authorization server (auth.server, auth.signin) --
    #: Signs the sign-in form's CSRF token; generated into data_dir when empty. Set it when web
    #: processes run on more than one host.
    secret_key: str = ""
    refresh_token_lifetime_seconds: int = Field(default=43_200, gt=0)
    authorization_code_lifetime_seconds: int = Field(default=300, gt=0, le=600)
    #: How often each process re-reads the revoked-token list (a revoked token dies within this).
    revocation_refresh_seconds: float = Field(default=5.0, ge=0)
    #: How often each process re-reads the signing keys (and at once for an unknown kid).
    key_refresh_seconds: float = Field(default=60.0, ge=0)
    signin_max_failures: int = Field(default=5, gt=0)
    signin_lockout_seconds: int = Field(default=900, gt=0)
    token_rate_limit_per_minute: int = Field(default=60, gt=0)
    signin_rate_limit_per_minute: int = Field(default=10, gt=0)
    oauth_max_form_bytes: int = Field(default=16_384, gt=0)
    # -- the back-office console at /admin (admin.auth) --
    #: The console session ends after this long without a request ...
    admin_session_idle_seconds: int = Field(default=900, gt=0, le=86_400)
    #: ... and this long after sign-in, whatever the activity.
    admin_session_max_seconds: int = Field(default=8 * 3600, gt=0, le=7 * 86_400)
    # -- an external OpenID Connect provider whose access tokens are accepted too (auth.oidc) --
    oidc_issuer: str = ""
    #: The audience its tokens must carry; defaults to ``audience``.
    oidc_audience: str = ""
    oidc_roles_claim: str = "realm_access.roles"
    oidc_scope_claim: str = "scope"
    oidc_region_claim: str = "region"
    oidc_algorithms: str = "RS256 ES256"
    #: ``typ`` values accepted; add "JWT" for Keycloak, whose access tokens do not say "at+jwt".
    oidc_token_types: str = "at+jwt"  # noqa: S105 - JOSE media types, not a secret
    oidc_jwks_cache_seconds: float = Field(default=600.0, ge=0)
    #: Space-separated client ids of the provider that may call without a region claim (national).
    oidc_national_clients: str = ""
    #: One OpenTelemetry span per request (needs the ``otel`` extra; api/tracing.py).
    tracing: bool = False
    log_level: str = "INFO"
    log_json: bool = True
    #: Large enough that an oversized text field (1 MiB) reaches validation and gets a clear UserError.
    max_body_bytes: int = 2 * 1024 * 1024
    #: Largest registry list a caller with beneficiaries:write may upload to importBeneficiaries (api.uploads).
    import_max_upload_bytes: int = Field(default=32 * 1024 * 1024, gt=0)
    # -- trusted documents and APQ (api.documents) --
    #: Seconds a process trusts what it read of the registry (a document's text, a client's
    #: ``trusted_documents_only``): a removal or a changed flag takes effect everywhere within this.
    documents_cache_seconds: float = Field(default=10.0, ge=0, le=3600)
    #: Automatic persisted queries kept per client (least recently used go first), in documents and bytes,
    #: and how many clients' caches a process keeps.
    apq_documents_per_client: int = Field(default=256, gt=0, le=100_000)
    apq_bytes_per_client: int = Field(default=1024 * 1024, gt=0, le=256 * 1024 * 1024)
    apq_clients: int = Field(default=256, gt=0, le=100_000)
    #: ``max-age`` of a cacheable ``GET /graphql`` by document id (api.http_cache); 0: every GET is no-store.
    http_cache_seconds: int = Field(default=60, ge=0, le=86_400)

    # -- read performance (schema.compiled, domain.db, auth.verifier) --
    #: uvicorn's event loop and HTTP protocol for `jamsos serve`; "auto" = what uvicorn picks (uvloop and
    #: httptools, both dependencies). Settable to measure them.
    server_loop: Literal["auto", "asyncio", "uvloop"] = "auto"
    server_http: Literal["auto", "h11", "httptools"] = "auto"
    #: Verified access tokens remembered (each until it expires; revocation is still checked). 0 = off.
    token_cache_size: int = Field(default=10_000, ge=0, le=1_000_000)
    #: Parse and validate each distinct document once (schema.core.document_cache); off only to measure it.
    document_cache: bool = True
    #: Run the read session of a GraphQL request in autocommit (no BEGIN/ROLLBACK round trips).
    read_autocommit: bool = True
    #: Answer covered read queries from the compiled read path (schema.compiled); off = resolvers only.
    compiled_reads: bool = True
    #: Answer a repeated compiled read before Strawberry's HTTP view (api.fast_reads); off only to measure it.
    fast_reads: bool = True
    #: Transactions of personal-data access-log rows that may run at once on PostgreSQL (each a group commit
    #: of the requests waiting when it began: domain.audit.access.AccessLogWriter). 1 = a request waits for
    #: the commit in flight before its own; more shorten that wait at the price of smaller groups (more CPU
    #: per request). Connections: these come from the same pool as the reads.
    access_log_commits: int = Field(default=1, gt=0, le=32)
    #: Connections each web process keeps open to PostgreSQL, and how many more it may open under load.
    #: No overflow by default: SQLAlchemy closes an overflow connection as soon as it comes back to a full
    #: pool, so bursts above the pool size opened and closed connections per burst (bench/README.md "Figures
    #: behind the code"); without overflow a request waits for a pooled connection instead. 20 = the old
    #: 10 + 10 kept open: a request that writes holds two connections at once (README "Production").
    db_pool_size: int = Field(default=20, gt=0, le=200)
    db_max_overflow: int = Field(default=0, ge=0, le=200)
    #: Test each pooled connection with a round trip before use (survives a database restart unnoticed,
    #: at the price of one extra round trip per request).
    db_pool_pre_ping: bool = False
    #: Representations one federation ``_entities`` call may carry (schema.core.limits); more are refused.
    max_entity_representations: int = Field(default=MAX_ENTITY_REPRESENTATIONS, gt=0, le=100_000)
    # -- limits per GraphQL document and budgets per caller (schema.core.limits; README "Production") --
    max_query_depth: int = Field(default=MAX_QUERY_DEPTH, gt=0, le=100)
    max_aliases: int = Field(default=MAX_ALIASES, ge=0, le=1000)
    max_tokens: int = Field(default=MAX_TOKENS, gt=0, le=100_000)
    max_fragment_nesting: int = Field(default=MAX_FRAGMENT_NESTING, gt=0, le=100)
    max_directives: int = Field(default=MAX_DIRECTIVES, ge=0, le=10_000)
    max_directives_per_location: int = Field(default=MAX_DIRECTIVES_PER_LOCATION, ge=0, le=100)
    max_cost: int = Field(default=MAX_COST, gt=0)
    cost_budget_per_minute: int = Field(default=COST_BUDGET_PER_MINUTE, gt=0)
    anonymous_requests_per_minute: int = Field(default=ANONYMOUS_REQUESTS_PER_MINUTE, gt=0)
    #: Rate-limit buckets in Redis (``redis://host:6379/0``) so every worker shares one budget; empty: per process.
    redis_url: str = ""
    #: Prefix of every Redis key the service writes (several deployments may share one Redis).
    redis_prefix: str = "jamsos"
    #: Print ``@authenticated``/``@requiresScopes`` in the SDL, for gateways that enforce them (Hive Gateway,
    #: Apollo Router with authorization). Off: the SDL loads in any Federation 2 gateway. Either way the
    #: service enforces scopes and regions itself.
    federation_security_directives: bool = False
    # -- subscriptions (schema.subscriptions, domain.events; docs/adr/0016-subscriptions.md) --
    #: Operations one WebSocket may have running at once (Strawberry's bound); one more gets an error.
    subscriptions_per_connection: int = Field(default=10, gt=0, le=1000)
    #: Subscriptions one client and user may have open at once in one web process, over any connections.
    subscriptions_per_client: int = Field(default=50, gt=0, le=10_000)
    #: Events a subscriber may fall behind by; one more and it is dropped (its memory is bounded by this).
    subscription_queue_size: int = Field(default=100, gt=0, le=10_000)
    #: How often an idle subscription checks that its token is still valid (expired or revoked: it ends).
    subscription_token_check_seconds: float = Field(default=5.0, gt=0, le=300)
    #: Seconds a WebSocket may stay open without ``connection_init`` (graphql-transport-ws).
    subscription_init_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    #: Where bulk writes run as jobs (ADR 0015): "worker" hands them to Procrastinate on PostgreSQL, run by
    #: ``jamsos worker`` (the Procfile's worker line); "web" runs them as tasks of the web process (the
    #: embedded SQLite default, so ``make run`` needs nothing else). Empty: web on SQLite, worker on PostgreSQL.
    jobs_runner: Literal["", "web", "worker"] = ""
    #: Monev counts below this are withheld from callers who may read aggregates but not rows (schema.core.limits).
    suppression_threshold: int = Field(default=SUPPRESSION_THRESHOLD, ge=1, le=1000)

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'jamsos.db'}"

    @property
    def resolved_jobs_runner(self) -> Literal["web", "worker"]:
        if self.jobs_runner:
            return self.jobs_runner
        return "worker" if self.resolved_database_url.startswith("postgresql") else "web"

    @property
    def limits(self) -> Limits:
        return Limits(
            max_entity_representations=self.max_entity_representations,
            max_depth=self.max_query_depth,
            max_aliases=self.max_aliases,
            max_tokens=self.max_tokens,
            max_fragment_nesting=self.max_fragment_nesting,
            max_directives=self.max_directives,
            max_directives_per_location=self.max_directives_per_location,
            max_cost=self.max_cost,
            cost_budget_per_minute=self.cost_budget_per_minute,
            anonymous_requests_per_minute=self.anonymous_requests_per_minute,
            suppression_threshold=self.suppression_threshold,
        )

    @property
    def resolved_signing_key_path(self) -> Path:
        return self.signing_key_path or self.data_dir / "signing-key.pem"

    @property
    def resolved_secret_key(self) -> bytes:
        """``secret_key``, or one generated (owner-readable only) into ``data_dir/secret-key`` on first use."""
        if self.secret_key:
            return self.secret_key.encode()
        if self.env == "test":  # no files from tests; apps over one test database agree, like processes would
            return hashlib.sha256(f"jamsos-test|{self.resolved_database_url}".encode()).digest()
        path = self.data_dir / "secret-key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as f:
                    f.write(secrets.token_urlsafe(48))
        return path.read_text().strip().encode()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
