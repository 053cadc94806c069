"""``me`` in GraphQL: the caller as the API sees it (types and the query field)."""
