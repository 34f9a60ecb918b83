-- Keyset paging (issue #20): every key a node or port list may sort by gets an index on
-- (key, id), the order a page is read in, so the rows after a marker are one index range
-- and page 100 costs what page 1 does. uuid, name and address are UNIQUE (indexed already).
-- The single-column indexes the new ones cover go.
DROP INDEX nodes_driver;
DROP INDEX nodes_conductor_group;
DROP INDEX nodes_reservation;
CREATE INDEX nodes_sort_created_at ON nodes(created_at, id);
CREATE INDEX nodes_sort_updated_at ON nodes(updated_at, id);
CREATE INDEX nodes_sort_driver ON nodes(driver, id);
CREATE INDEX nodes_sort_instance_uuid ON nodes(instance_uuid, id);
CREATE INDEX nodes_sort_instance_name ON nodes(instance_name, id);
CREATE INDEX nodes_sort_last_error ON nodes(last_error, id);
CREATE INDEX nodes_sort_maintenance ON nodes(maintenance, id);
CREATE INDEX nodes_sort_maintenance_reason ON nodes(maintenance_reason, id);
CREATE INDEX nodes_sort_fault ON nodes(fault, id);
CREATE INDEX nodes_sort_power_state ON nodes(power_state, id);
CREATE INDEX nodes_sort_target_power_state ON nodes(target_power_state, id);
CREATE INDEX nodes_sort_provision_state ON nodes(provision_state, id);
CREATE INDEX nodes_sort_target_provision_state ON nodes(target_provision_state, id);
CREATE INDEX nodes_sort_provision_updated_at ON nodes(provision_updated_at, id);
CREATE INDEX nodes_sort_reservation ON nodes(reservation, id);
CREATE INDEX nodes_sort_console_enabled ON nodes(console_enabled, id);
CREATE INDEX nodes_sort_inspection_started_at ON nodes(inspection_started_at, id);
CREATE INDEX nodes_sort_inspection_finished_at ON nodes(inspection_finished_at, id);
CREATE INDEX nodes_sort_resource_class ON nodes(resource_class, id);
CREATE INDEX nodes_sort_bios_interface ON nodes(bios_interface, id);
CREATE INDEX nodes_sort_boot_interface ON nodes(boot_interface, id);
CREATE INDEX nodes_sort_console_interface ON nodes(console_interface, id);
CREATE INDEX nodes_sort_deploy_interface ON nodes(deploy_interface, id);
CREATE INDEX nodes_sort_firmware_interface ON nodes(firmware_interface, id);
CREATE INDEX nodes_sort_inspect_interface ON nodes(inspect_interface, id);
CREATE INDEX nodes_sort_management_interface ON nodes(management_interface, id);
CREATE INDEX nodes_sort_network_interface ON nodes(network_interface, id);
CREATE INDEX nodes_sort_power_interface ON nodes(power_interface, id);
CREATE INDEX nodes_sort_raid_interface ON nodes(raid_interface, id);
CREATE INDEX nodes_sort_rescue_interface ON nodes(rescue_interface, id);
CREATE INDEX nodes_sort_storage_interface ON nodes(storage_interface, id);
CREATE INDEX nodes_sort_vendor_interface ON nodes(vendor_interface, id);
CREATE INDEX nodes_sort_conductor_group ON nodes(conductor_group, id);
CREATE INDEX nodes_sort_automated_clean ON nodes(automated_clean, id);
CREATE INDEX nodes_sort_protected ON nodes(protected, id);
CREATE INDEX nodes_sort_protected_reason ON nodes(protected_reason, id);
CREATE INDEX nodes_sort_owner ON nodes(owner, id);
CREATE INDEX nodes_sort_lessee ON nodes(lessee, id);
CREATE INDEX nodes_sort_description ON nodes(description, id);
CREATE INDEX nodes_sort_retired ON nodes(retired, id);
CREATE INDEX nodes_sort_retired_reason ON nodes(retired_reason, id);
CREATE INDEX nodes_sort_boot_mode ON nodes(boot_mode, id);
CREATE INDEX nodes_sort_secure_boot ON nodes(secure_boot, id);
CREATE INDEX nodes_sort_shard ON nodes(shard, id);
CREATE INDEX nodes_sort_disable_power_off ON nodes(disable_power_off, id);
CREATE INDEX nodes_sort_health ON nodes(health, id);
-- Partial: a full index on parent_node would win every list's default `parent_node IS NULL`
-- filter and force a sort of the whole table; this one serves lookups of a parent's children.
CREATE INDEX nodes_sort_parent_node ON nodes(parent_node, id) WHERE parent_node IS NOT NULL;
CREATE INDEX ports_sort_created_at ON ports(created_at, id);
CREATE INDEX ports_sort_updated_at ON ports(updated_at, id);
CREATE INDEX ports_sort_pxe_enabled ON ports(pxe_enabled, id);
CREATE INDEX ports_sort_physical_network ON ports(physical_network, id);
CREATE INDEX ports_sort_is_smartnic ON ports(is_smartnic, id);
CREATE INDEX ports_sort_description ON ports(description, id);
CREATE INDEX ports_sort_vendor ON ports(vendor, id);
CREATE INDEX ports_sort_category ON ports(category, id);
