//! Provider functions: `provider::rack::NAME(...)`. They need no backend.

mod apt_sources;
mod mac_address;
mod ptr_name;
mod reverse_zone;
mod ztp;

use std::sync::Arc;

use crate::framework::{Function, FunctionError};
use crate::protocol::value::Value;

pub use apt_sources::{AptPinFunction, AptSourcesFunction};
pub use mac_address::MacAddressFunction;
pub use ptr_name::PtrNameFunction;
pub use reverse_zone::ReverseZoneFunction;
pub use ztp::{Ztp, ZtpOptionFunction};

/// Every function the provider offers.
pub fn all() -> Vec<Arc<dyn Function>> {
    vec![
        Arc::new(MacAddressFunction),
        Arc::new(ReverseZoneFunction),
        Arc::new(PtrNameFunction),
        Arc::new(AptSourcesFunction),
        Arc::new(AptPinFunction),
        Arc::new(ZtpOptionFunction(Ztp::Cumulus)),
        Arc::new(ZtpOptionFunction(Ztp::Sonic)),
        Arc::new(ZtpOptionFunction(Ztp::Onie)),
    ]
}

/// The string argument at `index`; Terraform guarantees known, non-null strings for our
/// parameters, so anything else is reported against that argument.
fn string_arg(args: &[Value], index: usize, name: &str) -> Result<String, FunctionError> {
    args.get(index)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| FunctionError::argument(index, format!("{name} must be a string")))
}
