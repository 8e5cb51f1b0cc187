//! Zones on PowerDNS Authoritative through its HTTP API.
//!
//! Zones are created with kind `Native`: PowerDNS serves them from its database and leaves
//! replication to the database (or to secondaries that transfer with the update key). A
//! `Master` zone would also send NOTIFY to every address its NS names resolve to whenever
//! the serial changes, which rack has not been asked to do and which only works with
//! `primary=yes`; AXFR and RFC 2136 updates behave the same for both kinds.
//!
//! For the update key to work, pdns.conf needs `dnsupdate=yes`, an `allow-dnsupdate-from`
//! covering the provider's address, and a backend that stores metadata (for gsqlite3:
//! `gsqlite3-dnssec=yes`); the key itself must already be stored in PowerDNS under the
//! same name.

use super::{Step, ZoneError, ZoneManager, ZoneSpec, check_key_name, check_zone_name};
use crate::dns::Name;
use crate::powerdns::{NewZone, PowerDnsClient, PowerDnsError, ZoneKind};
use async_trait::async_trait;

/// Creates and deletes zones on one PowerDNS server.
#[derive(Debug, Clone)]
pub struct PowerDnsZones {
    client: PowerDnsClient,
    update_key: Option<String>,
}

impl PowerDnsZones {
    /// Zones on the server behind `client`. With `update_key` (the name of a TSIG key
    /// stored in PowerDNS), each new zone accepts RFC 2136 updates (`TSIG-ALLOW-DNSUPDATE`)
    /// and AXFR (`TSIG-ALLOW-AXFR`) signed with it; without it, rack can create and delete
    /// zones but not change their records over DNS.
    pub fn new(client: PowerDnsClient, update_key: Option<String>) -> Self {
        Self { client, update_key }
    }

    fn error(step: Step, zone: &Name, source: PowerDnsError) -> ZoneError {
        ZoneError::PowerDns {
            step,
            zone: zone.clone(),
            source: Box::new(source),
        }
    }

    async fn allow_key(&self, zone: &str, key: &str) -> Result<(), PowerDnsError> {
        // Transfers first: PowerDNS checks there that the key exists.
        self.client
            .allow_axfr_with_keys(zone, &[key.to_owned()])
            .await?;
        self.client.allow_updates_with_key(zone, key).await
    }
}

#[async_trait]
impl ZoneManager for PowerDnsZones {
    async fn create(&self, spec: &ZoneSpec) -> Result<(), ZoneError> {
        spec.validate()?;
        if let Some(key) = &self.update_key {
            check_key_name(key)?;
        }
        let zone = &spec.name;
        let name = zone.to_string();
        let new = NewZone {
            name: name.clone(),
            kind: ZoneKind::Native,
            nameservers: spec
                .distinct_nameservers()
                .into_iter()
                .map(Name::to_string)
                .collect(),
            soa: Some(spec.soa.rdata().to_string()),
            soa_ttl: spec.ttl,
        };
        tracing::info!(zone = %zone, "PowerDNS create zone");
        match self.client.create_zone(&new).await {
            Ok(_) => {}
            Err(e) if e.is_conflict() => return Err(ZoneError::Exists { zone: zone.clone() }),
            Err(e) => return Err(Self::error(Step::Create, zone, e)),
        }
        let Some(key) = &self.update_key else {
            return Ok(());
        };
        if let Err(source) = self.allow_key(&name, key).await {
            // Leave nothing half made: a zone rack cannot update is not what was asked for.
            if let Err(e) = self.client.delete_zone(&name).await {
                tracing::warn!(zone = %zone, error = %e, "cannot remove the zone after a failed setup");
            }
            return Err(Self::error(Step::AllowKey, zone, source));
        }
        Ok(())
    }

    async fn delete(&self, zone: &Name) -> Result<bool, ZoneError> {
        check_zone_name(zone)?;
        tracing::info!(zone = %zone, "PowerDNS delete zone");
        self.client
            .delete_zone(&zone.to_string())
            .await
            .map_err(|e| Self::error(Step::Delete, zone, e))
    }

    async fn exists(&self, zone: &Name) -> Result<bool, ZoneError> {
        check_zone_name(zone)?;
        self.client
            .get_zone(&zone.to_string())
            .await
            .map(|z| z.is_some())
            .map_err(|e| Self::error(Step::Lookup, zone, e))
    }

    async fn list(&self) -> Result<Vec<Name>, ZoneError> {
        let zones = self
            .client
            .list_zones()
            .await
            .map_err(|e| ZoneError::List {
                what: "the PowerDNS API did not list them; check its URL and API key".to_owned(),
                source: Box::new(e),
            })?;
        let mut names: Vec<Name> = zones.iter().filter_map(|z| z.name.parse().ok()).collect();
        names.sort();
        Ok(names)
    }
}
