//! Replays the fuzz seed corpus (and any crash reproducers committed there) through
//! the same harnesses `cargo fuzz` runs, so every `cargo test` re-checks them.

#[path = "../../fuzz/harness.rs"]
#[allow(dead_code, unreachable_pub, clippy::cast_possible_truncation)]
mod harness;

fn replay(target: &str, run: fn(&[u8])) -> usize {
    let dir = vault_tests::workspace().join("fuzz").join("corpus").join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("dir entry").path();
        let data = std::fs::read(&path).expect("corpus file");
        run(&data);
        n += 1;
    }
    n
}

#[test]
fn header_corpus() {
    assert!(replay("header", harness::header) >= 10);
}

#[test]
fn decrypt_corpus() {
    assert!(replay("decrypt", harness::decrypt) >= 10);
}

#[test]
fn stream_mutated_corpus() {
    assert!(replay("stream_mutated", harness::stream_mutated) >= 4);
}
