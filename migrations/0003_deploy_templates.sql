-- 0003: deploy templates (Ironic 1.55+): named step lists applied at deploy time to nodes
-- whose instance_info.traits include the template's name.

CREATE TABLE deploy_templates (
    id          INTEGER PRIMARY KEY,
    uuid        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL UNIQUE,
    steps       TEXT NOT NULL DEFAULT '[]',
    extra       TEXT NOT NULL DEFAULT '{}',
    created_at  TEXT NOT NULL,
    updated_at  TEXT
);
