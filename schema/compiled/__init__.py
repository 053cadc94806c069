"""The compiled read path: hot read queries answered by the database's JSON, without graphql-core's per-field execution.

Python's GraphQL executor pays per returned field (an asyncio task per awaited field, a permission check per
field, an ORM instance per row), and a page of 100 participants with their region, programmes and three claims
each returns about 2,000 fields (what that costs: bench/README.md "Figures behind the code"). For the read
shapes the service is mostly asked for, this package turns the validated selection set into a plan once
(:mod:`schema.compiled.plan`, cached per document and operation), and answers a request with one statement
per root field whose JSON the database builds, on PostgreSQL and SQLite alike (:mod:`schema.compiled.run`,
:mod:`schema.compiled.sql_json`); the statement's text is kept and run again with new values
(:mod:`schema.compiled.sql_text`).

The rules are the resolvers' rules, not a copy of them: scoping comes from ``auth.policy``
(``visible``, the read chokepoint), masking from ``auth.policy.shown_sql`` (the SQL form of ``shown``, from
the same column rules, wage-derived amounts included), the scope a field needs from the permission class the
schema itself declares on it, filters and pages from the functions the resolvers call
(``participant_conditions``, ``keyset_page``, ``after_key``), and every value is rendered as the schema's
own scalar and enum types serialise it (the differential test holds the two to one JSON). Unmasked personal
data is noted for the access log exactly as the resolvers note it.

Anything the compiler does not cover, and any request that would end in an error (a missing scope, a bad
argument, a malformed cursor), is left to the resolvers (:mod:`schema.compiled.extension`), so errors and the
schema are unchanged.
"""
