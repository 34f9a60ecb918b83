-- 0005: BIOS settings as last read or applied by a node's bios interface
-- (GET /v1/nodes/{id}/bios). They go with the node.

CREATE TABLE bios_settings (
    node_id     INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    value       TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT,
    PRIMARY KEY (node_id, name)
);
