"""The audit trail: hash-chained events for every write and the personal-data access log."""
