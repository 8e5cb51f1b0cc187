//! The harness itself, through the real Terraform and without any rack resource: proves
//! that the CLI install works and that the assertion helpers see what they should.

use rack_acceptance_tests::{
    MIN_TERRAFORM, PROVIDER_SOURCE, Workdir, terraform_path, terraform_version,
};

const CONFIG: &str = r#"
resource "terraform_data" "server" {
  input = {
    name = "skaro"
    ip   = "10.10.60.2"
  }
}

output "name" {
  value = terraform_data.server.output.name
}
"#;

#[test]
fn terraform_is_new_enough() {
    let version = terraform_version(terraform_path()).unwrap();
    let mut parts = version.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
    let found = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    assert!(found >= MIN_TERRAFORM, "Terraform {version}");
}

#[test]
fn apply_plan_empty_destroy() {
    let wd = Workdir::without_provider();
    wd.write_main(CONFIG);
    wd.init();
    wd.validate();

    let plan = wd.plan();
    assert!(plan.has_changes);
    assert_eq!(plan.actions("terraform_data.server"), ["create"]);

    wd.apply();
    assert_eq!(wd.output("name"), "skaro");
    let values = wd.resource_values("terraform_data.server");
    assert_eq!(values["input"]["ip"], "10.10.60.2");
    wd.assert_plan_empty();

    wd.destroy();
    wd.assert_destroyed();
}

#[test]
fn changes_are_detected() {
    let wd = Workdir::without_provider();
    wd.write_main(CONFIG);
    wd.init();
    wd.apply();
    wd.write_main(&CONFIG.replace("10.10.60.2", "10.10.60.3"));
    let plan = wd.plan();
    assert!(plan.has_changes);
    // A new input is an update in place; only `triggers_replace` forces a replacement.
    assert_eq!(plan.actions("terraform_data.server"), ["update"]);
}

#[test]
#[should_panic(expected = "expected an empty plan")]
fn assert_plan_empty_fails_on_changes() {
    let wd = Workdir::without_provider();
    wd.write_main(CONFIG);
    wd.init();
    wd.assert_plan_empty();
}

#[test]
fn apply_json_output_streams_messages() {
    let wd = Workdir::without_provider();
    wd.write_main(CONFIG);
    wd.init();
    let messages = wd.apply_json_output();
    assert!(
        messages.iter().any(|m| m["type"] == "apply_complete"
            && m["hook"]["resource"]["addr"] == "terraform_data.server"),
        "{messages:#?}"
    );
}

#[test]
fn failed_commands_report_output() {
    let wd = Workdir::without_provider();
    wd.write_main("resource \"terraform_data\" \"x\" {\n  nonsense = 1\n}\n");
    wd.init();
    let result = wd.run(&["validate", "-no-color"]).failure();
    assert!(result.stderr.contains("Unsupported argument"), "{result}");
    assert!(result.to_string().contains("----- stderr -----"));
}

/// The filesystem-mirror layout is accepted by a plain `terraform init` (init does not
/// start the provider, so this works before the provider serves anything).
#[test]
fn filesystem_mirror_init() {
    let (wd, installed) = Workdir::with_filesystem_mirror("0.0.1");
    assert!(
        installed
            .binary
            .ends_with("linux_amd64/terraform-provider-rack_v0.0.1")
    );
    wd.write_main(&format!(
        "terraform {{\n  required_providers {{\n    rack = {{\n      source  = \"{PROVIDER_SOURCE}\"\n      version = \"0.0.1\"\n    }}\n  }}\n}}\n"
    ));
    let init = wd.init();
    assert!(
        init.stdout
            .contains("Installed terraform.local/rack/rack v0.0.1"),
        "{init}"
    );
    let lock = std::fs::read_to_string(wd.path().join(".terraform.lock.hcl")).unwrap();
    assert!(
        lock.contains("provider \"terraform.local/rack/rack\""),
        "{lock}"
    );
}
