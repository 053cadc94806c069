"""``explainAccess`` in GraphQL: why a record or field is visible, hidden or masked (types and the query field)."""
