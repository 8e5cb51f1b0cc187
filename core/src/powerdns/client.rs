//! HTTP transport for the PowerDNS API: one `reqwest` client, the `X-API-Key` header
//! (marked sensitive), JSON in and out, and status codes mapped to [`PowerDnsError`].

use super::types::{
    self, CreateZoneBody, ErrorBody, Metadata, NewZone, TsigKey, Zone, ZoneSettings,
};
use super::{PowerDnsError, TSIG_ALLOW_DNSUPDATE};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// A client for one PowerDNS server's API.
#[derive(Clone)]
pub struct PowerDnsClient {
    base: String,
    server_id: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for PowerDnsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PowerDnsClient")
            .field("base", &self.base)
            .field("server_id", &self.server_id)
            .field("api_key", &"<redacted>")
            .finish()
    }
}

impl PowerDnsClient {
    /// A client for the webserver at `base_url` (e.g. `http://127.0.0.1:8081`), sending
    /// `api_key` with every request; `timeout` bounds each request.
    pub fn new(base_url: &str, api_key: &str, timeout: Duration) -> Result<Self, PowerDnsError> {
        let base = base_url.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(PowerDnsError::InvalidUrl(base_url.to_owned()));
        }
        let mut key = HeaderValue::from_str(api_key)
            .map_err(|_| PowerDnsError::InvalidUrl("API key with non-header characters".into()))?;
        key.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert("X-API-Key", key);
        // reqwest's rustls backend (enabled for the Kea client's TLS settings) needs a
        // crypto provider even for plain http: the workspace's, ring, unless the process
        // installed one already.
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(timeout)
            .build()
            .map_err(PowerDnsError::Http)?;
        Ok(Self {
            base,
            server_id: "localhost".to_owned(),
            http,
        })
    }

    /// Uses server id `id` instead of `localhost` (the only id a plain pdns_server has).
    pub fn with_server_id(mut self, id: &str) -> Self {
        self.server_id = id.to_owned();
        self
    }

    /// Creates a zone (`POST /servers/{id}/zones`) and returns it as PowerDNS stored it.
    pub async fn create_zone(&self, zone: &NewZone) -> Result<Zone, PowerDnsError> {
        let body: CreateZoneBody<'_> = zone.body();
        self.json(Method::POST, &self.zones_path(), Some(&body))
            .await
    }

    /// The zone with its record sets, or `None` when PowerDNS has no such zone.
    pub async fn get_zone(&self, name: &str) -> Result<Option<Zone>, PowerDnsError> {
        let path = self.zone_path(name);
        match self.json::<Zone, ()>(Method::GET, &path, None).await {
            Ok(z) => Ok(Some(z)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every zone of the server (`GET /servers/{id}/zones`), without record sets.
    pub async fn list_zones(&self) -> Result<Vec<Zone>, PowerDnsError> {
        self.json::<Vec<Zone>, ()>(Method::GET, &self.zones_path(), None)
            .await
    }

    /// Deletes a zone; `Ok(false)` when it did not exist.
    pub async fn delete_zone(&self, name: &str) -> Result<bool, PowerDnsError> {
        let path = self.zone_path(name);
        self.delete(&path).await
    }

    /// Stores a TSIG key (`POST /servers/{id}/tsigkeys`); `secret` is base64.
    pub async fn create_tsig_key(
        &self,
        name: &str,
        algorithm: &str,
        secret: &str,
    ) -> Result<TsigKey, PowerDnsError> {
        let body = TsigKey {
            id: String::new(),
            name: name.to_owned(),
            algorithm: algorithm.to_owned(),
            key: secret.to_owned(),
        };
        let path = format!("{}/tsigkeys", self.server_path());
        self.json(Method::POST, &path, Some(&body)).await
    }

    /// Deletes a TSIG key by its id; `Ok(false)` when it did not exist.
    pub async fn delete_tsig_key(&self, id: &str) -> Result<bool, PowerDnsError> {
        let path = format!("{}/tsigkeys/{}", self.server_path(), types::zone_id(id));
        self.delete(&path).await
    }

    /// Replaces the values of one metadata kind of a zone (`PUT .../metadata/{kind}`).
    pub async fn set_metadata(
        &self,
        zone: &str,
        kind: &str,
        values: &[String],
    ) -> Result<Vec<String>, PowerDnsError> {
        let path = format!("{}/metadata/{kind}", self.zone_path(zone));
        let body = Metadata {
            kind: kind.to_owned(),
            metadata: values.to_vec(),
        };
        let m: Metadata = self.json(Method::PUT, &path, Some(&body)).await?;
        Ok(m.metadata)
    }

    /// The values of one metadata kind of a zone (empty when unset).
    pub async fn get_metadata(&self, zone: &str, kind: &str) -> Result<Vec<String>, PowerDnsError> {
        let path = format!("{}/metadata/{kind}", self.zone_path(zone));
        match self.json::<Metadata, ()>(Method::GET, &path, None).await {
            Ok(m) => Ok(m.metadata),
            Err(e) if e.is_not_found() => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// Lets RFC 2136 updates of `zone` signed with TSIG key `key_name` through
    /// (`TSIG-ALLOW-DNSUPDATE`). The key must exist (see [`Self::create_tsig_key`]) and the
    /// sender must still match `allow-dnsupdate-from` (or the zone's `ALLOW-DNSUPDATE-FROM`).
    pub async fn allow_updates_with_key(
        &self,
        zone: &str,
        key_name: &str,
    ) -> Result<(), PowerDnsError> {
        self.set_metadata(zone, TSIG_ALLOW_DNSUPDATE, &[key_name.to_owned()])
            .await?;
        Ok(())
    }

    /// Lets AXFR of `zone` signed with any of the TSIG keys `key_names` through
    /// (`TSIG-ALLOW-AXFR`), replacing the zone's previous list. PowerDNS keeps that
    /// metadata kind out of the metadata endpoint, so this sets the zone's
    /// `master_tsig_key_ids` (`PUT /servers/{id}/zones/{zone}`); it answers 422 when a key
    /// does not exist.
    pub async fn allow_axfr_with_keys(
        &self,
        zone: &str,
        key_names: &[String],
    ) -> Result<(), PowerDnsError> {
        let body = ZoneSettings {
            master_tsig_key_ids: key_names.iter().map(|k| types::zone_id(k)).collect(),
        };
        self.empty(Method::PUT, &self.zone_path(zone), Some(&body))
            .await
    }

    fn server_path(&self) -> String {
        format!("/api/v1/servers/{}", self.server_id)
    }

    fn zones_path(&self) -> String {
        format!("{}/zones", self.server_path())
    }

    fn zone_path(&self, name: &str) -> String {
        format!("{}/{}", self.zones_path(), types::zone_id(name))
    }

    async fn send<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<Vec<u8>, PowerDnsError> {
        let url = format!("{}{path}", self.base);
        tracing::debug!(%method, %url, "PowerDNS API request");
        let mut req = self.http.request(method.clone(), &url);
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req.send().await.map_err(|e| self.transport_error(e))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| self.transport_error(e))?;
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(PowerDnsError::Unauthorized {
                url: self.base.clone(),
            });
        }
        if !status.is_success() {
            let text = String::from_utf8_lossy(&bytes);
            let message = serde_json::from_slice::<ErrorBody>(&bytes)
                .map(|e| e.error)
                .unwrap_or_else(|_| text.trim().to_owned());
            return Err(PowerDnsError::Api {
                method: method_name(&method),
                path: path.to_owned(),
                status: status.as_u16(),
                message,
            });
        }
        Ok(bytes.to_vec())
    }

    async fn json<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, PowerDnsError> {
        let bytes = self.send(method, path, body).await?;
        serde_json::from_slice(&bytes).map_err(|source| PowerDnsError::Decode {
            path: path.to_owned(),
            source,
        })
    }

    /// `DELETE path`; `Ok(false)` when there was nothing to delete (404).
    async fn delete(&self, path: &str) -> Result<bool, PowerDnsError> {
        match self.empty(Method::DELETE, path, None::<&()>).await {
            Ok(()) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn empty<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<(), PowerDnsError> {
        self.send(method, path, body).await.map(|_| ())
    }

    fn transport_error(&self, e: reqwest::Error) -> PowerDnsError {
        if e.is_timeout() {
            PowerDnsError::Timeout {
                url: self.base.clone(),
            }
        } else if e.is_connect() {
            PowerDnsError::Connect {
                url: self.base.clone(),
                source: e,
            }
        } else {
            PowerDnsError::Http(e)
        }
    }
}

fn method_name(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        _ => "request",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_api_key() {
        let c = PowerDnsClient::new("http://127.0.0.1:1", "sekrit-key", Duration::from_secs(1))
            .unwrap();
        assert!(!format!("{c:?}").contains("sekrit-key"));
    }

    #[test]
    fn url_must_be_http() {
        assert!(matches!(
            PowerDnsClient::new("127.0.0.1:8081", "k", Duration::from_secs(1)),
            Err(PowerDnsError::InvalidUrl(_))
        ));
    }
}
