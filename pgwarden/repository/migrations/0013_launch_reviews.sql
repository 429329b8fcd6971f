-- Post-launch reviews (0013): the launch date of each target, and its reviews --
-- daily in the first week, weekly to day 30, then monthly (pgwarden.ops.review_schedule).
-- A review's due_at is the end of its period plus reviews.grace_hours (NULL: generated
-- on demand for a period outside the schedule); generated_at is its first generation.
CREATE TABLE pgwarden.launch (
    target_id bigint PRIMARY KEY REFERENCES pgwarden.target (id) ON DELETE CASCADE,
    launch_date date NOT NULL,
    timezone text NOT NULL,
    source text NOT NULL CHECK (source IN ('command', 'setting')),
    recorded_by text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE pgwarden.launch_review (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    target_id bigint NOT NULL REFERENCES pgwarden.target (id) ON DELETE CASCADE,
    kind text NOT NULL CHECK (kind IN ('day', 'week', 'month')),
    seq int CHECK (seq > 0),
    period_start timestamptz NOT NULL,
    period_end timestamptz NOT NULL,
    due_at timestamptz,
    generated_at timestamptz NOT NULL,
    regenerated_at timestamptz,
    trigger text NOT NULL CHECK (trigger IN ('schedule', 'manual')),
    summary text NOT NULL,
    metrics jsonb NOT NULL,
    markdown text NOT NULL,
    CHECK (period_end > period_start),
    UNIQUE (target_id, kind, period_start, period_end)
);

CREATE INDEX launch_review_period_idx
    ON pgwarden.launch_review (target_id, period_end);
