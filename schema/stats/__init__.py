"""Monev in GraphQL: coverage and claim figures of a region (types) and the stats query fields."""
