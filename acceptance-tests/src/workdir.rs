//! A Terraform working directory with its own CLI configuration, and the commands and
//! assertions tests run in it.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::process::{self, CmdResult};
use crate::provider::{self, MirrorInstall, provider_binary};
use crate::terraform::terraform_path;

/// Default deadline for one Terraform command; `RACK_ACC_TIMEOUT_SECS` overrides it.
/// Generous because two cores are shared with cargo; it exists so a hung provider fails
/// the test instead of hanging CI.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// Name of the saved plan file inside the working directory.
const PLAN_FILE: &str = "rack.tfplan";

/// Environment variables that would change how Terraform behaves behind the test's back.
const SCRUBBED_ENV: &[&str] = &[
    "TF_CLI_ARGS",
    "TF_CLI_ARGS_init",
    "TF_CLI_ARGS_plan",
    "TF_CLI_ARGS_apply",
    "TF_CLI_ARGS_destroy",
    "TF_CLI_ARGS_import",
    "TF_CLI_ARGS_query",
    "TF_DATA_DIR",
    "TF_WORKSPACE",
    "TF_PLUGIN_CACHE_DIR",
    "TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE",
    "TF_REATTACH_PROVIDERS",
];

/// A temp directory Terraform runs in, with a CLI configuration written for it.
///
/// The directory lives under `acceptance-tests/.work/` (git-ignored) and is removed when
/// the value is dropped, unless `RACK_ACC_KEEP=1` is set (then its path is printed).
#[derive(Debug)]
pub struct Workdir {
    /// Removes the directory on drop; `None` when it is kept.
    _dir: Option<tempfile::TempDir>,
    path: PathBuf,
    cli_config: PathBuf,
    envs: Vec<(OsString, OsString)>,
    timeout: Duration,
}

impl Default for Workdir {
    fn default() -> Self {
        Self::new()
    }
}

impl Workdir {
    /// A working directory whose CLI configuration runs the provider straight from the
    /// cargo build (`dev_overrides`); builds the provider first if needed.
    #[track_caller]
    pub fn new() -> Self {
        let binary = provider_binary();
        let bin_dir = binary.parent().unwrap_or(Path::new("/"));
        Self::with_cli_config_text(&provider::dev_overrides_cli_config(bin_dir))
    }

    /// A working directory for configurations that use no rack resources: nothing is
    /// built and the CLI configuration only turns off update checks.
    #[track_caller]
    pub fn without_provider() -> Self {
        Self::with_cli_config_text("disable_checkpoint = true\n")
    }

    /// A working directory whose CLI configuration installs the provider from a
    /// filesystem mirror, as a user would: the binary is copied into `<dir>/mirror` with
    /// [`provider::install_into_mirror`] at `version`.
    #[track_caller]
    pub fn with_filesystem_mirror(version: &str) -> (Self, MirrorInstall) {
        let mut wd = Self::without_provider();
        let mirror = wd.path.join("mirror");
        let installed = match provider::install_into_mirror(&mirror, version) {
            Ok(installed) => installed,
            Err(e) => panic!(
                "Cannot install the provider into {}: {e:#}",
                mirror.display()
            ),
        };
        wd.cli_config = installed.cli_config.clone();
        (wd, installed)
    }

    /// A working directory using the given CLI configuration text.
    #[track_caller]
    pub fn with_cli_config_text(cli_config_text: &str) -> Self {
        let root = crate::workspace_root()
            .join("acceptance-tests")
            .join(".work");
        let created = std::fs::create_dir_all(&root)
            .and_then(|()| tempfile::Builder::new().prefix("tf-").tempdir_in(&root));
        let dir = match created {
            Ok(dir) => dir,
            Err(e) => panic!("Cannot create a temp dir under {}: {e}", root.display()),
        };
        let path = dir.path().to_path_buf();
        let cli_config = path.join(".terraformrc");
        write_or_panic(&cli_config, cli_config_text);
        let timeout = std::env::var("RACK_ACC_TIMEOUT_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .map_or(DEFAULT_TIMEOUT, Duration::from_secs);
        let keep = std::env::var_os("RACK_ACC_KEEP").is_some_and(|v| v == "1");
        let dir = if keep {
            eprintln!("keeping Terraform working directory {}", path.display());
            let _ = dir.keep();
            None
        } else {
            Some(dir)
        };
        Self {
            _dir: dir,
            path,
            cli_config,
            envs: Vec::new(),
            timeout,
        }
    }

    /// The directory Terraform runs in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The CLI configuration file `TF_CLI_CONFIG_FILE` points at.
    pub fn cli_config(&self) -> &Path {
        &self.cli_config
    }

    /// Writes `contents` to `relative` inside the directory, creating parent directories.
    #[track_caller]
    pub fn write_file(&self, relative: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> &Self {
        let path = self.path.join(relative);
        if let Some(parent) = path.parent()
            && let Err(e) = std::fs::create_dir_all(parent)
        {
            panic!("Cannot create {}: {e}", parent.display());
        }
        write_or_panic(&path, contents.as_ref());
        self
    }

    /// Writes `main.tf`.
    #[track_caller]
    pub fn write_main(&self, contents: &str) -> &Self {
        self.write_file("main.tf", contents)
    }

    /// Writes `main.tf`: [`EMPTY_PROVIDER_CONFIG`](crate::EMPTY_PROVIDER_CONFIG) (the
    /// provider's settings all from `RACK_*` variables) followed by `resources`.
    #[track_caller]
    pub fn write_resources(&self, resources: &str) -> &Self {
        self.write_main(&format!("{}{resources}", crate::EMPTY_PROVIDER_CONFIG))
    }

    /// Copies every regular file of `src` (not subdirectories) into the directory, e.g. an
    /// example under `examples/`.
    #[track_caller]
    pub fn copy_files_from(&self, src: &Path) -> &Self {
        let entries = match std::fs::read_dir(src) {
            Ok(entries) => entries,
            Err(e) => panic!("Cannot read {}: {e}", src.display()),
        };
        for entry in entries.flatten() {
            let from = entry.path();
            if from.is_file() {
                let to = self.path.join(entry.file_name());
                if let Err(e) = std::fs::copy(&from, &to) {
                    panic!("Cannot copy {} to {}: {e}", from.display(), to.display());
                }
            }
        }
        self
    }

    /// Sets an environment variable for every later Terraform command (for example a
    /// provider setting such as `RACK_...`, or `TF_LOG`).
    pub fn set_env(&mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> &mut Self {
        self.envs.push((key.into(), value.into()));
        self
    }

    /// The variables [`set_env`](Self::set_env) set, in order.
    pub fn envs(&self) -> &[(OsString, OsString)] {
        &self.envs
    }

    /// The command `terraform <args>` in this directory with the test environment:
    /// `TF_CLI_CONFIG_FILE`, `TF_IN_AUTOMATION=1`, `CHECKPOINT_DISABLE=1`, `TF_INPUT=0`,
    /// and no inherited `TF_CLI_ARGS*`, `TF_DATA_DIR`, plugin cache or reattach settings.
    #[track_caller]
    pub fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new(terraform_path());
        cmd.args(args).current_dir(&self.path);
        for key in SCRUBBED_ENV {
            cmd.env_remove(key);
        }
        cmd.env("TF_CLI_CONFIG_FILE", &self.cli_config)
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_INPUT", "0");
        for (key, value) in &self.envs {
            cmd.env(key, value);
        }
        cmd
    }

    /// Runs `terraform <args>` and returns how it went, without judging it.
    #[track_caller]
    pub fn run(&self, args: &[&str]) -> CmdResult {
        let cmd = self.command(args);
        match process::run(cmd, self.timeout) {
            Ok(result) => result,
            Err(e) => panic!(
                "Cannot start {} {}: {e}",
                terraform_path().display(),
                args.join(" ")
            ),
        }
    }

    /// `terraform init`; must succeed.
    #[track_caller]
    pub fn init(&self) -> CmdResult {
        self.run(&["init", "-input=false", "-no-color"]).success()
    }

    /// `terraform validate`; must succeed.
    #[track_caller]
    pub fn validate(&self) -> CmdResult {
        self.run(&["validate", "-no-color"]).success()
    }

    /// `terraform plan -detailed-exitcode -out=...` then `terraform show -json` of that
    /// plan; the plan must not fail.
    #[track_caller]
    pub fn plan(&self) -> PlanResult {
        let out = format!("-out={PLAN_FILE}");
        let run = self.run(&[
            "plan",
            "-input=false",
            "-no-color",
            "-detailed-exitcode",
            &out,
        ]);
        let has_changes = match run.code {
            Some(0) => false,
            Some(2) => true,
            _ => panic!("terraform plan failed\n{run}"),
        };
        let json = self.json(&["show", "-json", "-no-color", PLAN_FILE]);
        PlanResult {
            run,
            has_changes,
            json,
        }
    }

    /// `terraform apply -auto-approve`; must succeed.
    #[track_caller]
    pub fn apply(&self) -> CmdResult {
        self.run(&["apply", "-auto-approve", "-input=false", "-no-color"])
            .success()
    }

    /// `terraform plan` of a configuration that must not plan; returns how it failed
    /// (the diagnostics are on stderr).
    #[track_caller]
    pub fn plan_fails(&self) -> CmdResult {
        self.run(&["plan", "-input=false", "-no-color"]).failure()
    }

    /// `terraform apply -auto-approve` that must fail; returns how it failed.
    #[track_caller]
    pub fn apply_fails(&self) -> CmdResult {
        self.run(&["apply", "-auto-approve", "-input=false", "-no-color"])
            .failure()
    }

    /// [`Workdir::apply_fails`], and fails unless what Terraform printed (stdout and
    /// stderr) holds each of `needles`. Returns what it printed.
    #[track_caller]
    pub fn apply_fails_saying(&self, needles: &[&str]) -> String {
        let text = self.apply_fails().combined();
        for needle in needles {
            assert!(text.contains(needle), "{text}");
        }
        text
    }

    /// `terraform plan -out=<file>`; must succeed. Apply it with [`Workdir::apply_saved`].
    #[track_caller]
    pub fn save_plan(&self, file: &str) -> CmdResult {
        let out = format!("-out={file}");
        self.run(&["plan", "-input=false", "-no-color", &out])
            .success()
    }

    /// `terraform plan -destroy -out=<file>`; must succeed.
    #[track_caller]
    pub fn save_destroy_plan(&self, file: &str) -> CmdResult {
        let out = format!("-out={file}");
        self.run(&["plan", "-destroy", "-input=false", "-no-color", &out])
            .success()
    }

    /// `terraform apply <file>` of a plan saved before, without judging how it ends (a
    /// saved plan is what tests of changes made meanwhile apply).
    #[track_caller]
    pub fn apply_saved(&self, file: &str) -> CmdResult {
        self.run(&["apply", "-input=false", "-no-color", file])
    }

    /// Plans, fails unless Terraform plans exactly `actions` for each address
    /// (`["update"]`, `["create"]`, `["delete", "create"]`, ...), then applies.
    #[track_caller]
    pub fn apply_planned(&self, expected: &[(&str, &[&str])]) -> CmdResult {
        let plan = self.plan();
        for (address, actions) in expected {
            assert_eq!(
                plan.actions(address),
                *actions,
                "planned actions of {address}"
            );
        }
        self.apply()
    }

    /// `terraform apply -auto-approve -json`; must succeed. Returns the machine-readable UI
    /// messages, one JSON object per line (`@level`, `@message`, `type`, ...).
    #[track_caller]
    pub fn apply_json_output(&self) -> Vec<Value> {
        let run = self
            .run(&["apply", "-auto-approve", "-input=false", "-json"])
            .success();
        json_lines(&run)
    }

    /// `terraform show -json`: the current state (`values.root_module.resources`, ...).
    #[track_caller]
    pub fn show_json(&self) -> Value {
        self.json(&["show", "-json", "-no-color"])
    }

    /// `terraform output -json <name>`: the output's value.
    #[track_caller]
    pub fn output(&self, name: &str) -> Value {
        self.json(&["output", "-json", "-no-color", name])
    }

    /// `terraform output -json`: every output, by name, as `{"value", "type", "sensitive"}`.
    #[track_caller]
    pub fn outputs(&self) -> Value {
        self.json(&["output", "-json", "-no-color"])
    }

    /// `terraform import <address> <id>`; must succeed.
    #[track_caller]
    pub fn import(&self, address: &str, id: &str) -> CmdResult {
        self.run(&["import", "-input=false", "-no-color", address, id])
            .success()
    }

    /// `terraform state rm <address>`; must succeed.
    #[track_caller]
    pub fn state_rm(&self, address: &str) -> CmdResult {
        self.run(&["state", "rm", "-no-color", address]).success()
    }

    /// `terraform destroy -auto-approve`; must succeed.
    #[track_caller]
    pub fn destroy(&self) -> CmdResult {
        self.run(&["destroy", "-auto-approve", "-input=false", "-no-color"])
            .success()
    }

    /// `terraform query` over the `*.tfquery.hcl` files; must succeed. (`query` has no
    /// `-input` flag; `TF_INPUT=0` covers it.)
    #[track_caller]
    pub fn query(&self) -> CmdResult {
        self.run(&["query", "-no-color"]).success()
    }

    /// `terraform query -json`; must succeed. Returns the JSON messages, one per line
    /// (found resources arrive as `type = "list_resource_found"`).
    #[track_caller]
    pub fn query_json(&self) -> Vec<Value> {
        let run = self.run(&["query", "-json"]).success();
        json_lines(&run)
    }

    /// `terraform apply -replace=ADDRESS` for each address; must succeed.
    #[track_caller]
    pub fn apply_replacing(&self, addresses: &[&str]) -> CmdResult {
        let replace: Vec<String> = addresses.iter().map(|a| format!("-replace={a}")).collect();
        let mut args = vec!["apply", "-auto-approve", "-input=false", "-no-color"];
        args.extend(replace.iter().map(String::as_str));
        self.run(&args).success()
    }

    /// `terraform taint ADDRESS`; must succeed.
    #[track_caller]
    pub fn taint(&self, address: &str) -> CmdResult {
        self.run(&["taint", "-no-color", address]).success()
    }

    /// The display names of what `terraform query -json` found, in its order.
    #[track_caller]
    pub fn query_display_names(&self) -> Vec<String> {
        self.query_json()
            .iter()
            .filter(|m| m["type"] == "list_resource_found")
            .filter_map(|m| {
                m.pointer("/list_resource_found/display_name")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .collect()
    }

    /// `terraform providers schema -json`; must succeed.
    #[track_caller]
    pub fn providers_schema_json(&self) -> Value {
        self.json(&["providers", "schema", "-json"])
    }

    /// Runs a command that must succeed and print one JSON document.
    #[track_caller]
    fn json(&self, args: &[&str]) -> Value {
        let run = self.run(args).success();
        match serde_json::from_str(&run.stdout) {
            Ok(value) => value,
            Err(e) => panic!("stdout is not JSON ({e})\n{run}"),
        }
    }

    /// Plans again and fails unless Terraform proposes no change at all.
    #[track_caller]
    pub fn assert_plan_empty(&self) {
        let plan = self.plan();
        if plan.has_changes {
            let changes: Vec<String> = plan
                .resource_changes()
                .iter()
                .filter(|c| !c.is_no_op())
                .map(|c| format!("{} {:?}", c.address, c.actions))
                .collect();
            panic!(
                "expected an empty plan, Terraform proposes changes: {changes:?}\n{}",
                plan.run
            );
        }
    }

    /// Forgets `address` (`state rm`), imports it again by `id`, and fails unless the
    /// imported attributes equal the ones before. Top-level attribute names in `ignore`
    /// are left out of the comparison (values the remote end does not report back, such
    /// as write-only secrets).
    #[track_caller]
    pub fn assert_import_same_state(&self, address: &str, id: &str, ignore: &[&str]) {
        let before = self.resource_values(address);
        self.state_rm(address);
        self.import(address, id);
        let after = self.resource_values(address);
        let differences = diff_attributes(&before, &after, ignore);
        if !differences.is_empty() {
            panic!(
                "importing {address} by id {id:?} gave a different state:\n  {}",
                differences.join("\n  ")
            );
        }
    }

    /// Fails unless the state holds no resource (use after [`Workdir::destroy`]).
    #[track_caller]
    pub fn assert_destroyed(&self) {
        let state = self.show_json();
        let left: Vec<&str> = state_resources(&state)
            .iter()
            .filter_map(|r| r.get("address").and_then(Value::as_str))
            .collect();
        if !left.is_empty() {
            panic!("resources left in the state after destroy: {left:?}");
        }
    }

    /// The `values` of the resource at `address` in `terraform show -json`; fails when
    /// the state has no such resource.
    #[track_caller]
    pub fn resource_values(&self, address: &str) -> Value {
        let state = self.show_json();
        let found = state_resources(&state)
            .into_iter()
            .find(|r| r.get("address").and_then(Value::as_str) == Some(address))
            .and_then(|r| r.get("values"))
            .cloned();
        match found {
            Some(values) => values,
            None => panic!("no resource {address} in the state: {state:#}"),
        }
    }
}

#[track_caller]
fn write_or_panic(path: &Path, contents: impl AsRef<[u8]>) {
    if let Err(e) = std::fs::write(path, contents) {
        panic!("Cannot write {}: {e}", path.display());
    }
}

/// Parses one JSON object per non-empty stdout line; panics on a line that is not JSON.
#[track_caller]
fn json_lines(run: &CmdResult) -> Vec<Value> {
    run.stdout
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| match serde_json::from_str(line) {
            Ok(value) => value,
            Err(e) => panic!("line is not JSON ({e}): {line}\n{run}"),
        })
        .collect()
}

/// Every resource in a `terraform show -json` document (state or plan `prior_state`),
/// root module and child modules alike.
pub fn state_resources(state: &Value) -> Vec<&Value> {
    fn walk<'a>(module: &'a Value, out: &mut Vec<&'a Value>) {
        if let Some(resources) = module.get("resources").and_then(Value::as_array) {
            out.extend(resources);
        }
        if let Some(children) = module.get("child_modules").and_then(Value::as_array) {
            for child in children {
                walk(child, out);
            }
        }
    }
    let mut out = Vec::new();
    if let Some(root) = state.get("values").and_then(|v| v.get("root_module")) {
        walk(root, &mut out);
    }
    out
}

/// Top-level attributes that differ between two resource `values` objects, as lines
/// `name: before -> after`, skipping names in `ignore`.
fn diff_attributes(before: &Value, after: &Value, ignore: &[&str]) -> Vec<String> {
    let empty = serde_json::Map::new();
    let before = before.as_object().unwrap_or(&empty);
    let after = after.as_object().unwrap_or(&empty);
    let mut names: Vec<&String> = before.keys().chain(after.keys()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter(|name| !ignore.contains(&name.as_str()))
        .filter_map(|name| {
            let b = before.get(name).unwrap_or(&Value::Null);
            let a = after.get(name).unwrap_or(&Value::Null);
            (b != a).then(|| format!("{name}: {b} -> {a}"))
        })
        .collect()
}

/// The outcome of [`Workdir::plan`].
#[derive(Debug)]
pub struct PlanResult {
    /// The `terraform plan` run itself.
    pub run: CmdResult,
    /// True when `-detailed-exitcode` reported changes (exit code 2).
    pub has_changes: bool,
    /// `terraform show -json` of the saved plan.
    pub json: Value,
}

/// One entry of a plan's `resource_changes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceChange {
    /// Resource address, e.g. `rack_dns_record.www`.
    pub address: String,
    /// Terraform's actions: `["no-op"]`, `["create"]`, `["update"]`,
    /// `["delete", "create"]` (replace), ...
    pub actions: Vec<String>,
}

impl ResourceChange {
    /// True when nothing happens to this resource.
    pub fn is_no_op(&self) -> bool {
        self.actions.iter().all(|a| a == "no-op" || a == "read")
    }
}

impl PlanResult {
    /// The plan's `resource_changes`, in Terraform's order.
    pub fn resource_changes(&self) -> Vec<ResourceChange> {
        self.json
            .get("resource_changes")
            .and_then(Value::as_array)
            .map(|changes| {
                changes
                    .iter()
                    .map(|c| ResourceChange {
                        address: c
                            .get("address")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                        actions: c
                            .pointer("/change/actions")
                            .and_then(Value::as_array)
                            .map(|a| {
                                a.iter()
                                    .filter_map(Value::as_str)
                                    .map(str::to_string)
                                    .collect()
                            })
                            .unwrap_or_default(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The actions planned for `address`; panics when the plan does not mention it.
    #[track_caller]
    pub fn actions(&self, address: &str) -> Vec<String> {
        match self
            .resource_changes()
            .into_iter()
            .find(|c| c.address == address)
        {
            Some(change) => change.actions,
            None => panic!("the plan has no change for {address}\n{}", self.run),
        }
    }

    /// The attributes whose change forces `address` to be replaced, as Terraform reports
    /// them (`replace_paths`), each path joined with `.` (e.g. `ipv4.cidr`).
    pub fn replace_paths(&self, address: &str) -> Vec<String> {
        let changes = self
            .json
            .get("resource_changes")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let Some(change) = changes
            .iter()
            .find(|c| c.get("address").and_then(Value::as_str) == Some(address))
        else {
            return Vec::new();
        };
        change
            .pointer("/change/replace_paths")
            .and_then(Value::as_array)
            .map(|paths| {
                paths
                    .iter()
                    .filter_map(Value::as_array)
                    .map(|steps| {
                        steps
                            .iter()
                            .map(|s| match s {
                                Value::String(t) => t.clone(),
                                other => other.to_string(),
                            })
                            .collect::<Vec<_>>()
                            .join(".")
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn walks_modules_for_resources() {
        let state = json!({"values": {"root_module": {
            "resources": [{"address": "a.x"}],
            "child_modules": [{"resources": [{"address": "module.m.b.y"}],
                               "child_modules": [{"resources": [{"address": "module.m.module.n.c.z"}]}]}]
        }}});
        let addresses: Vec<&str> = state_resources(&state)
            .iter()
            .map(|r| r["address"].as_str().unwrap())
            .collect();
        assert_eq!(addresses, ["a.x", "module.m.b.y", "module.m.module.n.c.z"]);
        assert!(state_resources(&json!({"format_version": "1.0"})).is_empty());
    }

    #[test]
    fn diffs_attributes_except_ignored() {
        let before = json!({"id": "1", "name": "a", "secret": "s", "gone": 1});
        let after = json!({"id": "1", "name": "b", "secret": null});
        assert_eq!(
            diff_attributes(&before, &after, &["secret"]),
            ["gone: 1 -> null", r#"name: "a" -> "b""#]
        );
        assert!(diff_attributes(&before, &before, &[]).is_empty());
    }

    #[test]
    fn reads_resource_changes() {
        let plan = PlanResult {
            run: CmdResult {
                command: vec![],
                dir: PathBuf::new(),
                code: Some(2),
                timed_out: false,
                stdout: String::new(),
                stderr: String::new(),
                elapsed: Duration::ZERO,
            },
            has_changes: true,
            json: json!({"resource_changes": [
                {"address": "a.x", "change": {"actions": ["no-op"]}},
                {"address": "a.y", "change": {"actions": ["delete", "create"]}}
            ]}),
        };
        let changes = plan.resource_changes();
        assert!(changes[0].is_no_op());
        assert!(!changes[1].is_no_op());
        assert_eq!(plan.actions("a.y"), ["delete", "create"]);
    }
}
