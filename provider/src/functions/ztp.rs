//! `provider::rack::cumulus_ztp_option(url)`, `sonic_ztp_option(url)` and
//! `onie_installer_option(url)`: the DHCP option each switch bootstrap client reads its
//! URL from, as an element of `rack_dhcp_lease`'s `options`.

use async_trait::async_trait;

use super::string_arg;
use crate::framework::{Function, FunctionError, FunctionSignature, Parameter};
use crate::protocol::value::{Type, Value};

/// Which bootstrap client an option is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ztp {
    /// Cumulus Linux's zero-touch provisioning: option 239.
    Cumulus,
    /// SONiC's ZTP: option 67 with the URL of a `ztp.json`.
    Sonic,
    /// ONIE's installer discovery: option 114 (`default-url`).
    Onie,
}

/// One of the three functions.
#[derive(Debug, Clone, Copy)]
pub struct ZtpOptionFunction(pub Ztp);

/// What each function says and returns: name, option name or code, URL schemes the
/// client fetches, summary, description.
struct Spec {
    name: &'static str,
    option_name: Option<&'static str>,
    code: Option<i64>,
    schemes: &'static [&'static str],
    summary: &'static str,
    description: &'static str,
}

fn spec(z: Ztp) -> Spec {
    match z {
        Ztp::Cumulus => Spec {
            name: "cumulus_ztp_option",
            option_name: None,
            code: Some(239),
            schemes: &["http://", "https://"],
            summary: "The DHCP option of a Cumulus Linux ZTP script",
            description: "Returns `{ code = 239, data = url }` for a lease's `options`. Cumulus \
                Linux's zero-touch provisioning (`ztp`) asks for option 239 \
                (`cumulus-provision-url`, a site-specific text option) on its first boot, \
                fetches the script at that URL with HTTP GET and runs it only when it holds the \
                line `# CUMULUS-AUTOPROVISIONING`. The script can be a `rack_boot_file`: pass \
                its `url`.",
        },
        Ztp::Sonic => Spec {
            name: "sonic_ztp_option",
            option_name: Some("boot-file-name"),
            code: None,
            schemes: &["http://", "https://", "tftp://", "ftp://", "file://"],
            summary: "The DHCP option of a SONiC ZTP JSON file",
            description: "Returns `{ name = \"boot-file-name\", data = url }` (option 67) for a \
                lease's `options`. SONiC's ZTP service reads option 67 as the URL of its ZTP \
                JSON file (`ztp.json`: the sections to run, such as `configdb-json` and \
                `provisioning-script`), and option 239 as the URL of a plain provisioning \
                script when there is no option 67. The JSON can be a `rack_boot_file`: pass \
                its `url`.",
        },
        Ztp::Onie => Spec {
            name: "onie_installer_option",
            option_name: None,
            code: Some(114),
            schemes: &["http://", "https://", "ftp://", "tftp://"],
            summary: "The DHCP option of an ONIE installer URL",
            description: "Returns `{ code = 114, data = url }` for a lease's `options`. ONIE \
                tries the URL of option 114 (`default-url`, RFC 8910's captive-portal code, \
                which ONIE uses for its installer) first when it discovers a network operating \
                system installer, and installs the image found there. The installer can be a \
                `rack_boot_file` with `source_file`: pass its `url`.",
        },
    }
}

fn option_type() -> Type {
    Type::object([
        ("name", Type::String),
        ("code", Type::Number),
        ("data", Type::String),
    ])
}

#[async_trait]
impl Function for ZtpOptionFunction {
    fn name(&self) -> &'static str {
        spec(self.0).name
    }

    fn signature(&self) -> FunctionSignature {
        let s = spec(self.0);
        FunctionSignature {
            parameters: vec![Parameter::new(
                "url",
                Type::String,
                format!(
                    "The URL the client fetches, starting with {}.",
                    s.schemes
                        .iter()
                        .map(|p| format!("`{p}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )],
            variadic: None,
            returns: option_type(),
            summary: s.summary.into(),
            description: s.description.into(),
            deprecation: None,
        }
    }

    async fn call(&self, args: Vec<Value>) -> Result<Value, FunctionError> {
        let s = spec(self.0);
        let url = string_arg(&args, 0, "url")?;
        let host = s
            .schemes
            .iter()
            .find_map(|p| url.strip_prefix(p))
            .ok_or_else(|| {
                FunctionError::argument(
                    0,
                    format!(
                        "{url:?} is not a URL this client fetches; start it with {}",
                        s.schemes.join(", ")
                    ),
                )
            })?;
        if host.is_empty() || url.chars().any(|c| c.is_whitespace() || c == ',') {
            return Err(FunctionError::argument(
                0,
                format!("{url:?} is not a whole URL (a host, no spaces or commas)"),
            ));
        }
        Ok(Value::object([
            ("name", s.option_name.map_or(Value::Null, Value::from)),
            ("code", s.code.map_or(Value::Null, Value::from)),
            ("data", Value::from(url)),
        ]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(z: Ztp, arg: &str) -> Result<Value, FunctionError> {
        futures::executor::block_on(ZtpOptionFunction(z).call(vec![Value::String(arg.into())]))
    }

    #[test]
    fn each_client_gets_its_option() {
        let url = "http://10.0.0.5/boot/ztp/tor1.sh";
        let got = call(Ztp::Cumulus, url).unwrap();
        assert_eq!(got.attr("code"), Some(&Value::from(239)));
        assert_eq!(got.attr("name"), Some(&Value::Null));
        assert_eq!(got.attr("data"), Some(&Value::from(url)));
        let got = call(Ztp::Sonic, "http://10.0.0.5/boot/ztp.json").unwrap();
        assert_eq!(got.attr("name"), Some(&Value::from("boot-file-name")));
        assert_eq!(got.attr("code"), Some(&Value::Null));
        let got = call(Ztp::Onie, "tftp://10.0.0.5/onie-installer").unwrap();
        assert_eq!(got.attr("code"), Some(&Value::from(114)));
    }

    #[test]
    fn a_url_the_client_cannot_fetch_is_blamed_on_the_argument() {
        for (z, bad) in [
            (Ztp::Cumulus, "tftp://10.0.0.5/ztp.sh"),
            (Ztp::Cumulus, "http://"),
            (Ztp::Sonic, "10.0.0.5/ztp.json"),
            (Ztp::Onie, "http://a/b c"),
            (Ztp::Onie, "http://a/b,c"),
        ] {
            let e = call(z, bad).unwrap_err();
            assert_eq!(e.argument, Some(0), "{bad}");
        }
    }
}
