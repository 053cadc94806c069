"""Kemendagri regions in GraphQL: the region type, region arguments and filters (used by every family's list filter),
and the query fields."""
