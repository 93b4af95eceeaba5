-- A stand-in for pg_net, where none exists (the tests, scripts/run, scripts/cluster): a trigger
-- queues each row change as the webhook body Supabase sends, and revalidator-stand-in-sender
-- (tools/stand_in_sender.cpp) POSTs each one after commit, at most once, with pg_net's default
-- timeout of 1 s. What it does not model: docs/operations.md, "The stand-in sender".
-- Attach it to a table with:
--   CREATE TRIGGER revalidate AFTER INSERT OR UPDATE OR DELETE ON public.articles
--     FOR EACH ROW EXECUTE FUNCTION revalidator.queue_webhook();
-- Safe to run again.
CREATE SCHEMA IF NOT EXISTS revalidator;

-- UNLOGGED, as pg_net's own queue (net.http_request_queue): a crash of Postgres empties it.
CREATE UNLOGGED TABLE IF NOT EXISTS revalidator.webhook_queue (
    id   bigserial PRIMARY KEY,
    body jsonb     NOT NULL
);

CREATE OR REPLACE FUNCTION revalidator.queue_webhook() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO revalidator.webhook_queue (body) VALUES (jsonb_build_object(
        'type',       tg_op,
        'table',      tg_table_name,
        'schema',     tg_table_schema,
        'record',     CASE WHEN tg_op = 'DELETE' THEN NULL ELSE to_jsonb(new) END,
        'old_record', CASE WHEN tg_op = 'INSERT' THEN NULL ELSE to_jsonb(old) END));
    -- Delivered to the sender at commit, never for a rolled-back change.
    PERFORM pg_notify('revalidator_webhook_queue', '');
    RETURN NULL;
END $$;
