"""Claims: the tables, the benefit rule table, eligibility rules and the claim workflow writes."""
