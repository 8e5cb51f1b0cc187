//! What a [`KeaClient`] is configured with: the control agent's URL, credentials and
//! TLS, and the TLS client built from them.

use std::fmt;
use std::time::Duration;

use crate::kea::KeaError;

/// How long one HTTP request may take unless configured: a `config-set` of a large
/// configuration took ~80 ms on this project's machines, so this is generous.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A password or private key: kept out of `Debug` output and logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// One Kea server's control agent and how to talk to it.
#[derive(Debug, Clone)]
pub struct KeaConfig {
    /// The agent's URL, e.g. `http://127.0.0.1:8000` or `https://kea.example:8000`.
    pub url: String,
    /// User for HTTP basic authentication; `None` sends no credentials.
    pub username: Option<String>,
    /// Password for HTTP basic authentication.
    pub password: Option<Secret>,
    /// PEM certificates of the CA(s) that signed the agent's certificate; `None` trusts
    /// the system's CA bundle.
    pub ca_cert_pem: Option<String>,
    /// PEM client certificate chain, when the agent requires client certificates.
    pub client_cert_pem: Option<String>,
    /// PEM private key of the client certificate.
    pub client_key_pem: Option<Secret>,
    /// How long one request may take.
    pub timeout: Duration,
}

impl KeaConfig {
    /// `url` with no credentials, no TLS settings and a 30 s timeout.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            username: None,
            password: None,
            ca_cert_pem: None,
            client_cert_pem: None,
            client_key_pem: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The same with basic-auth credentials.
    pub fn with_basic_auth(mut self, username: impl Into<String>, password: Secret) -> Self {
        self.username = Some(username.into());
        self.password = Some(password);
        self
    }
}

pub(super) fn tls_error(reason: impl Into<String>) -> KeaError {
    KeaError::Tls {
        reason: reason.into(),
    }
}

/// The rustls configuration for `config`'s TLS settings, with the ring provider.
pub(super) fn tls_config(config: &KeaConfig) -> Result<rustls::ClientConfig, KeaError> {
    crate::tls::rustls_config(
        config.ca_cert_pem.as_deref(),
        config.client_cert_pem.as_deref(),
        config.client_key_pem.as_ref(),
    )
    .map_err(tls_error)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::handle::KeaClient;
    use super::*;

    #[test]
    fn debug_hides_the_secrets() {
        let mut config = KeaConfig::new("http://127.0.0.1:8000")
            .with_basic_auth("rack", Secret::new("hunter2-password"));
        config.client_key_pem = Some(Secret::new("-----BEGIN PRIVATE KEY-----"));
        let text = format!("{:?}", config);
        assert!(!text.contains("hunter2"), "{text}");
        assert!(!text.contains("BEGIN PRIVATE"), "{text}");
        config.client_key_pem = None;
        let client = KeaClient::new(config).unwrap();
        let text = format!("{client:?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("redacted"), "{text}");
    }

    #[test]
    fn urls_and_tls_settings_are_checked() {
        for bad in ["", "127.0.0.1:8000", "ftp://x", "http://"] {
            let e = KeaClient::new(KeaConfig::new(bad)).unwrap_err();
            assert!(matches!(e, KeaError::InvalidUrl { .. }), "{bad}: {e}");
        }
        let mut c = KeaConfig::new("http://127.0.0.1:8000/");
        c.ca_cert_pem = Some("x".into());
        assert!(matches!(
            KeaClient::new(c).unwrap_err(),
            KeaError::Tls { .. }
        ));
        let mut c = KeaConfig::new("https://127.0.0.1:8000");
        c.ca_cert_pem = Some("not a pem".into());
        let e = KeaClient::new(c).unwrap_err().to_string();
        assert!(e.contains("holds no certificate"), "{e}");
        let mut c = KeaConfig::new("https://127.0.0.1:8000");
        c.client_key_pem = Some(Secret::new("k"));
        let e = KeaClient::new(c).unwrap_err().to_string();
        assert!(e.contains("set both or neither"), "{e}");
        let c = KeaClient::new(KeaConfig::new("http://127.0.0.1:8000/")).unwrap();
        assert_eq!(c.config().url, "http://127.0.0.1:8000");
    }
}
