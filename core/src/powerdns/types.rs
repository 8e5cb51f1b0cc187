//! JSON bodies of the PowerDNS HTTP API (documented under "HTTP API" → "Zones",
//! "TSIGKeys" and "Metadata" in the PowerDNS Authoritative docs). No I/O here.

use serde::{Deserialize, Serialize};

/// How PowerDNS serves a zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ZoneKind {
    /// Served from the database, replicated by the database itself.
    Native,
    /// Primary: sends NOTIFY and serves AXFR to secondaries.
    Master,
    /// Secondary of another server.
    Slave,
    /// Catalog producer.
    Producer,
    /// Catalog consumer.
    Consumer,
}

/// What is needed to create a zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewZone {
    /// Zone name; a trailing dot is added when missing.
    pub name: String,
    /// Zone kind.
    pub kind: ZoneKind,
    /// Name servers, for the apex NS records (absolute names).
    pub nameservers: Vec<String>,
    /// SOA content (`mname rname serial refresh retry expire minimum`); `None` lets
    /// PowerDNS use its `default-soa-content`.
    pub soa: Option<String>,
    /// TTL of the SOA record.
    pub soa_ttl: u32,
}

/// Absolute form of a DNS name: with exactly one trailing dot.
pub fn absolute(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.'))
}

/// Body of `POST /servers/{server}/zones`.
#[derive(Debug, Serialize)]
pub(crate) struct CreateZoneBody<'a> {
    pub name: String,
    pub kind: ZoneKind,
    pub nameservers: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rrsets: Vec<RrSet>,
    pub soa_edit_api: &'a str,
}

impl NewZone {
    pub(crate) fn body(&self) -> CreateZoneBody<'static> {
        let name = absolute(&self.name);
        let rrsets = self
            .soa
            .iter()
            .map(|soa| RrSet {
                name: name.clone(),
                rtype: "SOA".into(),
                ttl: self.soa_ttl,
                records: vec![Record {
                    content: soa.clone(),
                    disabled: false,
                }],
                changetype: None,
            })
            .collect();
        CreateZoneBody {
            name,
            kind: self.kind,
            nameservers: self.nameservers.iter().map(|n| absolute(n)).collect(),
            rrsets,
            // Bump the SOA serial on every change made through the API.
            soa_edit_api: "DEFAULT",
        }
    }
}

/// A zone as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Zone {
    /// Zone id, used in URLs.
    pub id: String,
    /// Zone name (absolute).
    pub name: String,
    /// Zone kind as PowerDNS spells it.
    pub kind: String,
    /// SOA serial.
    #[serde(default)]
    pub serial: u32,
    /// The zone's record sets (filled by `GET` of one zone, empty in lists).
    #[serde(default)]
    pub rrsets: Vec<RrSet>,
}

impl Zone {
    /// The record set of `name` and `rtype`, if any.
    pub fn rrset(&self, name: &str, rtype: &str) -> Option<&RrSet> {
        let name = absolute(name);
        self.rrsets
            .iter()
            .find(|r| r.name.eq_ignore_ascii_case(&name) && r.rtype.eq_ignore_ascii_case(rtype))
    }
}

/// All records of one name and type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RrSet {
    /// Owner name (absolute).
    pub name: String,
    /// Record type (`A`, `SOA`...).
    #[serde(rename = "type")]
    pub rtype: String,
    /// TTL.
    #[serde(default)]
    pub ttl: u32,
    /// The records.
    #[serde(default)]
    pub records: Vec<Record>,
    /// `REPLACE` or `DELETE` in a PATCH; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changetype: Option<String>,
}

/// One record of an RRset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Record data in presentation format.
    pub content: String,
    /// Whether PowerDNS serves it.
    #[serde(default)]
    pub disabled: bool,
}

/// A TSIG key stored in PowerDNS. The secret never appears in `Debug` output.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TsigKey {
    /// Key id, used in URLs.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Key name.
    pub name: String,
    /// Algorithm (`hmac-sha256`...).
    pub algorithm: String,
    /// Base64 secret.
    pub key: String,
}

impl std::fmt::Debug for TsigKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TsigKey")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .field("key", &"<redacted>")
            .finish()
    }
}

/// Body of a metadata `PUT` and its answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Metadata {
    pub kind: String,
    #[serde(default)]
    pub metadata: Vec<String>,
}

/// Body of a zone `PUT`: only the settings rack changes after creation.
#[derive(Debug, Serialize)]
pub(crate) struct ZoneSettings {
    /// Ids of the TSIG keys allowed to transfer the zone (`TSIG-ALLOW-AXFR`).
    pub master_tsig_key_ids: Vec<String>,
}

/// An error body: `{"error": "..."}`.
#[derive(Debug, Deserialize)]
pub(crate) struct ErrorBody {
    pub error: String,
}

/// A zone name as a URL path segment: the zone id PowerDNS derives from the absolute
/// name (`/` becomes `=2F`), with anything outside the unreserved set percent-encoded.
pub fn zone_id(name: &str) -> String {
    let abs = absolute(name).replace('/', "=2F");
    let mut out = String::with_capacity(abs.len());
    for b in abs.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~' | b'=') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_body_has_absolute_names_and_soa() {
        let z = NewZone {
            name: "lab".into(),
            kind: ZoneKind::Native,
            nameservers: vec!["ns1.lab".into()],
            soa: Some("ns1.lab. hostmaster.lab. 1 3600 600 86400 300".into()),
            soa_ttl: 300,
        };
        let v = serde_json::to_value(z.body()).unwrap();
        assert_eq!(v["name"], "lab.");
        assert_eq!(v["kind"], "Native");
        assert_eq!(v["nameservers"][0], "ns1.lab.");
        assert_eq!(v["rrsets"][0]["type"], "SOA");
        assert_eq!(v["rrsets"][0]["records"][0]["disabled"], false);
        assert!(v["rrsets"][0].get("changetype").is_none());
    }

    #[test]
    fn zone_parses_and_finds_rrsets() {
        let z: Zone = serde_json::from_str(
            r#"{"id":"lab.","name":"lab.","kind":"Native","serial":2024010101,
                "rrsets":[{"name":"lab.","type":"SOA","ttl":300,
                "records":[{"content":"a. b. 1 2 3 4 5","disabled":false}],"comments":[]}],
                "dnssec":false}"#,
        )
        .unwrap();
        assert_eq!(z.serial, 2024010101);
        assert!(z.rrset("lab", "soa").is_some());
        assert!(z.rrset("lab", "NS").is_none());
    }

    #[test]
    fn zone_ids_are_path_safe() {
        assert_eq!(zone_id("farm"), "farm.");
        assert_eq!(
            zone_id("0/26.2.0.192.in-addr.arpa."),
            "0=2F26.2.0.192.in-addr.arpa."
        );
        assert_eq!(zone_id("a b"), "a%20b.");
    }

    #[test]
    fn tsig_key_debug_hides_secret() {
        let k = TsigKey {
            id: "k.".into(),
            name: "k".into(),
            algorithm: "hmac-sha256".into(),
            key: "c2VjcmV0".into(),
        };
        assert!(!format!("{k:?}").contains("c2VjcmV0"));
    }
}
