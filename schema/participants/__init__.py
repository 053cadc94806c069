"""Participants in GraphQL: the participant and employer types, the list's filters, the query fields, the single and
bulk (upload) mutations, and the contributions ledger (contributions.py, as in domain.participants)."""
