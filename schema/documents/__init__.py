"""Trusted (persisted) documents in GraphQL: their type and the query fields."""
