//! The microversion table: every version from 1.1 to the advertised maximum, the feature it
//! brought (Ironic's REST API version history) and the tests that use that feature. The test
//! below fails when a version has no row, a row names a test that does not exist, or the
//! maximum in `src/api/microversion.rs` grows without rows; it also keeps the rendered table,
//! `tests/microversions.md`, in step (`UPDATE_GOLDEN=1` rewrites it).

use std::path::Path;

/// (minor version, feature, tests). A test is `module::name` for `tests/integration/module.rs`,
/// `src/path.rs::name` for a unit test, `tests/dir/file.py::name` for pytest.
#[rustfmt::skip]
const TABLE: &[(u32, &str, &[&str])] = &[
    (1, "baseline: nodes, ports, chassis, drivers, maintenance, vendor passthru, config drive", &["nodes::create_show_and_field_hiding_by_version", "inventory::chassis", "src/api/microversion.rs::negotiation"]),
    (2, "`available` replaces the null provision state", &["mv_gates::node_filters_appear_at_their_version", "nodes::create_show_and_field_hiding_by_version"]),
    (3, "node `driver_internal_info`", &["mv_gates::fields_appear_at_their_version"]),
    (4, "`manageable` state; `manage` and `provide` verbs", &["mv_gates::actions_appear_at_their_version", "src/api/params/provision.rs::every_verb_arrives_at_its_version"]),
    (5, "node `name` (logical names)", &["mv_gates::fields_appear_at_their_version", "nodes::create_show_and_field_hiding_by_version"]),
    (6, "`inspect` verb, inspection timestamps", &["mv_gates::fields_appear_at_their_version", "mv_gates::actions_appear_at_their_version", "src/api/params/provision.rs::every_verb_arrives_at_its_version"]),
    (7, "node `clean_step`", &["mv_gates::fields_appear_at_their_version"]),
    (8, "`?fields=`", &["mv_gates::node_filters_appear_at_their_version"]),
    (9, "`?provision_state=` filter", &["mv_gates::node_filters_appear_at_their_version"]),
    (10, "node names with RFC 3986 unreserved characters", &["mv_gates::actions_appear_at_their_version"]),
    (11, "new nodes start in `enroll`", &["nodes::create_show_and_field_hiding_by_version", "tests/compat/test_cli.py::test_node_initial_state_depends_on_microversion"]),
    (12, "RAID: `raid_config`, `target_raid_config`, `PUT /states/raid`", &["mv_gates::fields_appear_at_their_version", "mv_gates::actions_appear_at_their_version"]),
    (13, "`abort` verb from `clean wait`", &["src/api/params/provision.rs::every_verb_arrives_at_its_version"]),
    (14, "`states` link on nodes, `properties` link on drivers", &["mv_gates::fields_appear_at_their_version"]),
    (15, "manual cleaning (`clean` verb with `clean_steps`)", &["src/api/params/provision.rs::every_verb_arrives_at_its_version", "deploy::manual_cleaning_runs_steps_only_the_agent_offers"]),
    (16, "`?driver=` filter", &["mv_gates::node_filters_appear_at_their_version"]),
    (17, "`adopt` verb", &["src/api/params/provision.rs::every_verb_arrives_at_its_version", "tests/compat/test_lifecycle.py::test_adopt"]),
    (18, "port `internal_info`", &["mv_gates::fields_appear_at_their_version"]),
    (19, "port `local_link_connection`, `pxe_enabled`", &["mv_gates::fields_appear_at_their_version"]),
    (20, "node `network_interface`", &["mv_gates::fields_appear_at_their_version", "nodes::create_show_and_field_hiding_by_version"]),
    (21, "node `resource_class` and its filter", &["mv_gates::fields_appear_at_their_version", "mv_gates::node_filters_appear_at_their_version"]),
    (22, "ramdisk `lookup` and `heartbeat`", &["deploy::lookup_and_heartbeat_follow_ironics_rules", "mv_gates::endpoints_appear_at_their_version"]),
    (23, "portgroups", &["inventory::portgroups", "mv_gates::endpoints_appear_at_their_version"]),
    (24, "node and portgroup sub-collections, port `portgroup_uuid`", &["mv_gates::endpoints_appear_at_their_version", "mv_gates::fields_appear_at_their_version"]),
    (25, "a node may leave its chassis", &["mv_gates::actions_appear_at_their_version"]),
    (26, "portgroup `mode`, `properties`", &["mv_gates::fields_appear_at_their_version"]),
    (27, "soft power off, soft reboot, power `timeout`", &["mv_gates::actions_appear_at_their_version", "provision::power_and_management"]),
    (28, "node VIFs", &["vifs::vif_requests_are_checked_and_gated", "mv_gates::endpoints_appear_at_their_version"]),
    (29, "inject NMI", &["mv_gates::actions_appear_at_their_version", "provision::power_and_management"]),
    (30, "dynamic drivers (`type`, `detail` on drivers)", &["mv_gates::endpoints_appear_at_their_version"]),
    (31, "node hardware interface fields", &["mv_gates::fields_appear_at_their_version", "nodes::create_show_and_field_hiding_by_version"]),
    (32, "volume connectors and targets", &["volume::gate_links_and_root", "mv_gates::endpoints_appear_at_their_version"]),
    (33, "node `storage_interface`", &["mv_gates::fields_appear_at_their_version", "volume::storage_interface_noop_and_unknown"]),
    (34, "port `physical_network`", &["mv_gates::fields_appear_at_their_version"]),
    (35, "config drive on `rebuild`", &["src/api/params/provision.rs::every_verb_arrives_at_its_version", "src/api/params/provision.rs::arguments_newer_than_the_version_are_not_acceptable"]),
    (36, "heartbeat `agent_version`", &["mv_gates::ramdisk_fields_and_allocation_names"]),
    (37, "node `traits`", &["mv_gates::fields_appear_at_their_version", "nodes::traits_maintenance_states_validate_history"]),
    (38, "`rescue`/`unrescue` verbs, node `rescue_interface`", &["mv_gates::fields_appear_at_their_version", "src/api/params/provision.rs::every_verb_arrives_at_its_version"]),
    (39, "`inspect wait` state shown", &["mv_gates::actions_appear_at_their_version", "deploy::in_band_inspection_stores_the_inventory"]),
    (40, "node `bios_interface`, `/nodes/X/bios`", &["mv_gates::fields_appear_at_their_version", "mv_gates::endpoints_appear_at_their_version"]),
    (41, "`abort` from `inspect wait`", &["mv_gates::actions_appear_at_their_version", "src/api/params/provision.rs::abort_from_a_wait_state_needs_that_states_version"]),
    (42, "node `fault` and its filter", &["mv_gates::fields_appear_at_their_version", "mv_gates::node_filters_appear_at_their_version"]),
    (43, "`?detail=true` on lists", &["mv_gates::node_filters_appear_at_their_version"]),
    (44, "node `deploy_step`", &["mv_gates::fields_appear_at_their_version"]),
    (45, "`reset_interfaces` on node PATCH", &["mv_gates::actions_appear_at_their_version"]),
    (46, "node `conductor_group` and its filter", &["mv_gates::fields_appear_at_their_version", "mv_gates::node_filters_appear_at_their_version"]),
    (47, "node `automated_clean`", &["mv_gates::fields_appear_at_their_version"]),
    (48, "node `protected`, `protected_reason`", &["mv_gates::fields_appear_at_their_version"]),
    (49, "node `conductor`, `/v1/conductors`, `?conductor=`", &["mv_gates::fields_appear_at_their_version", "mv_gates::endpoints_appear_at_their_version", "mv_gates::node_filters_appear_at_their_version", "inventory::drivers_and_conductors"]),
    (50, "node `owner` and its filter", &["mv_gates::fields_appear_at_their_version", "mv_gates::node_filters_appear_at_their_version"]),
    (51, "node `description`, `?description_contains=`", &["mv_gates::fields_appear_at_their_version", "mv_gates::node_filters_appear_at_their_version"]),
    (52, "allocations, node `allocation_uuid`", &["mv_gates::endpoints_appear_at_their_version", "mv_gates::fields_appear_at_their_version", "allocations::allocations_pick_matching_nodes"]),
    (53, "port `is_smartnic`", &["mv_gates::fields_appear_at_their_version"]),
    (54, "`POST /v1/events`", &["events_indicators::events_are_accepted_counted_and_checked", "mv_gates::endpoints_appear_at_their_version"]),
    (55, "deploy templates", &["allocations::deploy_templates_add_steps_through_traits", "mv_gates::endpoints_appear_at_their_version"]),
    (56, "config drive as a JSON object", &["src/api/params/provision.rs::configdrive_shapes"]),
    (57, "allocation PATCH", &["allocations::allocations_pick_matching_nodes"]),
    (58, "allocation backfill (`node` in POST)", &["allocations::allocation_backfill"]),
    (59, "config drive `vendor_data`", &["src/api/params/provision.rs::configdrive_shapes", "src/image/configdrive/tests.rs::builds_the_layout_ironic_builds"]),
    (60, "allocation `owner`", &["mv_gates::fields_appear_at_their_version"]),
    (61, "node `retired`, `retired_reason`", &["mv_gates::fields_appear_at_their_version"]),
    (62, "agent token from lookup", &["deploy::lookup_and_heartbeat_follow_ironics_rules"]),
    (63, "indicators", &["events_indicators::fake_indicators_list_read_and_set"]),
    (64, "`network_type` in `local_link_connection`", &["mv_gates::port_links_follow_their_versions"]),
    (65, "node `lessee` and its filter", &["mv_gates::fields_appear_at_their_version", "mv_gates::node_filters_appear_at_their_version"]),
    (66, "node `network_data`", &["mv_gates::fields_appear_at_their_version"]),
    (67, "VIF attach naming `port_uuid`/`portgroup_uuid`", &["vifs::flat_attaches_by_ironics_rules_and_detaches", "src/api/node_vifs.rs::bodies_as_ironic_checks_them"]),
    (68, "heartbeat `agent_verify_ca`", &["mv_gates::ramdisk_fields_and_allocation_names"]),
    (69, "`deploy_steps` in a deploy", &["src/api/params/provision.rs::arguments_newer_than_the_version_are_not_acceptable"]),
    (70, "`disable_ramdisk` for manual cleaning", &["src/api/params/provision.rs::arguments_newer_than_the_version_are_not_acceptable"]),
    (71, "marker: scope-based RBAC (no behaviour of its own)", &["mv_gates::endpoints_appear_at_their_version"]),
    (72, "heartbeat `agent_status`, `agent_status_message`", &["mv_gates::ramdisk_fields_and_allocation_names"]),
    (73, "`deploy`/`undeploy` verbs", &["src/api/params/provision.rs::every_verb_arrives_at_its_version", "src/api/params/provision.rs::verbs_newer_than_the_version_are_not_acceptable"]),
    (74, "BIOS registry fields", &["redfish_firmware::verification_records_firmware_and_bios_with_its_registry"]),
    (75, "node `boot_mode`, `secure_boot`", &["mv_gates::fields_appear_at_their_version"]),
    (76, "`PUT /states/boot_mode`, `/states/secure_boot`", &["mv_gates::actions_appear_at_their_version", "provision::power_and_management"]),
    (77, "`?fields=` on drivers", &["mv_gates::node_filters_appear_at_their_version", "api_details::repeated_query_parameters_and_driver_fields"]),
    (78, "node history", &["mv_gates::endpoints_appear_at_their_version", "nodes::traits_maintenance_states_validate_history"]),
    (79, "an allocation prefers the node of its name", &["mv_gates::ramdisk_fields_and_allocation_names"]),
    (80, "marker: project-scoped node creation (no behaviour of its own)", &["mv_gates::endpoints_appear_at_their_version"]),
    (81, "`/nodes/X/inventory`", &["deploy::in_band_inspection_stores_the_inventory", "redfish_inspect::inspection_fills_properties_and_creates_ports"]),
    (82, "node `shard`, `/v1/shards`, `shard`/`sharded` filters", &["mv_gates::fields_appear_at_their_version", "mv_gates::endpoints_appear_at_their_version", "mv_gates::node_filters_appear_at_their_version"]),
    (83, "node `parent_node`, `/children`", &["mv_gates::fields_appear_at_their_version", "mv_gates::endpoints_appear_at_their_version", "mv_gates::node_filters_appear_at_their_version"]),
    (84, "`/v1/continue_inspection`", &["discovery::an_unknown_machine_is_enrolled_then_recognised", "mv_gates::endpoints_appear_at_their_version"]),
    (85, "`unhold` verb", &["src/api/params/provision.rs::every_verb_arrives_at_its_version", "tests/compat/test_lifecycle.py::test_clean_hold_then_unhold"]),
    (86, "node `firmware_interface`, `/nodes/X/firmware`", &["mv_gates::fields_appear_at_their_version", "mv_gates::endpoints_appear_at_their_version"]),
    (87, "`service` verb, node `service_step`", &["mv_gates::fields_appear_at_their_version", "src/api/params/provision.rs::every_verb_arrives_at_its_version", "redfish_firmware::firmware_update_as_a_service_step_on_a_deployed_node"]),
    (88, "port `name`", &["mv_gates::fields_appear_at_their_version"]),
    (89, "`POST`/`DELETE /nodes/X/vmedia`", &["vmedia::fake_vmedia_and_every_refusal", "vmedia::redfish_attach_get_and_detach_reach_the_bmc"]),
    (90, "OVN VTEP keys in `local_link_connection`", &["mv_gates::port_links_follow_their_versions"]),
    (91, "no `.json` suffix stripping", &["mv_gates::actions_appear_at_their_version"]),
    (92, "runbooks, `runbook` in a provision body", &["runbooks::runbooks_crud_with_ironics_rules", "src/api/params/provision.rs::runbook_is_a_name_from_1_92", "mv_gates::endpoints_appear_at_their_version"]),
    (93, "`GET /nodes/X/vmedia`", &["vmedia::fake_vmedia_and_every_refusal", "mv_gates::endpoints_appear_at_their_version"]),
    (94, "port create names its node by name", &["mv_gates::actions_appear_at_their_version", "inventory::ports"]),
    (95, "node `disable_power_off`", &["mv_gates::fields_appear_at_their_version", "bmo_fields::disable_power_off_and_abort_from_wait_call_back_follow_their_microversions"]),
    (96, "inspection rules", &["inspection_rules::inspection_rules_are_gated_at_1_96", "mv_gates::endpoints_appear_at_their_version"]),
    (97, "port `description`", &["mv_gates::fields_appear_at_their_version"]),
    (98, "JSON-patch keys with `~` or `/`", &["mv_gates::actions_appear_at_their_version"]),
    (99, "`conductor_groups` filter on ports and portgroups", &["mv_gates::node_filters_appear_at_their_version"]),
    (100, "port `vendor`", &["mv_gates::fields_appear_at_their_version"]),
    (101, "port `category`", &["mv_gates::fields_appear_at_their_version"]),
    (102, "portgroup `physical_network`", &["mv_gates::fields_appear_at_their_version"]),
    (103, "portgroup `category`", &["mv_gates::fields_appear_at_their_version"]),
    (104, "node `instance_name` and its filter", &["mv_gates::fields_appear_at_their_version", "mv_gates::node_filters_appear_at_their_version", "nodes::patch_rules"]),
    (105, "OVN VTEP keys refused again", &["mv_gates::port_links_follow_their_versions"]),
    (106, "portgroup `shard` filter", &["mv_gates::node_filters_appear_at_their_version"]),
    (107, "`X-OpenStack-Request-Id` header", &["mv_gates::endpoints_appear_at_their_version", "nodes::root_documents_and_version_headers"]),
    (108, "`disable_ramdisk` for servicing", &["runbooks::runbook_in_servicing_runs_its_steps_and_returns_to_active", "src/api/params/provision.rs::arguments_newer_than_the_version_are_not_acceptable"]),
    (109, "node `health`", &["mv_gates::fields_appear_at_their_version", "bmo_fields::the_power_sync_records_the_bmcs_health"]),
    (110, "`abort` from `wait call-back`", &["bmo_fields::disable_power_off_and_abort_from_wait_call_back_follow_their_microversions", "src/api/params/provision.rs::abort_from_a_wait_state_needs_that_states_version"]),
    (111, "port `available_for_dynamic_portgroup`, portgroup `dynamic_portgroup`", &["mv_gates::fields_appear_at_their_version"]),
    (112, "runbook traits and description, `/runbooks/X/traits`", &["runbooks::runbooks_crud_with_ironics_rules", "mv_gates::endpoints_appear_at_their_version"]),
    (113, "node history `project`", &["mv_gates::actions_appear_at_their_version"]),
    (114, "firmware component `vendor`, `model`, `serial_number`", &["redfish_firmware::verification_records_firmware_and_bios_with_its_registry"]),
    (115, "node history `state`, `target_provision_state`, `duration_seconds`", &["mv_gates::actions_appear_at_their_version"]),
];

const DOC: &str = "tests/microversions.md";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `MAX_MINOR` as `src/api/microversion.rs` advertises it.
fn advertised_max() -> u32 {
    let src = std::fs::read_to_string(root().join("src/api/microversion.rs")).unwrap();
    let line = src
        .lines()
        .find(|l| l.starts_with("pub const MAX_MINOR: u32 ="))
        .expect("MAX_MINOR in src/api/microversion.rs");
    line.trim_end_matches(';')
        .rsplit('=')
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Is `name` a test in the file the table's `entry` points at? `Err` says why not.
fn find_test(entry: &str) -> Result<(), String> {
    let (file, name) = entry
        .rsplit_once("::")
        .ok_or_else(|| format!("{entry}: not file::test"))?;
    let (path, python) = if file.ends_with(".py") {
        (file.to_string(), true)
    } else if file.ends_with(".rs") {
        (file.to_string(), false)
    } else {
        let main = std::fs::read_to_string(root().join("tests/integration/main.rs")).unwrap();
        if !main.lines().any(|l| l.trim() == format!("mod {file};")) {
            return Err(format!(
                "{entry}: module {file} is not in tests/integration/main.rs"
            ));
        }
        (format!("tests/integration/{file}.rs"), false)
    };
    let text = std::fs::read_to_string(root().join(&path))
        .map_err(|e| format!("{entry}: cannot read {path}: {e}"))?;
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let l = line.trim_start();
        if python {
            if l.starts_with(&format!("def {name}("))
                || l.starts_with(&format!("async def {name}("))
            {
                return Ok(());
            }
            continue;
        }
        let l = l.strip_prefix("pub ").unwrap_or(l);
        let l = l.strip_prefix("async ").unwrap_or(l);
        if !l.starts_with(&format!("fn {name}(")) {
            continue;
        }
        // Walk up over attributes and doc comments to a test attribute.
        let is_test = lines[..i]
            .iter()
            .rev()
            .map(|l| l.trim())
            .take_while(|l| l.starts_with("#[") || l.starts_with("//"))
            .any(|l| {
                [
                    "#[test]",
                    "#[tokio::test",
                    "#[actix_web::test",
                    "#[actix_rt::test",
                ]
                .iter()
                .any(|a| l.starts_with(a))
            });
        return match is_test {
            true => Ok(()),
            false => Err(format!("{entry}: fn {name} in {path} is not a test")),
        };
    }
    Err(format!("{entry}: no test {name} in {path}"))
}

fn render() -> String {
    let mut s = String::from(
        "# Microversions and the tests that use them\n\n\
         Every microversion ironbox advertises, the feature Ironic introduced with it, and the\n\
         tests that use that feature. Generated from the table in\n\
         [`tests/integration/microversions.rs`](integration/microversions.rs) (its test fails\n\
         when a version lacks a row or a named test does not exist); do not edit by hand:\n\
         `UPDATE_GOLDEN=1 cargo test --test integration microversions::` rewrites it.\n\n\
         | version | feature | tests |\n|---|---|---|\n",
    );
    for (minor, feature, tests) in TABLE {
        let tests: Vec<String> = tests.iter().map(|t| format!("`{t}`")).collect();
        s.push_str(&format!(
            "| 1.{minor} | {feature} | {} |\n",
            tests.join("<br>")
        ));
    }
    s
}

#[test]
fn every_microversion_names_tests_that_exist() {
    let max = advertised_max();
    let versions: Vec<u32> = TABLE.iter().map(|r| r.0).collect();
    let want: Vec<u32> = (1..=max).collect();
    assert_eq!(
        versions, want,
        "the table must have exactly one row per version 1.1 ..= 1.{max}, in order"
    );
    let mut problems = Vec::new();
    for (minor, feature, tests) in TABLE {
        if feature.trim().is_empty() || tests.is_empty() {
            problems.push(format!(
                "1.{minor}: a feature and at least one test are needed"
            ));
        }
        for t in *tests {
            if let Err(e) = find_test(t) {
                problems.push(format!("1.{minor}: {e}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    let doc = render();
    let path = root().join(DOC);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &doc).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == doc,
        "{DOC} is out of date: run UPDATE_GOLDEN=1 cargo test --test integration microversions::"
    );
}

/// The checker itself: a missing test, a non-test function and an unknown module are caught.
#[test]
fn the_checker_refuses_what_does_not_exist() {
    assert!(find_test("mv_gates::fields_appear_at_their_version").is_ok());
    assert!(find_test("src/api/microversion.rs::negotiation").is_ok());
    assert!(
        find_test("tests/compat/test_cli.py::test_node_initial_state_depends_on_microversion")
            .is_ok()
    );
    assert!(find_test("mv_gates::no_such_test").is_err());
    assert!(
        find_test("mv_gates::field_appears").is_err(),
        "a helper is not a test"
    );
    assert!(find_test("no_such_module::x").is_err());
    assert!(find_test("src/api/microversion.rs::nope").is_err());
    assert!(find_test("tests/compat/test_cli.py::test_nope").is_err());
}
