-- Sample schema for compose.yaml: the table revalidator watches by default (public.articles,
-- primary key id) and a few rows, so that the first resync has something to write.
-- Runs once, when the postgres container initialises an empty data directory.
CREATE TABLE IF NOT EXISTS public.articles (
    id           bigserial   PRIMARY KEY,
    title        text        NOT NULL,
    body         text,
    published_at timestamptz NOT NULL DEFAULT now(),
    version      integer     NOT NULL DEFAULT 1
);

INSERT INTO public.articles (title, body, published_at) VALUES
    ('Hello, revalidator', 'The first article.',  '2024-01-01T09:00:00Z'),
    ('Caching done right', 'Postgres says what is true; Memcached shows it.', '2024-01-02T09:00:00Z'),
    ('Webhooks get lost',  NULL, '2024-01-03T09:00:00Z');
