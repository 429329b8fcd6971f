-- Business measures (0020): what pgwarden cannot observe, recorded by people or
-- systems (pgwarden review measure add/import, POST /api/ingest/measures): adoption
-- (active users, tenants), satisfaction (CSAT 1-5, NPS -100..100, with the number
-- of responses) and support tickets (opened and closed per period, open backlog).
-- One reading per target, measure and time: recording it again replaces it.
-- An action item of the board may follow one of these measures.
CREATE TABLE pgwarden.business_measure (
    target_id bigint NOT NULL REFERENCES pgwarden.target (id) ON DELETE CASCADE,
    name text NOT NULL CHECK (name IN ('active_users', 'active_tenants', 'csat',
        'nps', 'tickets_opened', 'tickets_closed', 'tickets_open')),
    recorded_at timestamptz NOT NULL,
    value double precision NOT NULL CHECK (value BETWEEN -1e15 AND 1e15),
    responses integer CHECK (responses > 0),
    source text NOT NULL CHECK (source IN ('cli', 'csv', 'api')),
    recorded_by text NOT NULL,
    entered_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (target_id, name, recorded_at)
);

ALTER TABLE pgwarden.ccb_action_item
    ADD COLUMN measure text CHECK (measure IN ('active_users', 'active_tenants',
        'csat', 'nps', 'tickets_opened', 'tickets_closed', 'tickets_open'));
