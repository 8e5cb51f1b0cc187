//! The generator on a small schema: pages, anchors, examples, stale files.

use super::*;
use serde_json::json;

fn schema() -> Value {
    json!({
      "format_version": "1.0",
      "provider_schemas": {
        "terraform.local/rack/rack": {
          "provider": {"version": 0, "block": {
            "description": "Manages a zone. Backends come later.",
            "description_kind": "markdown",
            "attributes": {
              "endpoint": {"type": "string", "optional": true,
                           "description": "Where the API is; also `RACK_ENDPOINT`.",
                           "description_kind": "markdown"},
              "token": {"type": "string", "optional": true, "sensitive": true,
                        "description_kind": "plain"}
            }
          }},
          "resource_schemas": {
            "rack_dns_record": {"version": 1, "block": {
              "description": "A DNS record set.\n\nWritten by RFC 2136 UPDATE.",
              "description_kind": "markdown",
              "attributes": {
                "id": {"type": "string", "computed": true, "description": "Identifier."},
                "name": {"type": "string", "required": true, "description": "Owner name."},
                "ttl": {"type": "number", "optional": true, "computed": true},
                "records": {"type": ["set", "string"], "required": true},
                "meta": {"nested_type": {"nesting_mode": "single", "attributes": {
                  "serial": {"type": "number", "computed": true, "description": "Zone serial."}
                }}, "computed": true}
              },
              "block_types": {
                "timeouts": {"nesting_mode": "single", "block": {
                  "attributes": {"create": {"type": "string", "optional": true}}
                }},
                "target": {"nesting_mode": "list", "min_items": 1, "max_items": 1, "block": {
                  "description": "The server.",
                  "attributes": {"server": {"type": "string", "required": true}},
                  "block_types": {"tsig": {"nesting_mode": "list", "max_items": 1, "block": {
                    "attributes": {"key": {"type": "string", "required": true, "sensitive": true}}
                  }}}
                }}
              }
            }}
          },
          "data_source_schemas": {
            "rack_zone": {"version": 0, "block": {
              "attributes": {"name": {"type": "string", "required": true},
                             "serial": {"type": "number", "computed": true}}
            }}
          },
          "functions": {
            "reverse_zone": {
              "description": "The reverse zone of a network, e.g. `10.10.in-addr.arpa.`.",
              "summary": "Reverse zone of a CIDR",
              "return_type": "string",
              "parameters": [{"name": "cidr", "type": "string",
                              "description": "An IPv4 or IPv6 network."}]
            },
            "join_labels": {
              "description": "Joins labels.",
              "return_type": "string",
              "parameters": [{"name": "sep", "type": "string", "is_nullable": true}],
              "variadic_parameter": {"name": "labels", "type": ["list", "string"],
                                     "description": "Labels."}
            }
          }
        }
      }
    })
}

fn examples() -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "provider/provider.tf".to_string(),
            "provider \"rack\" {}\n".to_string(),
        ),
        (
            "resources/rack_dns_record/resource.tf".to_string(),
            "resource \"rack_dns_record\" \"www\" {}\n".to_string(),
        ),
        (
            "resources/rack_dns_record/import.sh".to_string(),
            "terraform import rack_dns_record.www www.example.\n".to_string(),
        ),
        (
            "functions/reverse_zone/function.tf".to_string(),
            "output \"z\" { value = provider::rack::reverse_zone(\"10.0.0.0/8\") }\n".to_string(),
        ),
    ])
}

#[test]
fn renders_every_page() {
    let files = render_all(&schema(), &examples()).unwrap();
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "docs/data-sources/zone.md",
            "docs/functions/join_labels.md",
            "docs/functions/reverse_zone.md",
            "docs/index.md",
            "docs/resources/dns_record.md",
            "schemas/provider-schema.json",
        ]
    );
    for (name, text) in &files {
        assert!(text.ends_with('\n') && !text.ends_with("\n\n"), "{name}");
    }
}

#[test]
fn renders_a_resource() {
    let files = render_all(&schema(), &examples()).unwrap();
    let page = &files["docs/resources/dns_record.md"];
    let expected = r#"---
page_title: "rack_dns_record Resource - rack"
subcategory: ""
description: |-
  A DNS record set.
---

# rack_dns_record (Resource)

A DNS record set.

Written by RFC 2136 UPDATE.

## Example Usage

```terraform
resource "rack_dns_record" "www" {}
```

## Schema

### Required

- `name` (String) Owner name.
- `records` (Set of String)
- `target` (Block List, Min: 1, Max: 1) The server. (see [below for nested schema](#nestedblock--target))

### Optional

- `timeouts` (Block) (see [below for nested schema](#nestedblock--timeouts))
- `ttl` (Number)

### Read-Only

- `id` (String) Identifier.
- `meta` (Attributes) (see [below for nested schema](#nestedatt--meta))

<a id="nestedblock--target"></a>
### Nested Schema for `target`

#### Required

- `server` (String)

#### Optional

- `tsig` (Block List, Max: 1) (see [below for nested schema](#nestedblock--target--tsig))

<a id="nestedblock--timeouts"></a>
### Nested Schema for `timeouts`

#### Optional

- `create` (String)

<a id="nestedatt--meta"></a>
### Nested Schema for `meta`

#### Read-Only

- `serial` (Number) Zone serial.

<a id="nestedblock--target--tsig"></a>
### Nested Schema for `target.tsig`

#### Required

- `key` (String, Sensitive)

## Import

Import is supported using the following syntax:

```shell
terraform import rack_dns_record.www www.example.
```
"#;
    assert_eq!(page, expected);
}

#[test]
fn renders_a_function() {
    let files = render_all(&schema(), &examples()).unwrap();
    let page = &files["docs/functions/reverse_zone.md"];
    let expected = r#"---
page_title: "reverse_zone function - rack"
subcategory: ""
description: |-
  Reverse zone of a CIDR
---

# function: reverse_zone

Reverse zone of a CIDR

The reverse zone of a network, e.g. `10.10.in-addr.arpa.`.

## Example Usage

```terraform
output "z" { value = provider::rack::reverse_zone("10.0.0.0/8") }
```

## Signature

```text
reverse_zone(cidr string) string
```

## Arguments

1. `cidr` (String) An IPv4 or IPv6 network.

## Return Type

String
"#;
    assert_eq!(page, expected);

    let variadic = &files["docs/functions/join_labels.md"];
    assert!(variadic.contains("join_labels(sep string, labels... list(string)) string"));
    assert!(
        variadic.contains(
            "1. `sep` (String, Nullable)\n2. `labels` (List of String, Variadic) Labels."
        )
    );
    assert!(!variadic.contains("## Example Usage"));
}

#[test]
fn renders_the_index_and_data_sources() {
    let files = render_all(&schema(), &examples()).unwrap();
    let index = &files["docs/index.md"];
    assert!(index.starts_with("---\npage_title: \"rack Provider\"\nsubcategory: \"\"\ndescription: |-\n  Manages a zone.\n---\n"));
    assert!(index.contains("```terraform\nprovider \"rack\" {}\n```"));
    assert!(index.contains("### Optional\n\n- `endpoint` (String) Where the API is; also `RACK_ENDPOINT`.\n- `token` (String, Sensitive)\n"));
    let zone = &files["docs/data-sources/zone.md"];
    assert!(zone.contains("# rack_zone (Data Source)"));
    assert!(
        zone.contains(
            "### Required\n\n- `name` (String)\n\n### Read-Only\n\n- `serial` (Number)\n"
        )
    );
    assert!(!zone.contains("## Import"));
}

#[test]
fn snapshot_is_sorted_and_stable() {
    let a = json!({"b": 1, "a": {"d": [{"z": 1, "y": 2}], "c": null}});
    let text = snapshot_text(&a).unwrap();
    assert_eq!(
        text,
        "{\n  \"a\": {\n    \"c\": null,\n    \"d\": [\n      {\n        \"y\": 2,\n        \"z\": 1\n      }\n    ]\n  },\n  \"b\": 1\n}\n"
    );
}

#[test]
fn missing_provider_is_an_error() {
    let err = render_all(&json!({"provider_schemas": {}}), &examples()).unwrap_err();
    assert!(err.to_string().contains("terraform.local/rack/rack"));
}

#[test]
fn finds_stale_and_orphaned_files() {
    let tmp = tempfile::tempdir().unwrap();
    let wanted = BTreeMap::from([
        ("docs/index.md".to_string(), "new\n".to_string()),
        ("docs/functions/f.md".to_string(), "f\n".to_string()),
    ]);
    std::fs::create_dir_all(tmp.path().join("docs/functions")).unwrap();
    std::fs::write(tmp.path().join("docs/index.md"), "old\n").unwrap();
    std::fs::write(tmp.path().join("docs/functions/f.md"), "f\n").unwrap();
    std::fs::write(tmp.path().join("docs/functions/gone.md"), "g\n").unwrap();
    assert_eq!(
        stale_files(tmp.path(), &wanted),
        ["docs/functions/gone.md", "docs/index.md"]
    );
    write_files(tmp.path(), &wanted).unwrap();
    assert!(stale_files(tmp.path(), &wanted).is_empty());
    assert!(!tmp.path().join("docs/functions/gone.md").exists());
}
