-- 0011: runbooks (Ironic 1.92+, traits and description 1.112+): named clean/service step
-- lists a node runs when its traits approve them. Steps and traits are JSON lists: they
-- are only ever read and written whole with their runbook.

CREATE TABLE runbooks (
    id              INTEGER PRIMARY KEY,
    uuid            TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL UNIQUE,
    description     TEXT,
    steps           TEXT NOT NULL DEFAULT '[]',
    disable_ramdisk INTEGER NOT NULL DEFAULT 0,
    public          INTEGER NOT NULL DEFAULT 0,
    owner           TEXT,
    traits          TEXT NOT NULL DEFAULT '[]',
    extra           TEXT NOT NULL DEFAULT '{}',
    created_at      TEXT NOT NULL,
    updated_at      TEXT
);
