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
CREATE TABLE bios_settings (
    node_id     INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    value       TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT, attribute_type TEXT, allowable_values TEXT, lower_bound INTEGER, upper_bound INTEGER, min_length INTEGER, max_length INTEGER, read_only INTEGER, reset_required INTEGER, "unique" INTEGER,
    PRIMARY KEY (node_id, name)
);
CREATE TABLE chassis (
    id          INTEGER PRIMARY KEY,
    uuid        TEXT NOT NULL UNIQUE,
    description TEXT,
    extra       TEXT NOT NULL DEFAULT '{}',
    created_at  TEXT NOT NULL,
    updated_at  TEXT
);
CREATE TABLE conductors (
    id              INTEGER PRIMARY KEY,
    hostname        TEXT NOT NULL UNIQUE,
    conductor_group TEXT NOT NULL DEFAULT '',
    online          INTEGER NOT NULL DEFAULT 1,
    drivers         TEXT NOT NULL DEFAULT '[]',
    created_at      TEXT NOT NULL,
    updated_at      TEXT
, rpc_address TEXT);
CREATE TABLE deploy_templates (
    id          INTEGER PRIMARY KEY,
    uuid        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL UNIQUE,
    steps       TEXT NOT NULL DEFAULT '[]',
    extra       TEXT NOT NULL DEFAULT '{}',
    created_at  TEXT NOT NULL,
    updated_at  TEXT
);
CREATE TABLE dhcp_leases (
    ip          TEXT PRIMARY KEY,
    mac         TEXT NOT NULL,
    state       TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    updated_at  TEXT NOT NULL
);
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
CREATE TABLE node_history (
    id                     INTEGER PRIMARY KEY,
    uuid                   TEXT NOT NULL UNIQUE,
    node_id                INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
    severity               TEXT NOT NULL,
    event_type             TEXT NOT NULL,
    event                  TEXT NOT NULL,
    conductor              TEXT,
    user                   TEXT,
    state                  TEXT,
    target_provision_state TEXT,
    duration_seconds       REAL,
    created_at             TEXT NOT NULL
);
CREATE TABLE node_inventory (
    node_id     INTEGER PRIMARY KEY REFERENCES nodes(id) ON DELETE CASCADE,
    inventory   TEXT NOT NULL,
    plugin_data TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT
);
CREATE TABLE node_traits (
    node_id    INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
    trait      TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (node_id, trait)
);
CREATE TABLE nodes (
    id                     INTEGER PRIMARY KEY,
    uuid                   TEXT NOT NULL UNIQUE,
    name                   TEXT UNIQUE,
    chassis_id             INTEGER REFERENCES chassis(id),
    driver                 TEXT NOT NULL,
    driver_info            TEXT NOT NULL DEFAULT '{}',
    driver_internal_info   TEXT NOT NULL DEFAULT '{}',
    properties             TEXT NOT NULL DEFAULT '{}',
    instance_info          TEXT NOT NULL DEFAULT '{}',
    instance_uuid          TEXT UNIQUE,
    instance_name          TEXT,
    extra                  TEXT NOT NULL DEFAULT '{}',
    power_state            TEXT,
    target_power_state     TEXT,
    provision_state        TEXT NOT NULL,
    target_provision_state TEXT,
    provision_updated_at   TEXT,
    maintenance            INTEGER NOT NULL DEFAULT 0,
    maintenance_reason     TEXT,
    fault                  TEXT,
    last_error             TEXT,
    reservation            TEXT,
    console_enabled        INTEGER NOT NULL DEFAULT 0,
    raid_config            TEXT NOT NULL DEFAULT '{}',
    target_raid_config     TEXT NOT NULL DEFAULT '{}',
    clean_step             TEXT NOT NULL DEFAULT '{}',
    deploy_step            TEXT NOT NULL DEFAULT '{}',
    service_step           TEXT NOT NULL DEFAULT '{}',
    inspection_started_at  TEXT,
    inspection_finished_at TEXT,
    resource_class         TEXT,
    bios_interface         TEXT,
    boot_interface         TEXT,
    console_interface      TEXT,
    deploy_interface       TEXT,
    firmware_interface     TEXT,
    inspect_interface      TEXT,
    management_interface   TEXT,
    network_interface      TEXT,
    power_interface        TEXT,
    raid_interface         TEXT,
    rescue_interface       TEXT,
    storage_interface      TEXT,
    vendor_interface       TEXT,
    conductor_group        TEXT NOT NULL DEFAULT '',
    automated_clean        INTEGER,
    protected              INTEGER NOT NULL DEFAULT 0,
    protected_reason       TEXT,
    owner                  TEXT,
    lessee                 TEXT,
    description            TEXT,
    allocation_id          INTEGER,
    retired                INTEGER NOT NULL DEFAULT 0,
    retired_reason         TEXT,
    network_data           TEXT NOT NULL DEFAULT '{}',
    boot_mode              TEXT,
    secure_boot            INTEGER,
    shard                  TEXT,
    parent_node            TEXT,
    disable_power_off      INTEGER NOT NULL DEFAULT 0,
    health                 TEXT,
    created_at             TEXT NOT NULL,
    updated_at             TEXT
);
CREATE TABLE portgroups (
    id                         INTEGER PRIMARY KEY,
    uuid                       TEXT NOT NULL UNIQUE,
    name                       TEXT UNIQUE,
    node_id                    INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
    address                    TEXT UNIQUE,
    standalone_ports_supported INTEGER NOT NULL DEFAULT 1,
    mode                       TEXT,
    properties                 TEXT NOT NULL DEFAULT '{}',
    physical_network           TEXT,
    category                   TEXT,
    internal_info              TEXT NOT NULL DEFAULT '{}',
    extra                      TEXT NOT NULL DEFAULT '{}',
    created_at                 TEXT NOT NULL,
    updated_at                 TEXT
);
CREATE TABLE ports (
    id                    INTEGER PRIMARY KEY,
    uuid                  TEXT NOT NULL UNIQUE,
    name                  TEXT UNIQUE,
    address               TEXT NOT NULL UNIQUE,
    node_id               INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
    portgroup_id          INTEGER REFERENCES portgroups(id),
    local_link_connection TEXT NOT NULL DEFAULT '{}',
    pxe_enabled           INTEGER NOT NULL DEFAULT 1,
    physical_network      TEXT,
    is_smartnic           INTEGER NOT NULL DEFAULT 0,
    description           TEXT,
    vendor                TEXT,
    category              TEXT,
    internal_info         TEXT NOT NULL DEFAULT '{}',
    extra                 TEXT NOT NULL DEFAULT '{}',
    created_at            TEXT NOT NULL,
    updated_at            TEXT
);
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
CREATE INDEX allocations_state ON allocations(state);
CREATE INDEX dhcp_leases_mac ON dhcp_leases(mac);
CREATE INDEX inspection_rules_phase ON inspection_rules (phase, priority);
CREATE INDEX node_history_node ON node_history(node_id, id);
CREATE INDEX nodes_chassis ON nodes(chassis_id);
CREATE INDEX nodes_sort_automated_clean ON nodes(automated_clean, id);
CREATE INDEX nodes_sort_bios_interface ON nodes(bios_interface, id);
CREATE INDEX nodes_sort_boot_interface ON nodes(boot_interface, id);
CREATE INDEX nodes_sort_boot_mode ON nodes(boot_mode, id);
CREATE INDEX nodes_sort_conductor_group ON nodes(conductor_group, id);
CREATE INDEX nodes_sort_console_enabled ON nodes(console_enabled, id);
CREATE INDEX nodes_sort_console_interface ON nodes(console_interface, id);
CREATE INDEX nodes_sort_created_at ON nodes(created_at, id);
CREATE INDEX nodes_sort_deploy_interface ON nodes(deploy_interface, id);
CREATE INDEX nodes_sort_description ON nodes(description, id);
CREATE INDEX nodes_sort_disable_power_off ON nodes(disable_power_off, id);
CREATE INDEX nodes_sort_driver ON nodes(driver, id);
CREATE INDEX nodes_sort_fault ON nodes(fault, id);
CREATE INDEX nodes_sort_firmware_interface ON nodes(firmware_interface, id);
CREATE INDEX nodes_sort_health ON nodes(health, id);
CREATE INDEX nodes_sort_inspect_interface ON nodes(inspect_interface, id);
CREATE INDEX nodes_sort_inspection_finished_at ON nodes(inspection_finished_at, id);
CREATE INDEX nodes_sort_inspection_started_at ON nodes(inspection_started_at, id);
CREATE INDEX nodes_sort_instance_name ON nodes(instance_name, id);
CREATE INDEX nodes_sort_instance_uuid ON nodes(instance_uuid, id);
CREATE INDEX nodes_sort_last_error ON nodes(last_error, id);
CREATE INDEX nodes_sort_lessee ON nodes(lessee, id);
CREATE INDEX nodes_sort_maintenance ON nodes(maintenance, id);
CREATE INDEX nodes_sort_maintenance_reason ON nodes(maintenance_reason, id);
CREATE INDEX nodes_sort_management_interface ON nodes(management_interface, id);
CREATE INDEX nodes_sort_network_interface ON nodes(network_interface, id);
CREATE INDEX nodes_sort_owner ON nodes(owner, id);
CREATE INDEX nodes_sort_parent_node ON nodes(parent_node, id) WHERE parent_node IS NOT NULL;
CREATE INDEX nodes_sort_power_interface ON nodes(power_interface, id);
CREATE INDEX nodes_sort_power_state ON nodes(power_state, id);
CREATE INDEX nodes_sort_protected ON nodes(protected, id);
CREATE INDEX nodes_sort_protected_reason ON nodes(protected_reason, id);
CREATE INDEX nodes_sort_provision_state ON nodes(provision_state, id);
CREATE INDEX nodes_sort_provision_updated_at ON nodes(provision_updated_at, id);
CREATE INDEX nodes_sort_raid_interface ON nodes(raid_interface, id);
CREATE INDEX nodes_sort_rescue_interface ON nodes(rescue_interface, id);
CREATE INDEX nodes_sort_reservation ON nodes(reservation, id);
CREATE INDEX nodes_sort_resource_class ON nodes(resource_class, id);
CREATE INDEX nodes_sort_retired ON nodes(retired, id);
CREATE INDEX nodes_sort_retired_reason ON nodes(retired_reason, id);
CREATE INDEX nodes_sort_secure_boot ON nodes(secure_boot, id);
CREATE INDEX nodes_sort_shard ON nodes(shard, id);
CREATE INDEX nodes_sort_storage_interface ON nodes(storage_interface, id);
CREATE INDEX nodes_sort_target_power_state ON nodes(target_power_state, id);
CREATE INDEX nodes_sort_target_provision_state ON nodes(target_provision_state, id);
CREATE INDEX nodes_sort_updated_at ON nodes(updated_at, id);
CREATE INDEX nodes_sort_vendor_interface ON nodes(vendor_interface, id);
CREATE INDEX nodes_state_counts ON nodes(provision_state, power_state, maintenance);
CREATE INDEX portgroups_node ON portgroups(node_id);
CREATE INDEX ports_node ON ports(node_id);
CREATE INDEX ports_portgroup ON ports(portgroup_id);
CREATE INDEX ports_sort_category ON ports(category, id);
CREATE INDEX ports_sort_created_at ON ports(created_at, id);
CREATE INDEX ports_sort_description ON ports(description, id);
CREATE INDEX ports_sort_is_smartnic ON ports(is_smartnic, id);
CREATE INDEX ports_sort_physical_network ON ports(physical_network, id);
CREATE INDEX ports_sort_pxe_enabled ON ports(pxe_enabled, id);
CREATE INDEX ports_sort_updated_at ON ports(updated_at, id);
CREATE INDEX ports_sort_vendor ON ports(vendor, id);
CREATE INDEX volume_connectors_node ON volume_connectors(node_id);
CREATE INDEX volume_targets_volume ON volume_targets(volume_id);
