//! `provider::rack::apt_sources(uri, suites, components, signed_by)` and
//! `provider::rack::apt_pin(package, origin, suite, priority)`: what an apt client needs
//! to use a published repository, for cloud-init `write_files`.

use async_trait::async_trait;
use rack_core::apt::{deb822_stanza, pin_stanza};

use super::string_arg;
use crate::framework::{Function, FunctionError, FunctionSignature, Parameter};
use crate::protocol::value::{Type, Value};

/// A deb822 `.sources` stanza.
#[derive(Debug, Clone, Copy)]
pub struct AptSourcesFunction;

/// An apt_preferences pin stanza.
#[derive(Debug, Clone, Copy)]
pub struct AptPinFunction;

/// An error of the arguments together, blamed on none of them alone.
fn whole(text: String) -> FunctionError {
    FunctionError {
        text,
        argument: None,
    }
}

fn string_list(args: &[Value], index: usize, name: &str) -> Result<Vec<String>, FunctionError> {
    match args.get(index) {
        Some(Value::List(items)) => items
            .iter()
            .map(|v| {
                v.as_str().map(str::to_owned).ok_or_else(|| {
                    FunctionError::argument(index, format!("{name} must be a list of strings"))
                })
            })
            .collect(),
        _ => Err(FunctionError::argument(
            index,
            format!("{name} must be a list of strings"),
        )),
    }
}

#[async_trait]
impl Function for AptSourcesFunction {
    fn name(&self) -> &'static str {
        "apt_sources"
    }

    fn signature(&self) -> FunctionSignature {
        FunctionSignature {
            parameters: vec![
                Parameter::new(
                    "uri",
                    Type::String,
                    "The published tree's URL, e.g. `https://apt.example/ops`.",
                ),
                Parameter::new(
                    "suites",
                    Type::list(Type::String),
                    "The distributions, e.g. `[\"stable\", \"proposed-updates\"]`.",
                ),
                Parameter::new(
                    "components",
                    Type::list(Type::String),
                    "The components, e.g. `[\"main\", \"profile/appserver\"]`.",
                ),
                Parameter::new(
                    "signed_by",
                    Type::String,
                    "The client's path of the repository's keyring file, or the armored public key itself.",
                ),
            ],
            variadic: None,
            returns: Type::String,
            summary: "A deb822 .sources stanza with Signed-By".into(),
            description: "Returns a stanza for `/etc/apt/sources.list.d/NAME.sources` \
                          (sources.list(5), deb822 style): `Types: deb`, `URIs`, `Suites`, \
                          `Components` and `Signed-By`, so apt trusts only the repository's own \
                          key for it. An armored key is embedded as a multi-line field."
                .into(),
            deprecation: None,
        }
    }

    async fn call(&self, args: Vec<Value>) -> Result<Value, FunctionError> {
        let uri = string_arg(&args, 0, "uri")?;
        let suites = string_list(&args, 1, "suites")?;
        let components = string_list(&args, 2, "components")?;
        let signed_by = string_arg(&args, 3, "signed_by")?;
        deb822_stanza(&uri, &suites, &components, &signed_by)
            .map(Value::String)
            .map_err(|e| whole(format!("Cannot render the sources stanza: {e}")))
    }
}

#[async_trait]
impl Function for AptPinFunction {
    fn name(&self) -> &'static str {
        "apt_pin"
    }

    fn signature(&self) -> FunctionSignature {
        FunctionSignature {
            parameters: vec![
                Parameter::new(
                    "package",
                    Type::String,
                    "The packages pinned: `*` for every one, or names.",
                ),
                Parameter::new(
                    "origin",
                    Type::String,
                    "The release's Origin (`rack_apt_publication`'s `origin`).",
                ),
                Parameter::new(
                    "suite",
                    Type::String,
                    "The release's suite (the publication's `distribution`).",
                ),
                Parameter::new(
                    "priority",
                    Type::Number,
                    "The pin priority, e.g. 940 for the main distribution, -1 so nothing installs from it by accident.",
                ),
            ],
            variadic: None,
            returns: Type::String,
            summary: "An apt_preferences pin stanza".into(),
            description: "Returns a stanza for `/etc/apt/preferences.d/NAME` \
                          (apt_preferences(5)) pinning the packages of the release with this \
                          origin and suite at `priority`."
                .into(),
            deprecation: None,
        }
    }

    async fn call(&self, args: Vec<Value>) -> Result<Value, FunctionError> {
        let package = string_arg(&args, 0, "package")?;
        let origin = string_arg(&args, 1, "origin")?;
        let suite = string_arg(&args, 2, "suite")?;
        let priority = args
            .get(3)
            .and_then(Value::as_number)
            .and_then(|n| n.is_integer().then(|| n.to_i64()).flatten())
            .ok_or_else(|| FunctionError::argument(3, "priority must be a whole number"))?;
        pin_stanza(&package, &origin, &suite, priority)
            .map(Value::String)
            .map_err(|e| whole(format!("Cannot render the pin: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_and_pins() {
        let s = futures::executor::block_on(AptSourcesFunction.call(vec![
            Value::String("http://127.0.0.1:8080".into()),
            Value::List(vec![Value::String("stable".into())]),
            Value::List(vec![Value::String("main".into())]),
            Value::String("/k.gpg".into()),
        ]));
        assert!(
            matches!(&s, Ok(Value::String(t)) if t.contains("Signed-By: /k.gpg")),
            "{s:?}"
        );
        let p = futures::executor::block_on(AptPinFunction.call(vec![
            Value::String("*".into()),
            Value::String("ops".into()),
            Value::String("stable".into()),
            Value::from(940),
        ]));
        assert!(
            matches!(&p, Ok(Value::String(t)) if t.contains("Pin-Priority: 940")),
            "{p:?}"
        );
        let bad = futures::executor::block_on(AptPinFunction.call(vec![
            Value::String("*".into()),
            Value::String("o,p".into()),
            Value::String("stable".into()),
            Value::from(940),
        ]));
        assert!(bad.is_err());
    }
}
