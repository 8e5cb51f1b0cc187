//! Every example in `examples/` (the ones the generated docs show, and the complete
//! scenarios) is accepted by `terraform validate`.

use std::path::{Path, PathBuf};

use rack_acceptance_tests::{Workdir, workspace_root};

/// The registry-layout folders whose examples are shown in the docs.
const DOC_FOLDERS: [&str; 5] = [
    "resources",
    "data-sources",
    "functions",
    "ephemeral-resources",
    "list-resources",
];

const REQUIRED_PROVIDERS: &str = r#"terraform {
  required_providers {
    rack = {
      source = "terraform.local/rack/rack"
    }
  }
}
"#;

/// Folders holding `.tf` files: `examples/provider`, each `examples/<kind>/<name>`, and each
/// complete scenario (`examples/functions` itself, `examples/scenarios/<name>`).
fn example_dirs() -> Vec<PathBuf> {
    let root = workspace_root().join("examples");
    let mut dirs = vec![root.join("provider"), root.join("functions")];
    for folder in DOC_FOLDERS.iter().copied().chain(["scenarios"]) {
        let Ok(entries) = std::fs::read_dir(root.join(folder)) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry.path().is_dir() {
                dirs.push(entry.path());
            }
        }
    }
    dirs.sort();
    dirs
}

fn has_terraform_block(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| {
            e.path().extension().is_some_and(|x| x == "tf")
                && std::fs::read_to_string(e.path()).is_ok_and(|t| t.contains("required_providers"))
        })
}

fn has_query_file(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().ends_with(".tfquery.hcl"))
}

#[test]
fn every_example_validates() {
    let dirs = example_dirs();
    assert!(
        dirs.len() >= 5,
        "expected the provider example and one per function, found {dirs:?}"
    );
    for dir in dirs {
        let wd = Workdir::new();
        wd.copy_files_from(&dir);
        if !has_terraform_block(&dir) {
            wd.write_file("versions.tf", REQUIRED_PROVIDERS);
        }
        wd.init();
        // `-query` validates `.tfquery.hcl` files (list blocks) as well.
        let out = if has_query_file(&dir) {
            wd.run(&["validate", "-no-color", "-query"]).success()
        } else {
            wd.validate()
        };
        assert!(
            out.stdout.contains("The configuration is valid"),
            "{} does not validate:\n{}\n{}",
            dir.display(),
            out.stdout,
            out.stderr
        );
    }
}
