#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]
//! The threat model names, for every mitigation, the test that proves it, and the README
//! points at tests and files. Every such name must be a test where it says it is, so a
//! renamed, deleted or merely look-alike function cannot leave a claim without its proof:
//!
//! - `file.rs::name`, `path/to/file.rs::name` and `module::tests::name` name a `#[test]`
//!   (or a test of a `per_backend!` list) in that file; a bare `name` after such a
//!   reference on the same line is looked up in the same file; `name_…` and `name_*`
//!   stand for every test with that prefix;
//! - `tests/e2e` "words" names a Chromium test whose title contains the words;
//! - repository paths in backticks exist.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every test function of the workspace, by the names a document can use for its file:
/// its stem (`server` for `server.rs`), or its folder for `mod.rs` and `tests.rs` files
/// (`auth` for `auth/tests.rs`, the `auth::tests` module).
#[derive(Default)]
struct Tests {
    by_file: BTreeMap<String, BTreeSet<String>>,
}

impl Tests {
    fn scan(root: &Path) -> Self {
        let mut tests = Tests::default();
        for dir in ["vault-core", "vault-server", "vault-wasm", "tests", "fuzz"] {
            let mut files = Vec::new();
            rust_files(&root.join(dir), &mut files);
            for file in files {
                let source = std::fs::read_to_string(&file).unwrap();
                tests.by_file.entry(file_key(&file)).or_default().extend(test_functions(&source));
            }
        }
        tests
    }

    /// Whether `name` (or, ending in `…`/`*`, a prefix) is a test in the file `key`, or
    /// anywhere when no file is named.
    fn has(&self, key: Option<&str>, name: &str) -> bool {
        let prefix = name.strip_suffix(['…', '*']).map(|p| p.trim_end_matches('_'));
        let matches = |t: &String| match prefix {
            Some(p) => t.starts_with(p),
            None => t == name,
        };
        match key {
            Some(key) => self.by_file.get(key).is_some_and(|tests| tests.iter().any(matches)),
            None => self.by_file.values().flatten().any(matches),
        }
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy();
        if path.is_dir() && !matches!(name.as_ref(), "target" | "node_modules" | "pkg" | ".git" | "corpus") {
            rust_files(&path, out);
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

fn file_key(file: &Path) -> String {
    let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
    if matches!(stem.as_str(), "mod" | "tests") {
        let parent = file.parent().and_then(Path::file_name).unwrap();
        return parent.to_string_lossy().into_owned();
    }
    stem
}

/// The functions of `source` marked `#[test]` (also `#[tokio::test]`,
/// `#[wasm_bindgen_test]`, inside `proptest!`), and those a `per_backend!` list turns
/// into tests.
fn test_functions(source: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut marked = false;
    let mut in_backend_list = false;
    for line in source.lines().map(str::trim) {
        if in_backend_list {
            if line.starts_with('}') {
                in_backend_list = false;
            } else {
                found.extend(line.split(',').map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned));
            }
            continue;
        }
        if line.starts_with("per_backend! {") {
            in_backend_list = true;
        } else if line.starts_with("#[test]")
            || line.starts_with("#[tokio::test")
            || line.starts_with("#[wasm_bindgen_test")
        {
            marked = true;
        } else if marked && (line.starts_with("#[") || line.starts_with("//")) {
            // more attributes or comments between the mark and the function
        } else if marked {
            let after_fn = line.split_once("fn ").map(|(_, rest)| rest).unwrap_or_default();
            let name: String = after_fn.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            assert!(!name.is_empty(), "a test attribute is not followed by a function: {line}");
            found.push(name);
            marked = false;
        }
    }
    found
}

/// The file a reference names: `a/b/server.rs::on_aws` → `server`;
/// `x::host::tests` → `host`; `on_aws` alone → none (the file named before it).
fn key_of(qualifier: &[&str]) -> Option<String> {
    let module = |s: &&&str| !matches!(**s, "tests" | "on_aws" | "on_embedded");
    let last = qualifier.iter().rev().find(|s| s.ends_with(".rs")).or_else(|| qualifier.iter().rev().find(module))?;
    let file = last.rsplit('/').next()?;
    Some(file.strip_suffix(".rs").unwrap_or(file).to_owned())
}

fn snake_test_name(token: &str) -> bool {
    let snake = token.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_…*".contains(c));
    let words = token.trim_end_matches(['…', '*']).split('_').filter(|w| !w.is_empty()).count();
    // Metric names (vault_…) are not tests.
    snake && words >= 3 && !token.starts_with("vault_") && token.starts_with(|c: char| c.is_ascii_lowercase())
}

/// What a document claims, line by line: (line number, file key or none, test name),
/// e2e titles, and repository paths. `bare_names` says whether a lone snake-case name
/// is a test (the threat model) or may be a setting (the README).
#[derive(Default)]
struct Claims {
    tests: Vec<(usize, Option<String>, String)>,
    e2e_titles: Vec<(usize, String)>,
    paths: Vec<(usize, String)>,
}

fn claims(doc: &str, bare_names: bool) -> Claims {
    let mut claims = Claims::default();
    let mut in_code = false;
    for (number, line) in doc.lines().enumerate().map(|(i, l)| (i + 1, l)) {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        // "Quoted" titles after a mention of the e2e tests name Chromium tests.
        if let Some(at) = line.find("e2e") {
            for title in line[at..].split('"').skip(1).step_by(2) {
                claims.e2e_titles.push((number, title.trim_end_matches('…').replace('\'', "")));
            }
        }
        let mut file: Option<String> = None;
        for span in line.split('`').skip(1).step_by(2) {
            for token in span.split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')') {
                let path = token.split("::").next().unwrap_or_default();
                if is_repository_path(path) {
                    claims.paths.push((number, path.trim_end_matches('/').to_owned()));
                }
                let pieces: Vec<&str> = token.split("::").collect();
                let (name, qualifier) = pieces.split_last().unwrap();
                if !qualifier.is_empty() {
                    file = key_of(qualifier).or(file);
                    if snake_test_name(name) {
                        claims.tests.push((number, file.clone(), (*name).to_owned()));
                    }
                } else if let Some(stem) = name.rsplit('/').next().and_then(|n| n.strip_suffix(".rs")) {
                    file = Some(stem.to_owned()); // `durability.rs` `name`: look there
                } else if (bare_names || file.is_some()) && snake_test_name(name) {
                    claims.tests.push((number, file.clone(), (*name).to_owned()));
                }
            }
        }
    }
    claims
}

fn is_repository_path(token: &str) -> bool {
    const TOP: [&str; 7] = ["vault-core/", "vault-server/", "vault-wasm/", "tests/", "web/", "scripts/", "fuzz/"];
    TOP.iter().any(|top| token.starts_with(top)) && !token.contains(['*', '<', '…']) && !token.starts_with("web/pkg") // generated by scripts/build-wasm
}

fn e2e_titles(root: &Path) -> Vec<String> {
    let mut titles = Vec::new();
    for entry in std::fs::read_dir(root.join("tests/e2e")).unwrap() {
        let path = entry.unwrap().path();
        if !path.to_string_lossy().ends_with(".test.mjs") {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        for start in source.match_indices("test(").map(|(i, _)| i + "test(".len()) {
            let rest = &source[start..];
            let Some(quote) = rest.chars().next().filter(|c| matches!(c, '\'' | '"' | '`')) else { continue };
            if let Some(end) = rest[1..].find(quote) {
                titles.push(rest[1..=end].replace(['"', '\''], ""));
            }
        }
    }
    titles
}

fn check(document: &str, bare_names: bool, at_least: usize) {
    let root = vault_tests::workspace();
    let doc = std::fs::read_to_string(root.join(document)).unwrap();
    let claims = claims(&doc, bare_names);
    let tests = Tests::scan(&root);
    let titles = e2e_titles(&root);
    let count = claims.tests.len() + claims.e2e_titles.len();
    assert!(count >= at_least, "expected {document} to name at least {at_least} tests, found {count}");
    let mut wrong = Vec::new();
    for (line, file, name) in &claims.tests {
        if !tests.has(file.as_deref(), name) {
            let place = file.as_deref().map(|f| format!(" in {f}")).unwrap_or_default();
            wrong.push(format!("{document}:{line}: `{name}` is not a test{place}"));
        }
    }
    for (line, title) in &claims.e2e_titles {
        if !titles.iter().any(|t| t.contains(title.as_str())) {
            wrong.push(format!("{document}:{line}: no tests/e2e test is titled \"…{title}…\""));
        }
    }
    for (line, path) in &claims.paths {
        if !root.join(path).exists() {
            wrong.push(format!("{document}:{line}: `{path}` does not exist"));
        }
    }
    assert!(wrong.is_empty(), "claims without their proof:\n{}", wrong.join("\n"));
}

#[test]
fn every_test_the_threat_model_names_is_a_test_in_the_file_it_names() {
    check("threat-model.md", true, 60);
}

#[test]
fn every_test_and_path_the_readme_names_exists() {
    check("README.md", false, 3);
}

#[test]
fn a_look_alike_helper_or_the_wrong_file_does_not_count() {
    let source = "fn helper_that_looks_like_a_test() {}\n#[test]\n// why\n#[should_panic]\nfn real_test_here() {}\n\
                  per_backend! {\n    listed_one_here,\n    listed_two_here,\n}\n";
    assert_eq!(test_functions(source), ["real_test_here", "listed_one_here", "listed_two_here"]);
    let found = claims(
        "| x | y | `server.rs::first_named_test`, `second_named_test`; `auth::tests::third_named_test` |\n\
         | `tests/e2e` \"a title\" | `lone_setting_name_here` |",
        false,
    );
    let tests: Vec<_> = found.tests.iter().map(|(_, f, n)| (f.as_deref(), n.as_str())).collect();
    assert_eq!(
        tests,
        [
            (Some("server"), "first_named_test"),
            (Some("server"), "second_named_test"),
            (Some("auth"), "third_named_test")
        ]
    );
    assert_eq!(found.e2e_titles, [(2, "a title".to_owned())]);
    assert_eq!(found.paths, [(2, "tests/e2e".to_owned())]);
    let mut index = Tests::default();
    index.by_file.insert("server".into(), ["first_named_test".to_owned()].into());
    assert!(index.has(Some("server"), "first_named_test"));
    assert!(!index.has(Some("durability"), "first_named_test"), "the wrong file does not count");
    assert!(index.has(None, "first_named_…"));
}
