-- What in-band inspection reported for a node (GET /v1/nodes/{id}/inventory): the agent's
-- hardware inventory and everything else it sent (plugin data). One row per node.
CREATE TABLE node_inventory (
    node_id     INTEGER PRIMARY KEY REFERENCES nodes(id) ON DELETE CASCADE,
    inventory   TEXT NOT NULL,
    plugin_data TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT
);
