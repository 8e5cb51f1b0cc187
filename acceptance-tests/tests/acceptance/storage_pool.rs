//! `rack_storage_pool` against a real libvirtd: apply -> libvirt holds a dir pool, its
//! directory exists -> plan is empty -> import gives the same state -> autostart changes
//! in place -> a pool stopped or undefined out of band shows in plan and comes back -> a
//! new path replaces, and the plan says why -> bad input fails at plan time at its
//! attribute -> destroy leaves no pool and no empty directory it created behind.

use crate::libvirt_common::{PROVIDER, defined_again, start_with_dir, started_again, virsh_ok};

/// Terraform's output with its box drawing removed and whitespace collapsed, so that
/// messages wrapped over lines can be searched.
pub fn flat(text: &str) -> String {
    text.replace('│', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn config(path: &str, autostart: bool) -> String {
    format!(
        r#"{PROVIDER}
resource "rack_storage_pool" "images" {{
  name      = "images"
  type      = "dir"
  path      = "{path}"
  autostart = {autostart}
}}

output "available" {{
  value = rack_storage_pool.images.available
}}
"#
    )
}

#[test]
fn storage_pool_lifecycle() {
    let (lv, wd, root) = start_with_dir("rack-acc-pool");
    let path = root.path().join("images");
    let path_text = path.to_str().expect("utf-8 path");
    wd.write_main(&config(path_text, true));
    wd.apply();

    // What libvirt holds, and what exists.
    let xml = virsh_ok(&lv, &["pool-dumpxml", "images"]);
    assert!(xml.contains("<pool type='dir'>"), "{xml}");
    assert!(xml.contains(&format!("<path>{path_text}</path>")), "{xml}");
    let info = virsh_ok(&lv, &["pool-info", "images"]);
    assert!(info.contains("State:          running"), "{info}");
    assert!(info.contains("Autostart:      yes"), "{info}");
    assert!(path.is_dir(), "the directory was built");
    let available = wd.output("available");
    assert!(available.as_f64().unwrap_or(0.0) > 0.0, "{available}");

    wd.assert_plan_empty();
    wd.assert_import_same_state("rack_storage_pool.images", "default/images", &[]);
    wd.assert_import_same_state("rack_storage_pool.images", "images", &[]);
    wd.assert_plan_empty();

    // In place: autostart off.
    wd.write_main(&config(path_text, false));
    wd.apply_planned(&[("rack_storage_pool.images", &["update"])]);
    let info = virsh_ok(&lv, &["pool-info", "images"]);
    assert!(info.contains("Autostart:      no"), "{info}");
    wd.assert_plan_empty();

    // Stopped out of band: started again.
    let images = ("pool", "images", "rack_storage_pool.images");
    started_again(&lv, &wd, images, "State:          running");

    // Undefined out of band: created again.
    defined_again(&lv, &wd, images);

    // A new path replaces the pool, and the plan says why.
    let moved = root.path().join("moved");
    wd.write_main(&config(moved.to_str().expect("utf-8"), false));
    let plan = wd.plan();
    assert_eq!(
        plan.actions("rack_storage_pool.images"),
        ["delete", "create"]
    );
    assert_eq!(plan.replace_paths("rack_storage_pool.images"), ["path"]);
    wd.apply();
    assert!(moved.is_dir());
    // The pool was created again over the directory left by the out-of-band undefine:
    // that directory was not built by this create, so the replacement keeps it.
    assert!(path.is_dir(), "a directory the pool found in place is kept");
    wd.assert_plan_empty();

    // Bad input fails at plan time, at the attribute.
    wd.write_resources(
        r#"
resource "rack_storage_pool" "bad" {
  name = "bad"
  type = "dir"
}

resource "rack_storage_pool" "worse" {
  name         = "worse"
  type         = "logical"
  volume_group = "-vg"
}
"#,
    );
    let out = wd.run(&["plan", "-input=false"]).failure();
    let text = flat(&out.combined());
    assert!(text.contains("A dir pool needs its path"), "{text}");
    assert!(
        text.contains("Volume group name \"-vg\" is not valid"),
        "{text}"
    );

    wd.write_main(&config(moved.to_str().expect("utf-8"), false));
    wd.destroy();
    wd.assert_destroyed();
    let names = virsh_ok(&lv, &["pool-list", "--all", "--name"]);
    assert!(names.trim().is_empty(), "pools left: {names}");
    assert!(!moved.exists(), "an empty pool directory is removed");
}

#[test]
fn a_pool_path_that_cannot_be_used_is_named() {
    let (lv, wd, root) = start_with_dir("rack-acc-pool-bad");
    let file = root.path().join("a-file");
    std::fs::write(&file, b"not a directory").expect("write");
    wd.write_main(&config(file.to_str().expect("utf-8"), true));
    wd.init();
    let out = wd.apply_fails();
    let text = flat(&out.combined());
    assert!(text.contains("cannot use"), "{text}");
    assert!(text.contains("check that the path exists"), "{text}");
    let names = virsh_ok(&lv, &["pool-list", "--all", "--name"]);
    assert!(names.trim().is_empty(), "a failed create left {names}");
}
