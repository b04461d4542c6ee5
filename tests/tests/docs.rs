#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]
//! The threat model names, for every mitigation, the test that proves it: each test
//! function it names (in backticks; `name_…` or `name_*` stands for a prefix) must exist, so a
//! renamed or deleted test cannot leave a claim without its proof.

mod common;

use std::path::Path;

/// Snake-case names of at least three words in backticks, outside code blocks.
fn named_tests(doc: &str) -> Vec<String> {
    let prose: String = doc.split("```").step_by(2).collect();
    let mut names = Vec::new();
    for span in prose.split('`').skip(1).step_by(2) {
        // `file.rs::name` names a test; `scrub.bytes_per_sec` is a setting.
        let pieces = span.split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')');
        for token in pieces.filter_map(|p| p.rsplit("::").next()) {
            let snake = token.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_…*".contains(c));
            let words = token.trim_end_matches(['…', '*']).split('_').filter(|w| !w.is_empty()).count();
            if !snake {
                continue;
            }
            // Metric names (vault_…) are not tests.
            if words >= 3 && !token.starts_with("vault_") && token.starts_with(|c: char| c.is_ascii_lowercase()) {
                names.push(token.to_owned());
            }
        }
    }
    names
}

fn rust_sources(dir: &Path, out: &mut String) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy();
        if path.is_dir() && !matches!(name.as_ref(), "target" | "node_modules" | "pkg" | ".git") {
            rust_sources(&path, out);
        } else if name.ends_with(".rs") {
            out.push_str(&std::fs::read_to_string(&path).unwrap());
        }
    }
}

#[test]
fn every_test_the_threat_model_names_exists() {
    let root = common::workspace();
    let doc = std::fs::read_to_string(root.join("threat-model.md")).unwrap();
    let names = named_tests(&doc);
    assert!(names.len() >= 40, "expected the threat model to name its tests, found {names:?}");
    let mut sources = String::new();
    for dir in ["vault-core", "vault-server", "vault-wasm", "tests"] {
        rust_sources(&root.join(dir), &mut sources);
    }
    let missing: Vec<&String> = names
        .iter()
        .filter(|name| {
            let prefix = name.strip_suffix(['…', '*']).map(|p| p.trim_end_matches('_'));
            match prefix {
                Some(p) => !sources.contains(&format!("fn {p}")),
                None => !sources.contains(&format!("fn {name}(")) && !sources.contains(&format!("fn {name}<")),
            }
        })
        .collect();
    assert!(missing.is_empty(), "threat-model.md names tests that do not exist: {missing:?}");
}
