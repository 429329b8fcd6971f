-- Change control (0011): change requests, votes, deployments, action items and the
-- append-only, hash-chained decision log (pgwarden.ops.decision_log).
CREATE TABLE pgwarden.change_request (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title text NOT NULL,
    description text NOT NULL DEFAULT '',
    owner text NOT NULL,
    window_start timestamptz,
    window_end timestamptz,
    rollback_plan text NOT NULL DEFAULT '',
    migration_sql text,
    status text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'submitted',
        'approved', 'rejected', 'deferred', 'scheduled', 'done', 'rolled_back')),
    risk_class text CHECK (risk_class IN ('C1', 'C2', 'C3', 'C4')),
    risk_reasons jsonb NOT NULL DEFAULT '[]',
    risk_tables jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    submitted_at timestamptz,
    CHECK (window_end IS NULL OR window_start IS NULL OR window_end > window_start)
);

CREATE TABLE pgwarden.ccb_vote (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id bigint NOT NULL REFERENCES pgwarden.change_request (id),
    voter text NOT NULL,
    vote text NOT NULL CHECK (vote IN ('approve', 'reject', 'abstain')),
    comment text NOT NULL DEFAULT '',
    ts timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX ccb_vote_request_idx ON pgwarden.ccb_vote (request_id, id);

CREATE TABLE pgwarden.ccb_deployment (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id bigint NOT NULL REFERENCES pgwarden.change_request (id),
    deployed_at timestamptz NOT NULL,
    outcome text NOT NULL CHECK (outcome IN ('success', 'rolled-back', 'hotfix')),
    restored_at timestamptz,
    note text NOT NULL DEFAULT '',
    recorded_by text NOT NULL
);

CREATE INDEX ccb_deployment_time_idx ON pgwarden.ccb_deployment (deployed_at);

CREATE TABLE pgwarden.ccb_action_item (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id bigint REFERENCES pgwarden.change_request (id),
    title text NOT NULL,
    owner text NOT NULL,
    due date NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    done_at timestamptz
);

CREATE TABLE pgwarden.ccb_decision_log (
    seq bigint PRIMARY KEY CHECK (seq > 0),
    ts timestamptz NOT NULL,
    request_id bigint,
    kind text NOT NULL,
    actor text NOT NULL,
    detail jsonb NOT NULL,
    prev_hash text NOT NULL,
    hash text NOT NULL UNIQUE
);

CREATE FUNCTION pgwarden.ccb_decision_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'pgwarden.ccb_decision_log is append-only (% refused)', TG_OP;
END;
$$;

CREATE TRIGGER ccb_decision_log_append_only
    BEFORE UPDATE OR DELETE ON pgwarden.ccb_decision_log
    FOR EACH ROW EXECUTE FUNCTION pgwarden.ccb_decision_log_append_only();

CREATE TRIGGER ccb_decision_log_no_truncate
    BEFORE TRUNCATE ON pgwarden.ccb_decision_log
    FOR EACH STATEMENT EXECUTE FUNCTION pgwarden.ccb_decision_log_append_only();
