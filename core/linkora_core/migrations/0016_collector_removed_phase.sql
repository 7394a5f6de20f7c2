-- A market an operator removed at runtime (issue 17) keeps its collector_state row, in the
-- phase 'removed'; its stored data stays until purged.
ALTER TABLE collector_state DROP CONSTRAINT IF EXISTS collector_state_phase_check;
ALTER TABLE collector_state ADD CONSTRAINT collector_state_phase_check
    CHECK (phase IN ('starting', 'backfill', 'realtime', 'error', 'removed'));
