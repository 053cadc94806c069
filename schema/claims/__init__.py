"""Claims in GraphQL: the claim type and its benefit lines and history, the list's filters, the query fields and the
claim mutations."""
