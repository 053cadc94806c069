"""Jobs: bulk writes that run in the background with state, progress, a report and cancellation (ADR 0015)."""
