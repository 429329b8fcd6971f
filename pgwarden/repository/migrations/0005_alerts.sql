-- Alerts: one row per occurrence of a rule's condition, from pending to resolved.
-- At most one open (not resolved) alert per target and fingerprint.
CREATE TABLE pgwarden.alert (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    target_id bigint NOT NULL REFERENCES pgwarden.target (id) ON DELETE CASCADE,
    fingerprint text NOT NULL,
    rule text NOT NULL,
    severity text NOT NULL
        CHECK (severity IN ('info', 'warning', 'critical', 'emergency')),
    state text NOT NULL
        CHECK (state IN ('pending', 'firing', 'acknowledged', 'resolved')),
    labels jsonb NOT NULL DEFAULT '{}',
    value double precision,
    summary text NOT NULL,
    description text NOT NULL,
    runbook text NOT NULL,
    group_key text NOT NULL,
    started_at timestamptz NOT NULL,
    fired_at timestamptz,
    acked_at timestamptz,
    acked_by text,
    resolved_at timestamptz,
    resolved_by text,
    last_seen_at timestamptz NOT NULL,
    last_notified_at timestamptz,
    notifications int NOT NULL DEFAULT 0,
    escalation_level int NOT NULL DEFAULT 0,
    escalated_at timestamptz,
    muted_by text
);

CREATE UNIQUE INDEX alert_open_idx ON pgwarden.alert (target_id, fingerprint)
    WHERE state <> 'resolved';
CREATE INDEX alert_fired_idx ON pgwarden.alert (target_id, fired_at);

-- Time-boxed silences: alerts matching rule (NULL: any) and labels are not notified.
CREATE TABLE pgwarden.alert_silence (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    target_id bigint REFERENCES pgwarden.target (id) ON DELETE CASCADE,
    rule text,
    labels jsonb NOT NULL DEFAULT '{}',
    starts_at timestamptz NOT NULL,
    ends_at timestamptz NOT NULL CHECK (ends_at > starts_at),
    comment text NOT NULL CHECK (comment <> ''),
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Every delivery attempt series of a notification to a channel, failed or not.
CREATE TABLE pgwarden.alert_notification (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id bigint NOT NULL REFERENCES pgwarden.alert (id) ON DELETE CASCADE,
    ts timestamptz NOT NULL,
    kind text NOT NULL
        CHECK (kind IN ('firing', 'repeat', 'escalation', 'resolved')),
    level int NOT NULL DEFAULT 0,
    recipient text,
    channel text NOT NULL,
    ok boolean NOT NULL,
    attempts int NOT NULL,
    error text
);

CREATE INDEX alert_notification_alert_idx ON pgwarden.alert_notification (alert_id, ts);
