-- public.articles: the table revalidator watches by default (primary key id). The one definition
-- every user loads: compose.yaml (docker-entrypoint-initdb.d), scripts/run, bench/run and the
-- integration tests (tests/integration/stack.cpp). Seed rows, test-only tables and the like are
-- added by each user after this file, never by copying it.
CREATE TABLE IF NOT EXISTS public.articles (
    id           bigserial   PRIMARY KEY,
    title        text        NOT NULL,
    body         text,
    published_at timestamptz NOT NULL DEFAULT now(),
    version      integer     NOT NULL DEFAULT 1
);
