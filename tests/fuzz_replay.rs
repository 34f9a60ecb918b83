//! Replays the fuzz corpus (`fuzz/corpus/<target>/`, kept minimized in the repository)
//! through every target's body on stable Rust, so CI checks each saved input, crashes
//! found by the long runs included, without nightly or cargo-fuzz.

#[path = "../fuzz/src/targets.rs"]
mod targets;

use std::path::Path;

#[test]
fn every_corpus_input_passes_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    for (name, run) in targets::TARGETS {
        let dir = root.join(name);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no corpus for {name}");
        for f in &files {
            let data = std::fs::read(f).unwrap();
            if std::panic::catch_unwind(|| run(&data)).is_err() {
                panic!("{name}: {} fails", f.display());
            }
        }
        eprintln!("{name}: {} inputs", files.len());
    }
}
