-- Sample rows for compose.yaml, so that the first resync has something to write, and the
-- authors table. Runs once, when
-- the postgres container initialises an empty data directory, after schema/articles.sql (the
-- entrypoint runs its files in name order: 01-articles.sql, then 02-seed.sql).
INSERT INTO public.articles (title, body, published_at) VALUES
    ('Hello, revalidator', 'The first article.',  '2024-01-01T09:00:00Z'),
    ('Caching done right', 'Postgres says what is true; Memcached shows it.', '2024-01-02T09:00:00Z'),
    ('Webhooks get lost',  NULL, '2024-01-03T09:00:00Z');

-- A second watched table, keyed by uuid as Supabase makes them (docker/collections.toml).
CREATE TABLE public.authors (
    id   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL,
    bio  text
);
INSERT INTO public.authors (name, bio) VALUES
    ('Ada', 'Writes about caches.'),
    ('Grace', NULL);
