"""The audit trail and the personal-data access log in GraphQL: their types, the trail's filter and the query fields."""
