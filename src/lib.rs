//! ironbox: one binary that is a complete bare-metal provisioning appliance, speaking
//! OpenStack Ironic's Bare Metal API.
//!
//! Architecture (arrows = "may call"; nothing depends on `api`, `app` or `boot`):
//!
//! ```text
//! main ─▶ app ─┬─▶ api ──────▶ conductor ──▶ drivers ──▶ bmc (IPMI, Redfish)
//!              │    │ (reads)      │ (reads/writes)    └─▶ the agents' REST API (agent_client)
//!              │    └────────▶ db ◀┘
//!              ├─▶ boot (DHCP, TFTP, HTTP boot) ──▶ db (reads nodes/ports, owns leases,
//!              │                                        appends boot events to node history)
//!              └─▶ config
//!  shared leaves: model (plain types, no I/O; any module but bmc may use it),
//!                 config (used by api, boot, conductor and drivers; uses only model),
//!                 image (qcow2, checksums, image cache, config drives; used by conductor,
//!                 drivers and the agent),
//!                 http (the HTTP framing gate and the gated server builder; used by api
//!                 and boot),
//!                 metrics (the Prometheus registry; api, boot, conductor and drivers
//!                 record into it, api serves it)
//!  bmc, http, image, metrics and model use no other module; db uses only model.
//!
//! main ─▶ agent (runs in the deploy ramdisk; talks to the appliance only over HTTP) ─▶ image
//! ```
//!
//! The `architecture` test below holds the code to exactly these edges.
//!
//! - `api`: HTTP and Ironic's wire format (paths, microversions, error bodies). Reads through
//!   `db`, changes anything only through `conductor`.
//! - `conductor`: the only writer of nodes and their ports; Ironic's rules live here.
//! - `drivers`: hardware types and interface implementations, and the client of the
//!   deploy agents' API; no SQL, no HTTP server.
//! - `db`: SQLite; all SQL lives here.
//! - `config`: `ironic.toml`, validated. `model`: domain types and validators.
//! - `http`: the framing gate in front of actix-http (malformed HTTP refused with a body the
//!   server's owner renders) and the builder of a server behind it.
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
pub mod http;
pub mod image;
pub mod metrics;
pub mod model;

#[cfg(test)]
mod architecture {
    //! The map above, enforced: every `crate::` path (plain, grouped `use crate::{a, b::c}`
    //! over any number of lines, or reached through `super::super::`) in `src/<module>/`
    //! must name a module it may use; no `pub use` / `pub type` hands a module's users an
    //! item of a module they may not use; and every edge the map allows is really there.

    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    /// Each module and the modules it may use, as drawn above (`app` and `main` may use
    /// anything; nothing may use them).
    const MAY_USE: &[(&str, &[&str])] = &[
        ("agent", &["image", "model"]),
        (
            "api",
            &["conductor", "config", "db", "http", "metrics", "model"],
        ),
        ("bmc", &[]),
        ("boot", &["config", "db", "http", "metrics", "model"]),
        (
            "conductor",
            &["config", "db", "drivers", "image", "metrics", "model"],
        ),
        ("config", &["model"]),
        ("db", &["model"]),
        ("drivers", &["bmc", "config", "image", "metrics", "model"]),
        ("http", &[]),
        ("image", &["model"]),
        // A neutral leaf like http: counters every layer records into; it uses nothing.
        ("metrics", &[]),
        ("model", &[]),
    ];

    /// `model` is a shared leaf: allowed everywhere it is listed, even where nothing uses it yet.
    const CONVENTION_ONLY: &[&str] = &["model"];

    /// Known violations, to be removed when fixed: (file under src/, module reached).
    const KNOWN: &[(&str, &str)] = &[];

    fn may_use(module: &str) -> Option<&'static [&'static str]> {
        MAY_USE.iter().find(|(m, _)| *m == module).map(|(_, u)| *u)
    }

    fn files(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                files(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }

    /// The source as tokens: identifiers and punctuation (`::` as one), without comments,
    /// string, char and raw-string literals.
    fn tokens(text: &str) -> Vec<String> {
        let c: Vec<char> = text.chars().collect();
        let at = |i: usize| c.get(i).copied().unwrap_or('\0');
        let ident = |ch: char| ch == '_' || ch.is_alphanumeric();
        // Where a raw string's text starts, and its number of hashes.
        let raw_string = |i: usize| {
            if ident(at(i.wrapping_sub(1))) {
                return None;
            }
            let mut j = i + usize::from(at(i) == 'b');
            if at(j) != 'r' {
                return None;
            }
            j += 1;
            let mut hashes = 0;
            while at(j) == '#' {
                hashes += 1;
                j += 1;
            }
            (at(j) == '"').then_some((j + 1, hashes))
        };
        let mut out = vec![];
        let mut i = 0;
        while i < c.len() {
            let ch = at(i);
            if ch == '/' && at(i + 1) == '/' {
                while i < c.len() && at(i) != '\n' {
                    i += 1;
                }
            } else if ch == '/' && at(i + 1) == '*' {
                let mut depth = 0;
                loop {
                    if at(i) == '/' && at(i + 1) == '*' {
                        depth += 1;
                        i += 2;
                    } else if at(i) == '*' && at(i + 1) == '/' {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else if i >= c.len() {
                        break;
                    } else {
                        i += 1;
                    }
                }
            } else if let Some((body, hashes)) = raw_string(i) {
                // r"..", r#".."#, br"..": ends at a quote followed by as many hashes.
                let mut j = body;
                while j < c.len() && !(at(j) == '"' && (1..=hashes).all(|k| at(j + k) == '#')) {
                    j += 1;
                }
                i = j + 1 + hashes;
            } else if ch == '"' {
                i += 1;
                while i < c.len() && at(i) != '"' {
                    i += if at(i) == '\\' { 2 } else { 1 };
                }
                i += 1;
            } else if ch == '\'' && (at(i + 1) == '\\' || at(i + 2) == '\'') {
                // A char literal ('x', '\n', '\u{..}'), not a lifetime.
                i += 2;
                while i < c.len() && at(i) != '\'' {
                    i += 1;
                }
                i += 1;
            } else if ident(ch) {
                let start = i;
                while ident(at(i)) {
                    i += 1;
                }
                out.push(c[start..i].iter().collect());
            } else if ch == ':' && at(i + 1) == ':' {
                out.push("::".into());
                i += 2;
            } else {
                if !ch.is_whitespace() {
                    out.push(ch.to_string());
                }
                i += 1;
            }
        }
        out
    }

    /// The first segments of the path that starts at `toks[i]` (after `crate::` or the
    /// `super::`s that reach the crate root): one name, `*`, or each item of a `{...}` group.
    fn heads(toks: &[String], i: usize) -> Vec<String> {
        let tok = |k: usize| toks.get(k).map(String::as_str).unwrap_or("");
        if tok(i) != "{" {
            return vec![tok(i).to_string()];
        }
        let mut out = vec![];
        let (mut depth, mut k, mut first) = (0, i, true);
        loop {
            match tok(k) {
                "" => break,
                "{" => depth += 1,
                "}" => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                "," if depth == 1 => first = true,
                t if depth == 1 && first => {
                    if t != "self" {
                        out.push(t.to_string());
                    }
                    first = false;
                }
                _ => {}
            }
            k += 1;
        }
        out
    }

    /// Every (top-level module reached, re-exported?) in one file, `depth` modules below
    /// the crate root (src/conductor/mod.rs: 1, src/conductor/fsm.rs: 2).
    fn edges(text: &str, depth: usize) -> Vec<(String, bool)> {
        let toks = tokens(text);
        let tok = |k: usize| toks.get(k).map(String::as_str).unwrap_or("");
        let mut out = vec![];
        // Brace depths at which inline `mod x {` opened, and whether we are in a
        // `pub use` / `pub type` item (until its `;`).
        let (mut braces, mut inline) = (0usize, Vec::<usize>::new());
        let mut exported = false;
        let mut i = 0;
        while i < toks.len() {
            match tok(i) {
                "{" => {
                    if tok(i.wrapping_sub(2)) == "mod" {
                        inline.push(braces);
                    }
                    braces += 1;
                }
                "}" => {
                    braces = braces.saturating_sub(1);
                    if inline.last() == Some(&braces) {
                        inline.pop();
                    }
                }
                ";" => exported = false,
                "use" | "type" => {
                    // `pub use`, `pub(crate) use`, `pub(in path) type`...
                    let mut k = i.wrapping_sub(1);
                    if tok(k) == ")" {
                        while k > 0 && tok(k) != "(" {
                            k -= 1;
                        }
                        k = k.wrapping_sub(1);
                    }
                    exported = tok(k) == "pub";
                }
                "crate" if tok(i + 1) == "::" && tok(i.wrapping_sub(1)) != "::" => {
                    out.extend(heads(&toks, i + 2).into_iter().map(|h| (h, exported)));
                }
                "super" if tok(i.wrapping_sub(1)) != "::" => {
                    let mut k = i;
                    let mut ups = 0;
                    while tok(k) == "super" && tok(k + 1) == "::" {
                        ups += 1;
                        k += 2;
                    }
                    if ups > 0 && ups >= depth + inline.len() {
                        out.extend(heads(&toks, k).into_iter().map(|h| (h, exported)));
                    }
                    // `pub(super)` has no path to follow.
                    i = k.max(i + 1);
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
        out
    }

    #[test]
    fn the_scanner_sees_every_form() {
        let text = r###"
            use crate::{
                db::{self, Store},
                model::Node, // crate::api::x in a comment
            };
            use crate::{config, image::Cache};
            /* crate::boot::y */ let s = "crate::bmc::z"; let c = '"'; let r = r"crate::app\";
            let r#type = br##"crate::api"#"##; let esc = "\"crate::api";
            pub(crate) use crate::drivers::X;
            fn f<'a>(x: &'a str) { crate::conductor::go(x) }
            pub type T = crate::agent::T;
            pub(super) fn g() {}
            mod tests { use super::super::super::bmc::Y; use super::super::boot; }
        "###;
        let found: BTreeSet<(String, bool)> = edges(text, 2).into_iter().collect();
        let want: BTreeSet<(String, bool)> = [
            ("db", false),
            ("model", false),
            ("config", false),
            ("image", false),
            ("drivers", true),
            ("conductor", false),
            ("agent", true),
            ("bmc", false),
        ]
        .into_iter()
        .map(|(m, e)| (m.to_string(), e))
        .collect();
        assert_eq!(found, want);
    }

    #[test]
    fn layers_only_use_what_they_may() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut bad = vec![];
        for e in std::fs::read_dir(&src).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().replace(".rs", "");
            if !["lib", "main", "app"].contains(&name.as_str()) && may_use(&name).is_none() {
                bad.push(format!("src/{name}: a module the map does not show"));
            }
        }
        let mut seen = BTreeSet::new();
        let mut known_seen = BTreeSet::new();
        for (module, allowed) in MAY_USE {
            let mut fs = vec![];
            files(&src.join(module), &mut fs);
            assert!(!fs.is_empty(), "no files for {module}");
            for f in fs {
                let rel = f.strip_prefix(&src).unwrap_or(&f);
                let name = rel.to_string_lossy().replace('\\', "/");
                let is_mod = rel.file_name().is_some_and(|n| n == "mod.rs");
                let depth = rel.components().count() - usize::from(is_mod);
                let text = std::fs::read_to_string(&f).unwrap_or_default();
                for (other, exported) in edges(&text, depth) {
                    if other == *module {
                        continue;
                    }
                    seen.insert((*module, other.clone()));
                    if other == "*" {
                        bad.push(format!("src/{name} imports crate::*"));
                    } else if !allowed.contains(&other.as_str()) {
                        bad.push(format!("src/{name} uses crate::{other}"));
                    } else if exported && KNOWN.contains(&(name.as_str(), other.as_str())) {
                        known_seen.insert((name.clone(), other));
                    } else if exported {
                        // Whoever may use `module` but not `other` would reach it here.
                        for (user, theirs) in MAY_USE {
                            if theirs.contains(module) && !theirs.contains(&other.as_str()) {
                                bad.push(format!(
                                    "src/{name} re-exports crate::{other} to {user}, which may not use it"
                                ));
                            }
                        }
                    }
                }
            }
        }
        for (file, other) in KNOWN {
            if !known_seen.contains(&(file.to_string(), other.to_string())) {
                bad.push(format!(
                    "src/{file} no longer re-exports crate::{other}: drop it from KNOWN"
                ));
            }
        }
        for (module, allowed) in MAY_USE {
            for other in *allowed {
                if !CONVENTION_ONLY.contains(other) && !seen.contains(&(*module, other.to_string()))
                {
                    bad.push(format!(
                        "{module} may use {other} but does not: correct the map"
                    ));
                }
            }
        }
        assert!(bad.is_empty(), "layering violations:\n{}", bad.join("\n"));
    }
}
