-- 0010: firmware components as a node's firmware interface recorded them (Ironic's
-- firmware_information: GET /v1/nodes/{id}/firmware), and the BIOS attribute registry's
-- facts beside each cached BIOS setting (GET /v1/nodes/{id}/bios?detail=true, 1.74).

CREATE TABLE firmware_information (
    node_id              INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
    component            TEXT NOT NULL,
    initial_version      TEXT NOT NULL,
    current_version      TEXT,
    last_version_flashed TEXT,
    vendor               TEXT,
    model                TEXT,
    serial_number        TEXT,
    created_at           TEXT NOT NULL,
    updated_at           TEXT,
    PRIMARY KEY (node_id, component)
);

-- allowable_values is a JSON list; the booleans are 0/1; all NULL when unknown.
ALTER TABLE bios_settings ADD COLUMN attribute_type TEXT;
ALTER TABLE bios_settings ADD COLUMN allowable_values TEXT;
ALTER TABLE bios_settings ADD COLUMN lower_bound INTEGER;
ALTER TABLE bios_settings ADD COLUMN upper_bound INTEGER;
ALTER TABLE bios_settings ADD COLUMN min_length INTEGER;
ALTER TABLE bios_settings ADD COLUMN max_length INTEGER;
ALTER TABLE bios_settings ADD COLUMN read_only INTEGER;
ALTER TABLE bios_settings ADD COLUMN reset_required INTEGER;
ALTER TABLE bios_settings ADD COLUMN "unique" INTEGER;
