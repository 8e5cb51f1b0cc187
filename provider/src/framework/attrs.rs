//! Attribute helpers for resources that work on a [`Value`] directly: reading and setting
//! an object's attributes by name, and the diagnostics of a value that could not be read
//! into a resource's own types.

use super::diag::{Diagnostic, Diagnostics};
use crate::protocol::value::Value;

/// A string attribute, if known and not null.
pub fn str_attr<'a>(v: &'a Value, name: &str) -> Option<&'a str> {
    v.attr(name).and_then(Value::as_str)
}

/// Sets attribute `name` of an object value (nothing for any other value).
pub fn obj_set(v: &mut Value, name: &str, new: Value) {
    if let Value::Object(m) = v {
        m.insert(name.to_string(), new);
    }
}

/// What was wrong with a value that should describe an object of kind `what` (e.g.
/// `VM`): `errs`, or, when there are none (an attribute it needs is unknown at apply
/// time, which Terraform never sends), one error saying this is a bug.
pub fn incomplete(errs: Vec<Diagnostic>, what: &str) -> Diagnostics {
    let mut d = Diagnostics::new();
    for e in errs {
        d.push(e);
    }
    if d.is_empty() {
        d.error(
            format!("Incomplete {what}"),
            format!(
                "An attribute the {} needs is unknown here; this is a bug in the provider, \
                 please report it.",
                what.rsplit(' ').next().unwrap_or(what)
            ),
        );
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_by_name() {
        let mut v = Value::object([("name", Value::from("farm")), ("size", Value::Unknown)]);
        assert_eq!(str_attr(&v, "name"), Some("farm"));
        assert_eq!(str_attr(&v, "size"), None);
        obj_set(&mut v, "size", Value::from("1G"));
        assert_eq!(str_attr(&v, "size"), Some("1G"));
    }

    #[test]
    fn an_incomplete_value_without_errors_is_a_bug() {
        let d = incomplete(Vec::new(), "storage pool").into_vec();
        assert_eq!(d[0].summary, "Incomplete storage pool");
        assert!(d[0].detail.starts_with("An attribute the pool needs"));
        let e = Diagnostic::error("Bad", "Worse");
        assert_eq!(incomplete(vec![e.clone()], "VM").into_vec(), vec![e]);
    }
}
