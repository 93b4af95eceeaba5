-- TRUNCATE sends no Database Webhook: Supabase's webhooks are row triggers, and TRUNCATE fires no
-- row trigger. This statement trigger tells revalidator instead, with the body the ingress takes
-- as "resync this table" (docs/supabase.md, "TRUNCATE"):
--   {"type":"TRUNCATE","table":...,"schema":...,"record":null,"old_record":null}
-- Load it after the table exists, once per watched table (change the table and the trigger's
-- name; the function serves every table). Replace the URL and <secret> with yours, or read the
-- secret from Vault as docs/supabase.md shows. net.http_post (pg_net) adds
-- "Content-Type: application/json" itself when the headers leave it out. The integration tests
-- load this file with a stand-in for net.http_post (tests/integration/supabase_test.cpp).
CREATE OR REPLACE FUNCTION public.revalidator_truncated() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  PERFORM net.http_post(
    url     := 'https://ingress.example.com/revalidate',
    body    := jsonb_build_object('type',       'TRUNCATE',
                                  'table',      tg_table_name,
                                  'schema',     tg_table_schema,
                                  'record',     null,
                                  'old_record', null),
    headers := jsonb_build_object('Authorization', 'Bearer <secret>'),
    timeout_milliseconds := 5000);
  RETURN null;  -- AFTER ... FOR EACH STATEMENT: the result is ignored
END $$;

CREATE OR REPLACE TRIGGER articles_revalidate_truncate
  AFTER TRUNCATE ON public.articles
  FOR EACH STATEMENT EXECUTE FUNCTION public.revalidator_truncated();
