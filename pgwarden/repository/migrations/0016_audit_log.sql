-- Audit log (0016): what an admin did from the dashboard or the API to a target
-- (cancel or terminate a backend, run EXPLAIN, start a job): who, when, what.
CREATE TABLE pgwarden.audit_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    target_id bigint REFERENCES pgwarden.target (id) ON DELETE CASCADE,
    role text NOT NULL,
    actor text,
    action text NOT NULL,
    subject text,
    outcome text NOT NULL,
    detail jsonb NOT NULL DEFAULT '{}'
);

CREATE INDEX audit_log_at_idx ON pgwarden.audit_log (target_id, at);
