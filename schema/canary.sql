-- revalidator.canary: the table the workers' canary writes (docs/operations.md, "The canary").
-- The active worker of each collection updates its collection's row every
-- --canary-interval-ms, with at = clock_timestamp(); the row's webhook travels the same path as a
-- watched table's (Postgres -> sender -> ingress -> worker), and the worker measures the time
-- from `at` to its cache being written. Give this table the same webhook trigger as the watched
-- tables (docs/supabase.md, "The canary's trigger"), and give the role of --canary-postgres-url
-- the grants below. Safe to run again.
CREATE SCHEMA IF NOT EXISTS revalidator;

CREATE TABLE IF NOT EXISTS revalidator.canary (
    collection text        PRIMARY KEY,  -- the collection's name (the table's "schema.table"
                                         -- for a worker configured by the table flags)
    beat       bigint      NOT NULL,     -- 1, 2, 3, ... per collection
    at         timestamptz NOT NULL      -- clock_timestamp() of the beat's write
);

-- The canary's writer needs only these (replace the role with the one --canary-postgres-url uses):
--   GRANT USAGE ON SCHEMA revalidator TO revalidator_canary;
--   GRANT SELECT, INSERT, UPDATE ON revalidator.canary TO revalidator_canary;
