"""Trusted documents: the GraphQL operations registered for OAuth clients, by their SHA-256 id."""
