//! `provider::rack::reverse_zone(cidr)`.

use async_trait::async_trait;
use rack_core::net::{Cidr, reverse_zone};

use super::string_arg;
use crate::framework::{Function, FunctionError, FunctionSignature, Parameter};
use crate::protocol::value::{Type, Value};

/// The reverse-DNS zone of a network.
#[derive(Debug, Clone, Copy)]
pub struct ReverseZoneFunction;

#[async_trait]
impl Function for ReverseZoneFunction {
    fn name(&self) -> &'static str {
        "reverse_zone"
    }

    fn signature(&self) -> FunctionSignature {
        FunctionSignature {
            parameters: vec![Parameter::new(
                "cidr",
                Type::String,
                "An IPv4 network on an octet boundary (/8, /16, /24, /32) or an IPv6 network on a nibble boundary (a multiple of 4).",
            )],
            variadic: None,
            returns: Type::String,
            summary: "The reverse-DNS zone name of a network".into(),
            description: "Returns the absolute name, with a trailing dot, of the reverse zone that holds \
                 the PTR records of `cidr`: `\"10.10.0.0/16\"` gives `\"10.10.in-addr.arpa.\"`, and \
                 `\"2001:db8::/32\"` gives `\"8.b.d.0.1.0.0.2.ip6.arpa.\"`. A prefix length that is not \
                 on an octet (IPv4) or nibble (IPv6) boundary is an error: such zones need RFC 2317 \
                 delegation, which this function does not produce."
                .into(),
            deprecation: None,
        }
    }

    async fn call(&self, args: Vec<Value>) -> Result<Value, FunctionError> {
        let text = string_arg(&args, 0, "cidr")?;
        let cidr: Cidr = text
            .parse()
            .map_err(|e: rack_core::net::CidrError| FunctionError::argument(0, error_text(&e)))?;
        let zone = reverse_zone(&cidr).map_err(|e| FunctionError::argument(0, e.to_string()))?;
        Ok(Value::String(zone))
    }
}

/// The error and its causes, joined, so the user sees the whole reason in one line.
pub(super) fn error_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(arg: &str) -> Result<Value, FunctionError> {
        futures::executor::block_on(ReverseZoneFunction.call(vec![Value::String(arg.into())]))
    }

    #[test]
    fn ipv4_and_ipv6() {
        assert_eq!(
            call("10.10.0.0/16"),
            Ok(Value::String("10.10.in-addr.arpa.".into()))
        );
        assert_eq!(
            call("2001:db8::/32"),
            Ok(Value::String("8.b.d.0.1.0.0.2.ip6.arpa.".into()))
        );
    }

    #[test]
    fn errors_name_the_argument_and_the_valid_boundaries() {
        let e = call("10.10.0.0/33").err();
        assert_eq!(e.as_ref().and_then(|e| e.argument), Some(0));
        assert!(e.is_some_and(|e| e.text.contains("0 to 32")));
        let e = call("10.10.0.0/20").err();
        assert!(e.is_some_and(|e| e.text.contains("8, 16, 24 and 32")));
    }
}
