"""The authorization server's routes, for the application factory to mount."""

from __future__ import annotations

from starlette.routing import Route

from auth.server import OAuthEndpoints
from auth.signin import SignIn


def oauth_routes(endpoints: OAuthEndpoints) -> list[Route]:
    signin = SignIn(endpoints)
    return [
        Route("/oauth/token", endpoints.token, methods=["POST"]),
        Route("/oauth/authorize", signin.authorize, methods=["GET", "POST"]),
        Route("/oauth/revoke", endpoints.revoke, methods=["POST"]),
        Route("/oauth/introspect", endpoints.introspect, methods=["POST"]),
        Route("/.well-known/oauth-authorization-server", endpoints.metadata, methods=["GET"]),
        Route("/.well-known/jwks.json", endpoints.jwks, methods=["GET"]),
    ]
