//! `provider::rack::ptr_name(ip)`.

use async_trait::async_trait;
use rack_core::net::{parse_ip, ptr_name};

use super::string_arg;
use crate::framework::{Function, FunctionError, FunctionSignature, Parameter};
use crate::protocol::value::{Type, Value};

/// The PTR owner name of an address.
#[derive(Debug, Clone, Copy)]
pub struct PtrNameFunction;

#[async_trait]
impl Function for PtrNameFunction {
    fn name(&self) -> &'static str {
        "ptr_name"
    }

    fn signature(&self) -> FunctionSignature {
        FunctionSignature {
            parameters: vec![Parameter::new(
                "ip",
                Type::String,
                "An IPv4 or IPv6 address.",
            )],
            variadic: None,
            returns: Type::String,
            summary: "The reverse-DNS (PTR) name of an address".into(),
            description:
                "Returns the absolute owner name, with a trailing dot, of the PTR record for `ip`: \
                 `\"10.10.60.2\"` gives `\"2.60.10.10.in-addr.arpa.\"`; an IPv6 address gives its \
                 32-nibble `ip6.arpa.` name."
                    .into(),
            deprecation: None,
        }
    }

    async fn call(&self, args: Vec<Value>) -> Result<Value, FunctionError> {
        let text = string_arg(&args, 0, "ip")?;
        let ip = parse_ip(&text).map_err(|e| FunctionError::argument(0, e.to_string()))?;
        Ok(Value::String(ptr_name(ip)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(arg: &str) -> Result<Value, FunctionError> {
        futures::executor::block_on(PtrNameFunction.call(vec![Value::String(arg.into())]))
    }

    #[test]
    fn ipv4_and_ipv6() {
        assert_eq!(
            call("10.10.60.2"),
            Ok(Value::String("2.60.10.10.in-addr.arpa.".into()))
        );
        assert_eq!(
            call("2001:db8::1"),
            Ok(Value::String(
                "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.".into()
            ))
        );
    }

    #[test]
    fn not_an_ip_is_blamed_on_the_argument() {
        let e = call("not-an-ip").err();
        assert_eq!(e.as_ref().and_then(|e| e.argument), Some(0));
        assert!(e.is_some_and(|e| e.text.contains("not an IPv4 or IPv6 address")));
    }
}
