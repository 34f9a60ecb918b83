-- 0012: volume connectors and targets (Ironic 1.32): a node's storage endpoints and the
-- volumes it boots from. Deleting a node deletes its connectors and targets.

CREATE TABLE volume_connectors (
    id           INTEGER PRIMARY KEY,
    uuid         TEXT NOT NULL UNIQUE,
    node_id      INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
    type         TEXT NOT NULL,
    connector_id TEXT NOT NULL,
    extra        TEXT NOT NULL DEFAULT '{}',
    created_at   TEXT NOT NULL,
    updated_at   TEXT,
    UNIQUE (type, connector_id)
);
CREATE INDEX volume_connectors_node ON volume_connectors(node_id);

CREATE TABLE volume_targets (
    id          INTEGER PRIMARY KEY,
    uuid        TEXT NOT NULL UNIQUE,
    node_id     INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
    volume_type TEXT NOT NULL,
    properties  TEXT NOT NULL DEFAULT '{}',
    boot_index  INTEGER NOT NULL,
    volume_id   TEXT NOT NULL,
    extra       TEXT NOT NULL DEFAULT '{}',
    created_at  TEXT NOT NULL,
    updated_at  TEXT,
    UNIQUE (node_id, boot_index)
);
CREATE INDEX volume_targets_volume ON volume_targets(volume_id);
