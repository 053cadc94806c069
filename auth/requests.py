"""What the audit trail records about an HTTP request, and the Caller a write runs as."""

from __future__ import annotations

from typing import Any

from auth.policy import pii_visible
from auth.principal import Principal
from domain.audit.writes import RequestMeta
from domain.writes.caller import Caller


def request_meta(request: Any) -> RequestMeta:
    """Request id (set by the RequestId middleware) and client address of a Starlette request."""
    state = getattr(request, "state", None)
    client = getattr(request, "client", None)
    return RequestMeta(
        request_id=getattr(state, "request_id", None) if state is not None else None,
        source_ip=client.host if client else None,
    )


def caller_for(principal: Principal, meta: RequestMeta) -> Caller:
    """The principal as the domain's write functions see it: who, bound to which region, seeing what."""
    return Caller(
        actor=principal.actor,
        within=principal.region,
        meta=meta,
        sees_personal_data=pii_visible(principal),
    )
