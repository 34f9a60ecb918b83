//! ironbox: one binary that is a complete bare-metal provisioning appliance, speaking
//! OpenStack Ironic's Bare Metal API.
//!
//! Architecture (arrows = "may call"; nothing depends on `api` or `app`):
//!
//! ```text
//! main ─▶ app ─┬─▶ api ──────▶ conductor ──▶ drivers
//!              │    │ (reads)      │ (reads/writes)
//!              │    └────────▶ db ◀┘
//!              └─▶ config
//!  shared leaf: model (plain types, no I/O)
//! ```
//!
//! - `api`: HTTP and Ironic's wire format (paths, microversions, error bodies). Reads through
//!   `db`, changes anything only through `conductor`.
//! - `conductor`: the only writer of nodes and their ports; Ironic's rules live here.
//! - `drivers`: hardware types and interface implementations; no HTTP, no SQL.
//! - `db`: SQLite; all SQL lives here.
//! - `config`: `ironic.toml`, validated. `model`: domain types and validators.

pub mod api;
pub mod app;
pub mod conductor;
pub mod config;
pub mod db;
pub mod drivers;
pub mod model;
