//! ironbox: one binary that is a complete bare-metal provisioning appliance, speaking
//! OpenStack Ironic's Bare Metal API.
//!
//! Architecture (arrows = "may call"; nothing depends on `api` or `app`):
//!
//! ```text
//! main ─▶ app ─┬─▶ api ──────▶ conductor ──▶ drivers ──▶ bmc (IPMI, Redfish)
//!              │    │ (reads)      │ (reads/writes)    └─▶ the agents' REST API (agent_client)
//!              │    └────────▶ db ◀┘
//!              ├─▶ boot (DHCP, TFTP, HTTP boot) ──▶ db (reads nodes/ports, owns leases,
//!              │                                        appends boot events to node history)
//!              └─▶ config
//!  shared leaves: model (plain types, no I/O), image (qcow2, checksums, image cache,
//!                 config drives; used by conductor and the agent)
//!
//! main ─▶ agent (runs in the deploy ramdisk; talks to the appliance only over HTTP) ─▶ image
//! ```
//!
//! - `api`: HTTP and Ironic's wire format (paths, microversions, error bodies). Reads through
//!   `db`, changes anything only through `conductor`.
//! - `conductor`: the only writer of nodes and their ports; Ironic's rules live here.
//! - `drivers`: hardware types and interface implementations, and the client of the
//!   deploy agents' API; no SQL, no HTTP server.
//! - `db`: SQLite; all SQL lives here.
//! - `config`: `ironic.toml`, validated. `model`: domain types and validators.
//! - `agent`: the built-in deploy agent (IPA wire-compatible) and its ramdisk builder.

pub mod agent;
pub mod api;
pub mod app;
pub mod bmc;
pub mod boot;
pub mod conductor;
pub mod config;
pub mod db;
pub mod drivers;
pub mod image;
pub mod model;

#[cfg(test)]
mod architecture {
    //! The dependency rules above, enforced: a module may not name a forbidden one.

    const RULES: &[(&str, &[&str])] = &[
        (
            "model",
            &["api", "app", "conductor", "db", "drivers", "config"],
        ),
        ("config", &["api", "app", "conductor", "db", "drivers"]),
        (
            "agent",
            &[
                "api",
                "app",
                "conductor",
                "db",
                "drivers",
                "boot",
                "bmc",
                "config",
            ],
        ),
        ("db", &["api", "app", "conductor", "drivers"]),
        ("drivers", &["api", "app", "conductor", "db"]),
        ("conductor", &["api", "app", "bmc"]),
        ("api", &["app", "drivers", "boot", "bmc"]),
        ("boot", &["api", "app", "conductor", "drivers", "bmc"]),
        (
            "image",
            &[
                "api",
                "app",
                "conductor",
                "db",
                "drivers",
                "boot",
                "bmc",
                "config",
            ],
        ),
        (
            "bmc",
            &[
                "api",
                "app",
                "conductor",
                "db",
                "drivers",
                "config",
                "boot",
                "model",
            ],
        ),
    ];

    fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                files(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }

    #[test]
    fn layers_only_use_what_they_may() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut bad = vec![];
        for (module, forbidden) in RULES {
            let mut fs = vec![];
            files(&src.join(module), &mut fs);
            assert!(!fs.is_empty(), "no files for {module}");
            for f in fs {
                let text = std::fs::read_to_string(&f).unwrap_or_default();
                for other in *forbidden {
                    if text.contains(&format!("crate::{other}::"))
                        || text.contains(&format!("crate::{other};"))
                        || text.contains(&format!("crate::{other}}}"))
                    {
                        bad.push(format!("{} uses crate::{other}", f.display()));
                    }
                }
            }
        }
        assert!(bad.is_empty(), "layering violations:\n{}", bad.join("\n"));
    }
}
