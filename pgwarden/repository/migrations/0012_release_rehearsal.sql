-- Release rehearsal (0012): each `pgwarden rehearse run` with its verdict, timings
-- and the full report (pgwarden.ops.rehearse_report).
CREATE TABLE pgwarden.rehearsal (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    target_id bigint NOT NULL REFERENCES pgwarden.target (id) ON DELETE CASCADE,
    title text NOT NULL,
    change_request_id bigint
        REFERENCES pgwarden.change_request (id) ON DELETE SET NULL,
    verdict text NOT NULL CHECK (verdict IN ('go', 'no-go')),
    started_at timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    window_minutes double precision NOT NULL CHECK (window_minutes > 0),
    release_s double precision NOT NULL,
    rollback_s double precision NOT NULL,
    report jsonb NOT NULL,
    CHECK (finished_at >= started_at)
);

CREATE INDEX rehearsal_target_idx ON pgwarden.rehearsal (target_id, started_at);
CREATE INDEX rehearsal_change_request_idx ON pgwarden.rehearsal (change_request_id);
