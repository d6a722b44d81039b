//! The runtime crate reads bottom-up: `lib.rs` declares its modules leaves first, and each
//! module names only modules declared before it (`crate::ENABLED` and the other items of
//! the crate root excepted). This test reads the sources and holds them to it.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/leakguard/src");

/// The top-level modules in the order `lib.rs` declares them.
fn layers() -> Vec<String> {
    let lib = fs::read_to_string(Path::new(SRC).join("lib.rs")).unwrap();
    lib.lines()
        .filter_map(|line| {
            let line = line.trim();
            let rest = line
                .strip_prefix("pub mod ")
                .or_else(|| line.strip_prefix("mod "))?;
            let name = rest.strip_suffix(';')?;
            Some(name.to_string())
        })
        .collect()
}

/// Every `.rs` file of module `name`: `name.rs`, or `name/` and everything under it.
fn files_of(name: &str) -> Vec<PathBuf> {
    let file = Path::new(SRC).join(format!("{name}.rs"));
    if file.exists() {
        return vec![file];
    }
    let mut files = Vec::new();
    let mut dirs = vec![Path::new(SRC).join(name)];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files
}

/// The top-level modules `source` names through `crate::` in code (documentation may link
/// anywhere).
fn named(source: &str, modules: &[String]) -> BTreeSet<String> {
    let code: String = source
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let source = code.as_str();
    let mut found = BTreeSet::new();
    for (at, _) in source.match_indices("crate::") {
        let rest = &source[at + "crate::".len()..];
        let word: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if modules.contains(&word) {
            found.insert(word);
        }
        // `use crate::{a, b::c}` names several.
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            for item in group.split(',') {
                let word = item.trim().split("::").next().unwrap_or("").trim();
                if modules.iter().any(|m| m == word) {
                    found.insert(word.to_string());
                }
            }
        }
    }
    found
}

#[test]
fn each_module_names_only_modules_declared_before_it() {
    let layers = layers();
    assert!(layers.len() > 10, "lib.rs declares its modules: {layers:?}");
    let mut problems = Vec::new();
    for (position, module) in layers.iter().enumerate() {
        for file in files_of(module) {
            let source = fs::read_to_string(&file).unwrap();
            for used in named(&source, &layers) {
                let used_at = layers.iter().position(|m| *m == used).unwrap();
                if used_at > position {
                    problems.push(format!(
                        "{} names `crate::{used}`, declared after `{module}`",
                        file.strip_prefix(SRC).unwrap().display()
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn no_source_file_is_over_600_lines() {
    let mut long = Vec::new();
    for root in ["leakguard/src", "leakguard-macros/src"] {
        let mut dirs = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join(root)];
        while let Some(dir) = dirs.pop() {
            for entry in fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let lines = fs::read_to_string(&path).unwrap().lines().count();
                    if lines > 600 {
                        long.push(format!("{} ({lines} lines)", path.display()));
                    }
                }
            }
        }
    }
    assert!(long.is_empty(), "files over 600 lines: {long:?}");
}
