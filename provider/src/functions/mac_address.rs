//! `provider::rack::mac_address(seed, prefix...)`.

use async_trait::async_trait;
use rack_core::net::{DEFAULT_MAC_PREFIX, MacPrefix, derive_mac};

use super::string_arg;
use crate::framework::{Function, FunctionError, FunctionSignature, Parameter};
use crate::protocol::value::{Type, Value};

/// Derives a stable MAC address from a seed.
#[derive(Debug, Clone, Copy)]
pub struct MacAddressFunction;

#[async_trait]
impl Function for MacAddressFunction {
    fn name(&self) -> &'static str {
        "mac_address"
    }

    fn signature(&self) -> FunctionSignature {
        FunctionSignature {
            parameters: vec![Parameter::new(
                "seed",
                Type::String,
                "Any string that names the interface, e.g. the host's FQDN, or `<vm name>/<index>`.",
            )],
            variadic: Some(Parameter::new(
                "prefix",
                Type::String,
                format!(
                    "At most one prefix of 0 to 5 octets, e.g. `\"{DEFAULT_MAC_PREFIX}\"` (the default) or `\"02\"`. \
                     Its first octet must not have the multicast bit set."
                ),
            )),
            returns: Type::String,
            summary: "A stable MAC address derived from a seed".into(),
            description: format!(
                "Returns a deterministic unicast MAC address, lower-case and colon-separated, \
                 made of `prefix` (default `{DEFAULT_MAC_PREFIX}`, locally administered) followed by \
                 the first bytes of the SHA-256 hash of `seed`. The same seed always gives the same \
                 address, so MACs can be planned before machines exist, and replace the random \
                 addresses pasted into `dhcpd.conf`. With an empty prefix, the first octet is made \
                 locally administered and unicast. `rack_vm` uses the same algorithm for interfaces \
                 without a `mac`."
            ),
            deprecation: None,
        }
    }

    async fn call(&self, args: Vec<Value>) -> Result<Value, FunctionError> {
        let seed = string_arg(&args, 0, "seed")?;
        let prefix = match args.len() {
            1 => MacPrefix::default(),
            2 => string_arg(&args, 1, "prefix")?
                .parse::<MacPrefix>()
                .map_err(|e| FunctionError::argument(1, e.to_string()))?,
            n => {
                return Err(FunctionError::argument(
                    2,
                    format!("mac_address takes at most one prefix, got {}", n - 1),
                ));
            }
        };
        Ok(Value::String(derive_mac(&seed, &prefix).to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(args: &[&str]) -> Result<Value, FunctionError> {
        let args = args.iter().map(|a| Value::String((*a).into())).collect();
        futures::executor::block_on(MacAddressFunction.call(args))
    }

    #[test]
    fn default_prefix_is_qemu() {
        assert_eq!(
            call(&["skaro.xivo.vm.farm"]),
            Ok(Value::String("52:54:00:4e:aa:a2".into()))
        );
    }

    #[test]
    fn custom_prefix() {
        assert_eq!(
            call(&["skaro.xivo.vm.farm", "02"]),
            Ok(Value::String("02:4e:aa:a2:7d:75".into()))
        );
    }

    #[test]
    fn multicast_prefix_is_blamed_on_the_prefix() {
        let err = call(&["x", "01:00:5e"]).err();
        assert_eq!(err.as_ref().and_then(|e| e.argument), Some(1));
        assert!(err.is_some_and(|e| e.text.contains("multicast")));
    }

    #[test]
    fn two_prefixes_are_refused() {
        let err = call(&["x", "02", "04"]).err();
        assert_eq!(err.and_then(|e| e.argument), Some(2));
    }
}
