//! Generated files: the provider schema snapshot (`schemas/provider-schema.json`) and the
//! registry-layout documentation under `docs/`, rendered from the JSON that
//! `terraform providers schema -json` prints plus the files under `examples/`.
//!
//! Rendering is pure (schema JSON + example texts in, file texts out) so it is unit-tested
//! on a hand-written schema; only [`fetch_provider_schema`] and [`generate`] touch
//! Terraform and the disk.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde_json::{Map, Value};

use rack_acceptance_tests::PROVIDER_SOURCE;
use rack_acceptance_tests::Workdir;

/// Where the schema snapshot lives, relative to the workspace root.
pub const SCHEMA_SNAPSHOT: &str = "schemas/provider-schema.json";

/// The provider's short name, used in page titles and type names.
const PROVIDER_NAME: &str = "rack";

/// Kinds of schema-bearing objects that get one page each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Resource,
    DataSource,
    EphemeralResource,
    ListResource,
}

impl Kind {
    const ALL: [Kind; 4] = [
        Kind::Resource,
        Kind::DataSource,
        Kind::EphemeralResource,
        Kind::ListResource,
    ];

    /// Key in the provider's entry of `providers schema -json`.
    fn schema_key(self) -> &'static str {
        match self {
            Kind::Resource => "resource_schemas",
            Kind::DataSource => "data_source_schemas",
            Kind::EphemeralResource => "ephemeral_resource_schemas",
            Kind::ListResource => "list_resource_schemas",
        }
    }

    /// Directory under `docs/` (and under `examples/`).
    fn dir(self) -> &'static str {
        match self {
            Kind::Resource => "resources",
            Kind::DataSource => "data-sources",
            Kind::EphemeralResource => "ephemeral-resources",
            Kind::ListResource => "list-resources",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Kind::Resource => "Resource",
            Kind::DataSource => "Data Source",
            Kind::EphemeralResource => "Ephemeral Resource",
            Kind::ListResource => "List Resource",
        }
    }

    /// Example file name inside `examples/<dir>/<type>/`.
    fn example_file(self) -> &'static str {
        match self {
            Kind::Resource => "resource.tf",
            Kind::DataSource => "data-source.tf",
            Kind::EphemeralResource => "ephemeral-resource.tf",
            Kind::ListResource => "list-resource.tfquery.hcl",
        }
    }
}

/// Example texts, read from `examples/` by relative path (`resources/rack_x/resource.tf`).
pub trait Examples {
    /// The text of `examples/<relative>`, if that file exists.
    fn get(&self, relative: &str) -> Option<String>;
}

/// Examples read from a directory on disk.
#[derive(Debug)]
pub struct ExampleDir(pub PathBuf);

impl Examples for ExampleDir {
    fn get(&self, relative: &str) -> Option<String> {
        std::fs::read_to_string(self.0.join(relative)).ok()
    }
}

impl Examples for BTreeMap<String, String> {
    fn get(&self, relative: &str) -> Option<String> {
        BTreeMap::get(self, relative).cloned()
    }
}

/// `value` with every object's keys sorted, so the snapshot's order does not depend on
/// how the JSON was produced.
pub fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for key in keys {
                if let Some(v) = map.get(key) {
                    out.insert(key.clone(), sorted(v));
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// The snapshot file's text: sorted, pretty-printed, newline-terminated.
pub fn snapshot_text(schema: &Value) -> anyhow::Result<String> {
    let mut text = serde_json::to_string_pretty(&sorted(schema))?;
    text.push('\n');
    Ok(text)
}

/// Every generated file, by path relative to the workspace root: the schema snapshot and
/// the `docs/` pages.
pub fn render_all(
    schema: &Value,
    examples: &dyn Examples,
) -> anyhow::Result<BTreeMap<String, String>> {
    let provider = schema
        .get("provider_schemas")
        .and_then(|p| p.get(PROVIDER_SOURCE))
        .with_context(|| {
            format!("The schema JSON has no provider_schemas[\"{PROVIDER_SOURCE}\"]")
        })?;
    let mut files = BTreeMap::new();
    files.insert(SCHEMA_SNAPSHOT.to_string(), snapshot_text(schema)?);
    files.insert(
        "docs/index.md".to_string(),
        render_index(provider, examples),
    );
    for kind in Kind::ALL {
        for (name, entry) in sorted_entries(provider.get(kind.schema_key())) {
            files.insert(
                format!("docs/{}/{}.md", kind.dir(), short_name(name)),
                render_schema_page(kind, name, entry, examples),
            );
        }
    }
    for (name, function) in sorted_entries(provider.get("functions")) {
        files.insert(
            format!("docs/functions/{name}.md"),
            render_function(name, function, examples),
        );
    }
    Ok(files)
}

/// `rack_dns_record` -> `dns_record`: the registry names pages without the provider prefix.
fn short_name(type_name: &str) -> &str {
    type_name
        .strip_prefix(PROVIDER_NAME)
        .and_then(|rest| rest.strip_prefix('_'))
        .unwrap_or(type_name)
}

fn sorted_entries(map: Option<&Value>) -> Vec<(&str, &Value)> {
    let mut entries: Vec<(&str, &Value)> = map
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.as_str(), v)).collect())
        .unwrap_or_default();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}

fn str_field<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn bool_field(value: &Value, key: &str) -> bool {
    value.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn u64_field(value: &Value, key: &str) -> u64 {
    value.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// YAML front matter as the registry reads it.
fn front_matter(out: &mut String, title: &str, description: &str) {
    let _ = writeln!(out, "---");
    let _ = writeln!(out, "page_title: \"{title}\"");
    let _ = writeln!(out, "subcategory: \"\"");
    let _ = writeln!(out, "description: |-");
    let first = description.trim();
    if first.is_empty() {
        let _ = writeln!(out, "  ");
    }
    for line in first.lines() {
        let _ = writeln!(out, "  {line}");
    }
    let _ = writeln!(out, "---\n");
}

fn example_section(out: &mut String, heading: &str, lang: &str, text: Option<String>) {
    if let Some(text) = text {
        let _ = writeln!(out, "## {heading}\n");
        let _ = writeln!(out, "```{lang}\n{}\n```\n", text.trim_end());
    }
}

fn render_index(provider: &Value, examples: &dyn Examples) -> String {
    let block = provider.pointer("/provider/block").unwrap_or(&Value::Null);
    let description = match str_field(block, "description").trim() {
        "" => {
            "The rack provider manages a data-centre zone: DNS on BIND, DHCP on Kea, KVM \
               virtual machines and networks on libvirt."
        }
        text => text,
    };
    let mut out = String::new();
    front_matter(
        &mut out,
        &format!("{PROVIDER_NAME} Provider"),
        first_sentence(description),
    );
    let _ = writeln!(out, "# {PROVIDER_NAME} Provider\n");
    let _ = writeln!(out, "{description}\n");
    example_section(
        &mut out,
        "Example Usage",
        "terraform",
        examples.get("provider/provider.tf"),
    );
    render_block_schema(&mut out, block, "Schema");
    finish(out)
}

fn render_schema_page(kind: Kind, name: &str, entry: &Value, examples: &dyn Examples) -> String {
    let block = entry.get("block").unwrap_or(&Value::Null);
    let description = str_field(block, "description").trim();
    let mut out = String::new();
    front_matter(
        &mut out,
        &format!("{name} {} - {PROVIDER_NAME}", kind.title()),
        first_sentence(description),
    );
    let _ = writeln!(out, "# {name} ({})\n", kind.title());
    if bool_field(block, "deprecated") {
        let _ = writeln!(
            out,
            "~> **Deprecated** This {} is deprecated.\n",
            kind.title().to_lowercase()
        );
    }
    if !description.is_empty() {
        let _ = writeln!(out, "{description}\n");
    }
    let example_dir = format!("{}/{name}", kind.dir());
    let lang = if kind == Kind::ListResource {
        "hcl"
    } else {
        "terraform"
    };
    example_section(
        &mut out,
        "Example Usage",
        lang,
        examples.get(&format!("{example_dir}/{}", kind.example_file())),
    );
    render_block_schema(&mut out, block, "Schema");
    if kind == Kind::Resource
        && let Some(import) = examples.get(&format!("{example_dir}/import.sh"))
    {
        let _ = writeln!(out, "## Import\n");
        let _ = writeln!(out, "Import is supported using the following syntax:\n");
        let _ = writeln!(out, "```shell\n{}\n```\n", import.trim_end());
    }
    finish(out)
}

/// Trims the page to end with exactly one newline.
fn finish(mut out: String) -> String {
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
    out.push('\n');
    out
}

/// The first sentence (up to the first ". " or newline) for front matter.
fn first_sentence(text: &str) -> &str {
    let line = text.lines().next().unwrap_or_default();
    match line.find(". ") {
        Some(i) => &line[..=i],
        None => line,
    }
}

/// One attribute or nested block, ready to list.
struct Item<'a> {
    name: &'a str,
    /// `String`, `List of String`, `Block List, Max: 1`, ...
    type_text: String,
    flags: Vec<&'static str>,
    description: &'a str,
    /// Anchor of the nested schema section, when there is one.
    nested: Option<(String, Nested<'a>)>,
}

enum Nested<'a> {
    Block(&'a Value),
    Attributes(&'a Value),
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Group {
    Required,
    Optional,
    ReadOnly,
}

impl Group {
    fn heading(self) -> &'static str {
        match self {
            Group::Required => "Required",
            Group::Optional => "Optional",
            Group::ReadOnly => "Read-Only",
        }
    }
}

/// Renders `## {heading}` with the block's attributes and nested blocks grouped into
/// Required / Optional / Read-Only, then one `### Nested Schema for ...` section per
/// nested block or nested attribute, depth first.
fn render_block_schema(out: &mut String, block: &Value, heading: &str) {
    let _ = writeln!(out, "## {heading}\n");
    let mut nested = Vec::new();
    render_items(out, block_items(block, ""), "###", &mut nested);
    render_nested(out, nested);
}

fn render_nested(out: &mut String, mut queue: Vec<(String, Nested<'_>)>) {
    let mut i = 0;
    while i < queue.len() {
        let (anchor, nested) = (queue[i].0.clone(), &queue[i].1);
        let path = anchor
            .split_once("--")
            .map(|(_, p)| p)
            .unwrap_or(&anchor)
            .replace("--", ".");
        let items = match nested {
            Nested::Block(block) => block_items(block, &anchor_path(&anchor)),
            Nested::Attributes(attrs) => attribute_items(attrs, &anchor_path(&anchor)),
        };
        let _ = writeln!(out, "<a id=\"{anchor}\"></a>");
        let _ = writeln!(out, "### Nested Schema for `{path}`\n");
        let mut more = Vec::new();
        render_items(out, items, "####", &mut more);
        queue.extend(more);
        i += 1;
    }
}

/// `nestedblock--a--b` -> `a--b`, the prefix for anchors of items inside it.
fn anchor_path(anchor: &str) -> String {
    anchor
        .split_once("--")
        .map(|(_, p)| p.to_string())
        .unwrap_or_default()
}

fn render_items<'a>(
    out: &mut String,
    mut items: Vec<(Group, Item<'a>)>,
    heading: &str,
    nested: &mut Vec<(String, Nested<'a>)>,
) {
    items.sort_by(|a, b| (a.0, a.1.name).cmp(&(b.0, b.1.name)));
    let mut current = None;
    for (group, item) in items {
        if current != Some(group) {
            if current.is_some() {
                out.push('\n');
            }
            let _ = writeln!(out, "{heading} {}\n", group.heading());
            current = Some(group);
        }
        let mut type_text = item.type_text.clone();
        for flag in &item.flags {
            type_text.push_str(", ");
            type_text.push_str(flag);
        }
        let _ = write!(out, "- `{}` ({type_text})", item.name);
        let description = item.description.trim();
        if !description.is_empty() {
            let indented = description.replace('\n', "\n  ");
            let _ = write!(out, " {indented}");
        }
        if let Some((anchor, n)) = item.nested {
            let _ = write!(out, " (see [below for nested schema](#{anchor}))");
            nested.push((anchor, n));
        }
        out.push('\n');
    }
    if current.is_some() {
        out.push('\n');
    }
}

fn block_items<'a>(block: &'a Value, path: &str) -> Vec<(Group, Item<'a>)> {
    let mut items = attribute_items(block.get("attributes").unwrap_or(&Value::Null), path);
    for (name, block_type) in sorted_entries(block.get("block_types")) {
        let min = u64_field(block_type, "min_items");
        let max = u64_field(block_type, "max_items");
        let mode = str_field(block_type, "nesting_mode");
        let mut type_text = match mode {
            "list" => "Block List".to_string(),
            "set" => "Block Set".to_string(),
            "map" => "Block Map".to_string(),
            _ => "Block".to_string(),
        };
        if matches!(mode, "list" | "set") {
            if min > 0 {
                let _ = write!(type_text, ", Min: {min}");
            }
            if max > 0 {
                let _ = write!(type_text, ", Max: {max}");
            }
        }
        let inner = block_type.get("block").unwrap_or(&Value::Null);
        let mut flags = Vec::new();
        if bool_field(inner, "deprecated") {
            flags.push("Deprecated");
        }
        let group = if min > 0 {
            Group::Required
        } else {
            Group::Optional
        };
        let anchor = nested_anchor("nestedblock", path, name);
        items.push((
            group,
            Item {
                name,
                type_text,
                flags,
                description: str_field(inner, "description"),
                nested: Some((anchor, Nested::Block(inner))),
            },
        ));
    }
    items
}

fn nested_anchor(prefix: &str, path: &str, name: &str) -> String {
    if path.is_empty() {
        format!("{prefix}--{name}")
    } else {
        format!("{prefix}--{path}--{name}")
    }
}

fn attribute_items<'a>(attributes: &'a Value, path: &str) -> Vec<(Group, Item<'a>)> {
    sorted_entries(Some(attributes))
        .into_iter()
        .map(|(name, attr)| {
            let group = if bool_field(attr, "required") {
                Group::Required
            } else if bool_field(attr, "optional") {
                Group::Optional
            } else {
                Group::ReadOnly
            };
            let mut flags = Vec::new();
            if bool_field(attr, "sensitive") {
                flags.push("Sensitive");
            }
            if bool_field(attr, "write_only") {
                flags.push("Write-only");
            }
            if bool_field(attr, "deprecated") {
                flags.push("Deprecated");
            }
            let (type_text, nested) = match attr.get("nested_type") {
                Some(nested_type) => {
                    let mode = str_field(nested_type, "nesting_mode");
                    let text = match mode {
                        "list" => "Attributes List",
                        "set" => "Attributes Set",
                        "map" => "Attributes Map",
                        _ => "Attributes",
                    };
                    let anchor = nested_anchor("nestedatt", path, name);
                    let attrs = nested_type.get("attributes").unwrap_or(&Value::Null);
                    (text.to_string(), Some((anchor, Nested::Attributes(attrs))))
                }
                None => (type_doc(attr.get("type").unwrap_or(&Value::Null)), None),
            };
            (
                group,
                Item {
                    name,
                    type_text,
                    flags,
                    description: str_field(attr, "description"),
                    nested,
                },
            )
        })
        .collect()
}

/// A cty JSON type in the documentation's words: `String`, `List of Number`, `Object`.
fn type_doc(ty: &Value) -> String {
    match ty {
        Value::String(s) => match s.as_str() {
            "string" => "String".into(),
            "number" => "Number".into(),
            "bool" => "Boolean".into(),
            "dynamic" => "Dynamic".into(),
            other => other.into(),
        },
        Value::Array(parts) => match (parts.first().and_then(Value::as_str), parts.get(1)) {
            (Some("list"), Some(elem)) => format!("List of {}", type_doc(elem)),
            (Some("set"), Some(elem)) => format!("Set of {}", type_doc(elem)),
            (Some("map"), Some(elem)) => format!("Map of {}", type_doc(elem)),
            (Some("object"), _) => "Object".into(),
            (Some("tuple"), _) => "Tuple".into(),
            _ => ty.to_string(),
        },
        _ => "Dynamic".into(),
    }
}

/// A cty JSON type in HCL type-constraint syntax, for function signatures.
fn type_hcl(ty: &Value) -> String {
    match ty {
        Value::String(s) if s == "dynamic" => "any".into(),
        Value::String(s) => s.clone(),
        Value::Array(parts) => match (parts.first().and_then(Value::as_str), parts.get(1)) {
            (Some(kind @ ("list" | "set" | "map")), Some(elem)) => {
                format!("{kind}({})", type_hcl(elem))
            }
            (Some("object"), Some(Value::Object(attrs))) => {
                let mut names: Vec<&String> = attrs.keys().collect();
                names.sort();
                let fields: Vec<String> = names
                    .into_iter()
                    .map(|n| format!("{n} = {}", type_hcl(&attrs[n])))
                    .collect();
                format!("object({{{}}})", fields.join(", "))
            }
            (Some("tuple"), Some(Value::Array(elems))) => {
                let elems: Vec<String> = elems.iter().map(type_hcl).collect();
                format!("tuple([{}])", elems.join(", "))
            }
            _ => ty.to_string(),
        },
        _ => "any".into(),
    }
}

fn render_function(name: &str, function: &Value, examples: &dyn Examples) -> String {
    let summary = str_field(function, "summary").trim();
    let description = str_field(function, "description").trim();
    let parameters: Vec<&Value> = function
        .get("parameters")
        .and_then(Value::as_array)
        .map(|p| p.iter().collect())
        .unwrap_or_default();
    let variadic = function.get("variadic_parameter").filter(|v| !v.is_null());
    let return_type = function.get("return_type").unwrap_or(&Value::Null);

    let mut out = String::new();
    let front = if summary.is_empty() {
        first_sentence(description)
    } else {
        summary
    };
    front_matter(
        &mut out,
        &format!("{name} function - {PROVIDER_NAME}"),
        front,
    );
    let _ = writeln!(out, "# function: {name}\n");
    if let Some(message) = function
        .get("deprecation_message")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
    {
        let _ = writeln!(out, "~> **Deprecated** {message}\n");
    }
    if !summary.is_empty() && summary != description {
        let _ = writeln!(out, "{summary}\n");
    }
    if !description.is_empty() {
        let _ = writeln!(out, "{description}\n");
    }
    example_section(
        &mut out,
        "Example Usage",
        "terraform",
        examples.get(&format!("functions/{name}/function.tf")),
    );

    let mut args: Vec<String> = parameters
        .iter()
        .map(|p| {
            format!(
                "{} {}",
                str_field(p, "name"),
                type_hcl(p.get("type").unwrap_or(&Value::Null))
            )
        })
        .collect();
    if let Some(v) = variadic {
        args.push(format!(
            "{}... {}",
            str_field(v, "name"),
            type_hcl(v.get("type").unwrap_or(&Value::Null))
        ));
    }
    let _ = writeln!(out, "## Signature\n");
    let _ = writeln!(
        out,
        "```text\n{name}({}) {}\n```\n",
        args.join(", "),
        type_hcl(return_type)
    );

    if !parameters.is_empty() || variadic.is_some() {
        let _ = writeln!(out, "## Arguments\n");
        let mut number = 0;
        for (param, is_variadic) in parameters
            .iter()
            .map(|p| (*p, false))
            .chain(variadic.map(|v| (v, true)))
        {
            number += 1;
            let mut type_text = type_doc(param.get("type").unwrap_or(&Value::Null));
            if bool_field(param, "is_nullable") {
                type_text.push_str(", Nullable");
            }
            if is_variadic {
                type_text.push_str(", Variadic");
            }
            let _ = write!(
                out,
                "{number}. `{}` ({type_text})",
                str_field(param, "name")
            );
            let description = str_field(param, "description").trim();
            if !description.is_empty() {
                let _ = write!(out, " {}", description.replace('\n', "\n   "));
            }
            out.push('\n');
        }
        out.push('\n');
    }
    let _ = writeln!(out, "## Return Type\n");
    let _ = writeln!(out, "{}", type_doc(return_type));
    finish(out)
}

/// Runs `terraform providers schema -json` against the built provider (dev_overrides)
/// and returns the whole document.
pub fn fetch_provider_schema() -> anyhow::Result<Value> {
    let wd = Workdir::new();
    wd.write_main(&format!(
        "terraform {{\n  required_providers {{\n    {PROVIDER_NAME} = {{\n      source = \"{PROVIDER_SOURCE}\"\n    }}\n  }}\n}}\n"
    ));
    let run = wd.run(&["providers", "schema", "-json"]);
    if !run.succeeded() {
        bail!("`terraform providers schema -json` failed\n{run}");
    }
    serde_json::from_str(&run.stdout)
        .with_context(|| format!("`terraform providers schema -json` printed no JSON\n{run}"))
}

/// Files that differ between `wanted` (relative path -> text) and the tree at `root`:
/// missing or different files, plus `.md` files under `docs/` that nothing generates.
pub fn stale_files(root: &Path, wanted: &BTreeMap<String, String>) -> Vec<String> {
    let mut stale: Vec<String> = wanted
        .iter()
        .filter(|(path, text)| {
            std::fs::read_to_string(root.join(path)).ok().as_deref() != Some(text.as_str())
        })
        .map(|(path, _)| path.clone())
        .collect();
    for path in existing_docs(root) {
        if !wanted.contains_key(&path) {
            stale.push(path);
        }
    }
    stale.sort();
    stale
}

/// Markdown files under `<root>/docs`, as relative paths with `/` separators.
fn existing_docs(root: &Path) -> Vec<String> {
    fn walk(dir: &Path, rel: &str, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = format!("{rel}/{name}");
            let path = entry.path();
            if path.is_dir() {
                walk(&path, &rel, out);
            } else if name.ends_with(".md") {
                out.push(rel);
            }
        }
    }
    let mut out = Vec::new();
    walk(&root.join("docs"), "docs", &mut out);
    out
}

/// Writes `wanted` under `root` and removes generated-looking `docs/**/*.md` files that
/// nothing generates any more. Returns the paths written or removed.
pub fn write_files(root: &Path, wanted: &BTreeMap<String, String>) -> anyhow::Result<Vec<String>> {
    let changed = stale_files(root, wanted);
    for path in &changed {
        let full = root.join(path);
        match wanted.get(path) {
            Some(text) => {
                if let Some(parent) = full.parent() {
                    std::fs::create_dir_all(parent)
                        .with_context(|| format!("Cannot create {}", parent.display()))?;
                }
                std::fs::write(&full, text)
                    .with_context(|| format!("Cannot write {}", full.display()))?;
            }
            None => std::fs::remove_file(&full)
                .with_context(|| format!("Cannot remove {}", full.display()))?,
        }
    }
    Ok(changed)
}

/// Regenerates the snapshot and docs for the workspace at `root`. With `check`, writes
/// nothing, renders into a temp dir and returns the stale files (empty = up to date);
/// without, writes and returns what changed.
pub fn generate(root: &Path, check: bool) -> anyhow::Result<Vec<String>> {
    let schema = fetch_provider_schema()?;
    let wanted = render_all(&schema, &ExampleDir(root.join("examples")))?;
    if check {
        let scratch = tempfile::tempdir().context("Cannot create a temp dir")?;
        write_files(scratch.path(), &wanted)?;
        Ok(stale_files(root, &wanted))
    } else {
        write_files(root, &wanted)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
