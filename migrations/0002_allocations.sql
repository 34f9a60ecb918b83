-- 0002: allocations (Ironic 1.52+): a request for a node by resource class and traits,
-- bound to the node it got. Deleting the node deletes its allocation.

CREATE TABLE allocations (
    id               INTEGER PRIMARY KEY,
    uuid             TEXT NOT NULL UNIQUE,
    name             TEXT UNIQUE,
    node_id          INTEGER UNIQUE REFERENCES nodes(id) ON DELETE CASCADE,
    resource_class   TEXT,
    traits           TEXT NOT NULL DEFAULT '[]',
    candidate_nodes  TEXT NOT NULL DEFAULT '[]',
    state            TEXT NOT NULL,
    last_error       TEXT,
    owner            TEXT,
    extra            TEXT NOT NULL DEFAULT '{}',
    created_at       TEXT NOT NULL,
    updated_at       TEXT
);
CREATE INDEX allocations_state ON allocations(state);
