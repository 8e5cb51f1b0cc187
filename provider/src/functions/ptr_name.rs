//! `provider::rack::ptr_name(ip)`.

use rack_core::net::{parse_ip, ptr_name};

use super::StringFunction;

/// The PTR owner name of an address.
pub const PTR_NAME: StringFunction = StringFunction {
    name: "ptr_name",
    parameter: ("ip", "An IPv4 or IPv6 address."),
    summary: "The reverse-DNS (PTR) name of an address",
    description: "Returns the absolute owner name, with a trailing dot, of the PTR record for `ip`: \
             `\"10.10.60.2\"` gives `\"2.60.10.10.in-addr.arpa.\"`; an IPv6 address gives its \
             32-nibble `ip6.arpa.` name.",
    apply: name_of,
};

fn name_of(text: &str) -> Result<String, String> {
    parse_ip(text).map(ptr_name).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::{Function, FunctionError};
    use crate::protocol::value::Value;

    fn call(arg: &str) -> Result<Value, FunctionError> {
        futures::executor::block_on(PTR_NAME.call(vec![Value::String(arg.into())]))
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
