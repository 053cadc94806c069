-- The ledger recount's UPDATE of 1,000 participants after a new payment each, with the Monev rollups
-- maintained (off=0) or not (off=1), in a transaction rolled back: what the rollup trigger adds to the
-- APBD run's largest statement (bench/README.md, "Branch bulkfast"). On a copy of the APBD set-up
-- (bench/bulk_writes.py --phase setup --workers 100000), for participants lo .. lo + 999:
--   psql -h 127.0.0.1 -U postgres -d <copy> -v lo=10001 -v off=0 -f bench/sql/recount_update.sql
-- The months and dates are those of a run in December 2026 booking January 2027 (the statement is the one
-- domain.participants.ledger.recompute_participant_figures sends, with its parameters written out).
\timing on
BEGIN;
INSERT INTO contributions (participant_id, first_month, last_month, months, period_from, period_to, amount, programs, payer, payer_region_code, reference, received_at, recorded_at, recorded_by) SELECT g, 24323, 24323, 1, date '2027-01-01', date '2027-01-31', 16800, 'JKK,JKM', 'APBD', '52.03', 'X-' || g, now(), now(), 'x' FROM generate_series(:lo, :lo + 999) g;
\if :off
UPDATE monev_rollup_state SET maintained = false;
\endif
UPDATE participants SET status=CASE WHEN (participants.status IN ('ACTIVE','INACTIVE') AND (SELECT max(contributions.period_to) FROM contributions WHERE contributions.participant_id = participants.id) >= date '2026-12-31') THEN 'ACTIVE' WHEN (participants.status IN ('ACTIVE','INACTIVE')) THEN 'INACTIVE' ELSE participants.status END, paid_through=(SELECT max(contributions.period_to) FROM contributions WHERE contributions.participant_id = participants.id), contribution_months=(SELECT coalesce(sum(contributions.months), 0) FROM contributions WHERE contributions.participant_id = participants.id), recent_contribution_months=(SELECT coalesce(sum(CASE WHEN (contributions.last_month < 24300) THEN 0 WHEN (contributions.first_month > 24323) THEN 0 ELSE (CASE WHEN (contributions.last_month > 24323) THEN 24323 ELSE contributions.last_month END - CASE WHEN (contributions.first_month < 24300) THEN 24300 ELSE contributions.first_month END) + 1 END), 0) FROM contributions WHERE contributions.participant_id = participants.id), version=(participants.version + 1) WHERE participants.id = ANY (array(select generate_series(:lo, :lo + 999)));
ROLLBACK;
