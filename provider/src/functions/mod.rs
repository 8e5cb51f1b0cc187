//! Provider functions: `provider::rack::NAME(...)`. They need no backend.

mod mac_address;
mod ptr_name;
mod reverse_zone;

use std::sync::Arc;

use async_trait::async_trait;

use crate::framework::{Function, FunctionError, FunctionSignature, Parameter};
use crate::protocol::value::Value;

pub use mac_address::MacAddressFunction;
pub use ptr_name::PTR_NAME;
pub use reverse_zone::REVERSE_ZONE;

/// Every function the provider offers.
pub fn all() -> Vec<Arc<dyn Function>> {
    vec![
        Arc::new(MacAddressFunction),
        Arc::new(REVERSE_ZONE),
        Arc::new(PTR_NAME),
    ]
}

/// A function of one string argument that returns a string, described by its fields.
#[derive(Debug, Clone, Copy)]
pub struct StringFunction {
    /// Its name.
    pub name: &'static str,
    /// The argument's name and description.
    pub parameter: (&'static str, &'static str),
    /// One-line summary.
    pub summary: &'static str,
    /// Markdown description.
    pub description: &'static str,
    /// What it returns for an argument; an error is blamed on the argument.
    pub apply: fn(&str) -> Result<String, String>,
}

#[async_trait]
impl Function for StringFunction {
    fn name(&self) -> &'static str {
        self.name
    }

    fn signature(&self) -> FunctionSignature {
        let (name, description) = self.parameter;
        FunctionSignature::string_to_string(
            Parameter::string(name, description),
            self.summary,
            self.description,
        )
    }

    async fn call(&self, args: Vec<Value>) -> Result<Value, FunctionError> {
        let text = string_arg(&args, 0, self.parameter.0)?;
        (self.apply)(&text)
            .map(Value::String)
            .map_err(|e| FunctionError::argument(0, e))
    }
}

/// The string argument at `index`; Terraform guarantees known, non-null strings for our
/// parameters, so anything else is reported against that argument.
fn string_arg(args: &[Value], index: usize, name: &str) -> Result<String, FunctionError> {
    args.get(index)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| FunctionError::argument(index, format!("{name} must be a string")))
}
