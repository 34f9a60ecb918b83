//! The one integration test binary (link time matters on small machines): each module
//! drives the real `ironbox` executable over HTTP.

// Test code stops loudly: unwrap, expect, panic and indexing are how a check fails here.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod agent;
mod allocations;
mod api_details;
mod bad_input;
mod bmo_fields;
mod boot_http;
mod bootiso;
mod cli;
mod config_check;
mod console;
mod deploy;
mod dhcp_storm;
mod discovery;
mod e2e;
mod e2e_console;
mod e2e_discovery;
mod events_indicators;
mod harness;
mod http_framing;
mod inspection_rules;
mod inventory;
mod ipmi;
mod members;
mod list_paging;
mod metrics;
mod microversions;
mod mv_gates;
mod netboot;
mod nodes;
mod powerloss;
mod provision;
mod raid;
mod redfish;
mod redfish_firmware;
mod redfish_inspect;
mod rescue;
mod runbooks;
mod secrets;
mod sol;
mod ui_forms;
mod vifs;
mod vmedia;
mod volume;
