"""Background jobs in GraphQL: the job type, the query fields and cancelling one."""
