//! Provider functions: `provider::rack::mac_address`, `reverse_zone` and `ptr_name`, run
//! through Terraform from `examples/functions`.

use std::time::Duration;

use rack_acceptance_tests::{PROVIDER_VERSION, Workdir, provider_binary, workspace_root};
use serde_json::Value;

const IPV6_PTR: &str = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.";

/// Output name -> value `examples/functions/main.tf` must produce. The MAC is the QEMU
/// prefix 52:54:00 followed by the first bytes of SHA-256("skaro.xivo.vm.farm").
const EXPECTED: &[(&str, &str)] = &[
    ("vm_mac", "52:54:00:4e:aa:a2"),
    ("reverse_zone_v4", "10.10.in-addr.arpa."),
    ("reverse_zone_v6", "8.b.d.0.1.0.0.2.ip6.arpa."),
    ("ptr_v4", "2.60.10.10.in-addr.arpa."),
    ("ptr_v6", IPV6_PTR),
];

const FUNCTIONS: [&str; 3] = ["mac_address", "reverse_zone", "ptr_name"];

fn example_dir() -> std::path::PathBuf {
    workspace_root().join("examples").join("functions")
}

#[track_caller]
fn assert_example_outputs(wd: &Workdir, apply_stdout: &str) {
    let url = "http://10.10.60.2/boot/";
    assert_eq!(
        wd.output("ztp_cumulus"),
        serde_json::json!({"name": null, "code": 239, "data": format!("{url}ztp/tor1.sh")})
    );
    assert_eq!(
        wd.output("ztp_sonic"),
        serde_json::json!({"name": "boot-file-name", "code": null, "data": format!("{url}ztp/leaf2.json")})
    );
    assert_eq!(wd.output("ztp_onie")["code"], 114);
    for (name, value) in EXPECTED {
        assert_eq!(wd.output(name), *value, "output {name}");
        assert!(
            apply_stdout.contains(&format!("{name} = \"{value}\"")),
            "apply does not print {name}:\n{apply_stdout}"
        );
    }
}

#[test]
fn example_init_and_apply_print_outputs() {
    let wd = Workdir::new();
    wd.copy_files_from(&example_dir());
    wd.init();
    let apply = wd.apply();
    assert_example_outputs(&wd, &apply.stdout);
    wd.assert_plan_empty();
}

#[test]
fn filesystem_mirror_install_and_plain_init() {
    let (wd, _installed) = Workdir::with_filesystem_mirror(PROVIDER_VERSION);
    wd.copy_files_from(&example_dir());
    let init = wd.init();
    assert!(
        init.stdout.contains(&format!(
            "Installed terraform.local/rack/rack v{PROVIDER_VERSION}"
        )),
        "{init}"
    );
    let apply = wd.apply();
    assert_example_outputs(&wd, &apply.stdout);
}

/// The name Terraform shows for parameter `index` of `function`, from the schema.
fn parameter_name(schema: &Value, function: &str, index: usize) -> String {
    let functions = &schema["provider_schemas"]["terraform.local/rack/rack"]["functions"];
    functions[function]["parameters"][index]["name"]
        .as_str()
        .unwrap_or_else(|| panic!("no parameter {index} of {function} in {functions:#}"))
        .to_string()
}

#[test]
fn malformed_arguments_fail_naming_the_argument() {
    let wd = Workdir::new();
    wd.copy_files_from(&example_dir());
    let schema = wd.providers_schema_json();
    for (call, function) in [
        (
            r#"provider::rack::reverse_zone("10.10.0.0/33")"#,
            "reverse_zone",
        ),
        (r#"provider::rack::ptr_name("not-an-ip")"#, "ptr_name"),
        (
            r#"provider::rack::cumulus_ztp_option("tftp://10.0.0.5/ztp.sh")"#,
            "cumulus_ztp_option",
        ),
    ] {
        let param = parameter_name(&schema, function, 0);
        wd.write_file(
            "bad.tf",
            format!("output \"bad\" {{\n  value = {call}\n}}\n"),
        );
        let result = wd.plan_fails();
        let text = result.combined();
        assert!(
            text.contains(&format!("Invalid value for \"{param}\" parameter")),
            "{call}: the error does not name the argument {param:?}\n{result}"
        );
        assert!(text.contains(function), "{call}\n{result}");
    }
}

#[test]
fn schema_lists_the_functions_with_descriptions() {
    let wd = Workdir::new();
    wd.copy_files_from(&example_dir());
    let schema = wd.providers_schema_json();
    let functions = &schema["provider_schemas"]["terraform.local/rack/rack"]["functions"];
    for name in FUNCTIONS {
        let function = &functions[name];
        let description = function["description"].as_str().unwrap_or_default();
        assert!(
            !description.trim().is_empty(),
            "{name} has no description: {functions:#}"
        );
        assert_eq!(function["return_type"], "string", "{name}");
        let params = function["parameters"].as_array().unwrap();
        assert_eq!(params.len(), 1, "{name} takes one argument");
        assert!(
            !params[0]["description"]
                .as_str()
                .unwrap_or_default()
                .is_empty(),
            "{name}'s parameter has no description"
        );
    }
}

/// Run by hand (no go-plugin magic cookie), the binary explains itself in one line and
/// exits 1 at once instead of waiting for a handshake.
#[test]
fn binary_run_by_hand_explains_itself() {
    let mut cmd = std::process::Command::new(provider_binary());
    cmd.env_remove("TF_PLUGIN_MAGIC_COOKIE");
    let result = rack_acceptance_tests::run_command(cmd, Duration::from_secs(30)).unwrap();
    assert_eq!(result.code, Some(1), "{result}");
    let text = result.combined();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line of explanation\n{result}");
    let line = lines[0].to_lowercase();
    assert!(
        line.contains("plugin") && line.contains("terraform"),
        "the line should say this is a Terraform plugin: {:?}",
        lines[0]
    );
}
