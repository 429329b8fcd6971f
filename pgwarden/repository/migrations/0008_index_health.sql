-- Stored reports (the weekly index health report; kind names the report), listed by
-- `pgwarden report list`. data is the report as JSON; summary its one-line summary.
CREATE TABLE pgwarden.report (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    target_id bigint NOT NULL REFERENCES pgwarden.target (id) ON DELETE CASCADE,
    kind text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    summary text NOT NULL,
    data jsonb NOT NULL
);

CREATE INDEX report_target_kind_idx ON pgwarden.report (target_id, kind, created_at);
