"""Participants and employers: tables, segment/programme rules, contribution packages and writes."""
