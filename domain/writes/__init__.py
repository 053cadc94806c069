"""Shared write plumbing: who is writing, errors, version check, correction step, placement, NIK check."""
