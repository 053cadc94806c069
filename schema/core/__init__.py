"""What every family of the schema builds on: request context, ids, errors, pagination, permissions, limits, costs,
the enums shared across families, write plumbing, loaders and the request pipeline's extensions
(docs/adr/0019-schema-packages.md)."""
