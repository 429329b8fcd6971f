-- Slow queries derived from pg_stat_statements between two collection cycles, for
-- servers whose log pgwarden cannot read (hosted databases with pg_monitor only).
-- A derived row is never a logged execution: exactness says what its duration is
-- ('exact': the statement ran once in the interval; 'mean': the interval's mean over
-- `executions` calls; 'max': the interval's slowest call, PostgreSQL 17+ with the
-- min/max reset). Rows of the other sources are one execution each (executions = 1,
-- exactness NULL).
ALTER TABLE pgwarden.slow_query_log
    DROP CONSTRAINT slow_query_log_source_check,
    ADD CONSTRAINT slow_query_log_source_check
        CHECK (source IN ('server_log', 'activity', 'application', 'statements')),
    ADD COLUMN exactness text CHECK (exactness IN ('exact', 'mean', 'max')),
    ADD COLUMN executions integer NOT NULL DEFAULT 1 CHECK (executions >= 1);
