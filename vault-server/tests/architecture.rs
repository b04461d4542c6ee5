//! The direction rules of `vault-server` (its crate docs state them), checked on the
//! source so they stay true: `domain` never imports `http`, `cli`, `client` or axum;
//! `http` never imports `cli`; a route never imports another route; operator commands
//! never build HTTP state; `api` and `client` import neither sqlx nor the AWS SDKs;
//! and the crate's top-level modules import each other without a circle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, with its path relative to `src/`.
fn sources(dir: &Path) -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    let mut stack = vec![src.join(dir)];
    while let Some(next) = stack.pop() {
        if next.is_file() {
            let rel = next.strip_prefix(&src).expect("under src").to_string_lossy().into_owned();
            out.push((rel, code_of(&std::fs::read_to_string(&next).expect("readable source"))));
            continue;
        }
        for entry in std::fs::read_dir(&next).expect("a source directory") {
            let path: PathBuf = entry.expect("a directory entry").path();
            if path.is_dir() || path.extension().is_some_and(|e| e == "rs") {
                stack.push(path);
            }
        }
    }
    assert!(!out.is_empty(), "no sources under src/{}", dir.display());
    out
}

/// The code of a file without its comments (doc comments name other modules freely)
/// and without its `#[cfg(test)]` tail (tests may build whatever they need).
fn code_of(text: &str) -> String {
    let code = text.split("#[cfg(test)]\nmod tests {").next().unwrap_or(text);
    code.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

/// The files under `dir` that mention any of `needles`, with the needle.
fn offenders(dir: &str, needles: &[&str]) -> Vec<String> {
    sources(Path::new(dir))
        .into_iter()
        .flat_map(|(file, code)| {
            needles.iter().filter(|n| code.contains(*n)).map(|n| format!("{file}: {n}")).collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn the_domain_knows_nothing_of_http_or_the_commands() {
    let found = offenders(
        "domain",
        &["crate::http", "crate::cli", "crate::client", "axum", "tower", "hyper::", "ApiError", "StatusCode"],
    );
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn http_never_imports_the_commands() {
    let found = offenders("http", &["crate::cli", "crate::client"]);
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn a_route_never_imports_another_route() {
    let routes: Vec<(String, String)> = sources(Path::new("http/routes"));
    let names: Vec<String> = routes
        .iter()
        .filter_map(|(file, _)| file.strip_prefix("http/routes/")?.strip_suffix(".rs").map(str::to_owned))
        .filter(|name| name != "mod")
        .collect();
    assert!(names.len() >= 8, "{names:?}");
    let mut found = Vec::new();
    for (file, code) in &routes {
        for other in names.iter().filter(|n| !file.ends_with(&format!("/{n}.rs"))) {
            for needle in [format!("super::{other}::"), format!("routes::{other}::"), format!("super::{{{other}")] {
                if code.contains(&needle) {
                    found.push(format!("{file}: {needle}"));
                }
            }
        }
    }
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn operator_commands_call_the_domain_not_http_state() {
    let found = offenders("cli/ops.rs", &["crate::http", "AppState", "Verifier"]);
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn wire_types_and_the_client_import_neither_the_database_nor_aws() {
    let banned = ["sqlx", "aws_sdk", "aws_config", "aws_smithy", "crate::db", "crate::store", "crate::domain"];
    let mut found = offenders("api", &banned);
    found.extend(offenders("client", &banned));
    assert!(found.is_empty(), "{found:#?}");
}

/// The top-level module a file belongs to (`http/routes/a.rs` → `http`).
fn module_of(file: &str) -> String {
    file.split('/').next().unwrap_or(file).trim_end_matches(".rs").to_owned()
}

#[test]
fn top_level_modules_import_each_other_without_a_circle() {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (file, code) in sources(Path::new("")) {
        let from = module_of(&file);
        if from == "lib" || from == "main" {
            continue;
        }
        let mut targets: Vec<String> = Vec::new();
        for (i, _) in code.match_indices("crate::") {
            let rest = &code[i + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let group = &group[..group.find('}').unwrap_or(group.len())];
                targets.extend(group.split(',').filter_map(|t| t.trim().split("::").next()).map(str::to_owned));
            } else {
                targets.push(rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect());
            }
        }
        for to in targets.into_iter().filter(|t| !t.is_empty() && *t != from) {
            edges.entry(from.clone()).or_default().insert(to);
        }
    }
    assert!(edges["http"].contains("domain") && edges["domain"].contains("db"), "the scan sees imports: {edges:?}");
    // Depth-first search for a back edge; the circle is reported as a path.
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut circle = path[start..].to_vec();
            circle.push(node.to_owned());
            return Some(circle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(circle) = visit(next, edges, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    for node in edges.keys() {
        if let Some(circle) = visit(node, &edges, &mut Vec::new(), &mut done) {
            panic!("import circle: {}", circle.join(" → "));
        }
    }
}
