-- 0008: inspection rules (Ironic 1.96): conditions and actions run on inspection data.
-- conditions and actions are JSON lists, as Ironic stores them.

CREATE TABLE inspection_rules (
    id          INTEGER PRIMARY KEY,
    uuid        TEXT NOT NULL UNIQUE,
    description TEXT,
    priority    INTEGER NOT NULL DEFAULT 0,
    sensitive   INTEGER NOT NULL DEFAULT 0,
    phase       TEXT NOT NULL DEFAULT 'main',
    conditions  TEXT NOT NULL DEFAULT '[]',
    actions     TEXT NOT NULL DEFAULT '[]',
    created_at  TEXT NOT NULL,
    updated_at  TEXT
);
CREATE INDEX inspection_rules_phase ON inspection_rules (phase, priority);
