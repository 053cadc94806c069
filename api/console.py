"""The back-office console's settings, from the service's (the console itself lives in ``admin/``)."""

from __future__ import annotations

from admin.auth import ConsoleConfig
from api.settings import Settings
from domain.identity.models import LockoutPolicy


def console_config(settings: Settings) -> ConsoleConfig:
    return ConsoleConfig(
        secret_key=settings.resolved_secret_key,
        secure_cookie=settings.env not in ("development", "test"),
        idle_seconds=settings.admin_session_idle_seconds,
        max_seconds=settings.admin_session_max_seconds,
        lockout=LockoutPolicy(settings.signin_max_failures, settings.signin_lockout_seconds),
        login_rate_per_minute=settings.signin_rate_limit_per_minute,
        max_body_bytes=settings.max_body_bytes,
        suppression_threshold=settings.suppression_threshold,
    )
