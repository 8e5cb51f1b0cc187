//! Zones on BIND 9: rack writes the zone file, then `rndc addzone` makes named load it;
//! `rndc delzone -clean` removes the zone and lets named delete its files.
//!
//! `zone_directory` must be the directory named reads zone files from, seen at the same
//! path by rack and by named: in practice named's `directory` option (or a directory below
//! it), on the host where named runs. named must be able to write there too: it keeps the
//! journal of dynamic updates (`<file>.jnl`) beside the zone file and rewrites the file.
//! named.conf needs `allow-new-zones yes;` and a `controls` channel accepting rack's rndc key.

use super::{Step, ZoneError, ZoneManager, ZoneSpec, check_key_name, check_zone_name};
use crate::dns::Name;
use crate::rndc::RndcClient;
use async_trait::async_trait;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::AsyncWriteExt;

/// Characters allowed in `zone_directory` besides ASCII letters and digits: the path is
/// quoted into named's configuration, where `"`, `\`, `;`, braces and whitespace would
/// need escaping or could end the string.
const DIRECTORY_CHARS: &[char] = &['/', '.', '_', '-', '+', '@', ',', '=', ':', '~'];

/// Creates and deletes zones on one named through its control channel.
#[derive(Debug, Clone)]
pub struct BindZones {
    rndc: RndcClient,
    zone_directory: PathBuf,
    update_key: Option<String>,
}

impl BindZones {
    /// Zones on the named behind `rndc`, with zone files written to `zone_directory`.
    ///
    /// `zone_directory` must be an absolute path that named sees under the same name,
    /// normally its `directory` option; rack writes `<zone>.db` there and named must be
    /// able to read it and write beside it.
    ///
    /// With `update_key`, each zone accepts RFC 2136 updates of any record
    /// (`update-policy { grant KEY zonesub ANY; }`) and AXFR (`allow-transfer { key KEY; }`)
    /// signed with that TSIG key, which named.conf must declare. Without it, the zone has no
    /// update policy, so rack can create and delete it but not change its SOA, NS or any
    /// other record, and transfers follow named's own `allow-transfer` option (BIND 9.18
    /// allows them from anyone when that option is absent).
    pub fn new(rndc: RndcClient, zone_directory: PathBuf, update_key: Option<String>) -> Self {
        Self {
            rndc,
            zone_directory,
            update_key,
        }
    }

    /// The file rack writes for `zone`: `<zone_directory>/<zone without trailing dot>.db`.
    pub fn zone_file(&self, zone: &Name) -> PathBuf {
        let display = zone.to_string();
        let base = display.strip_suffix('.').unwrap_or(&display);
        self.zone_directory.join(format!("{base}.db"))
    }

    /// The zone's configuration block as passed to `rndc addzone`.
    fn zone_config(&self, file: &Path) -> Result<String, ZoneError> {
        let file = config_path(&self.zone_directory, file)?;
        let mut config = format!("{{ type primary; file \"{file}\"; ");
        if let Some(key) = &self.update_key {
            check_key_name(key)?;
            config.push_str(&format!(
                "update-policy {{ grant \"{key}\" zonesub ANY; }}; allow-transfer {{ key \"{key}\"; }}; "
            ));
        }
        config.push_str("};");
        Ok(config)
    }

    async fn showzone(&self, zone: &Name, step: Step) -> Result<bool, ZoneError> {
        check_zone_name(zone)?;
        self.rndc
            .showzone(&zone.to_string())
            .await
            .map(|shown| shown.is_some())
            .map_err(|source| ZoneError::Bind {
                step,
                zone: zone.clone(),
                file: None,
                source: Box::new(source),
            })
    }
}

#[async_trait]
impl ZoneManager for BindZones {
    async fn create(&self, spec: &ZoneSpec) -> Result<(), ZoneError> {
        spec.validate()?;
        let zone = &spec.name;
        if let Some(ns) = spec.nameservers.iter().find(|ns| ns.is_subdomain_of(zone)) {
            return Err(ZoneError::InZoneNameserver {
                zone: zone.clone(),
                nameserver: ns.clone(),
            });
        }
        let file = self.zone_file(zone);
        let config = self.zone_config(&file)?;

        // Never overwrite the file of a zone named already serves.
        if self.showzone(zone, Step::Lookup).await? {
            return Err(ZoneError::Exists { zone: zone.clone() });
        }
        write_atomically(&file, super::render_zone_file(spec).as_bytes()).await?;
        // A journal left by an earlier zone of the same name would be replayed on load.
        remove_if_present(&journal_of(&file)).await;

        tracing::info!(zone = %zone, file = %file.display(), "rndc addzone");
        match self.rndc.addzone(&zone.to_string(), &config).await {
            Ok(()) => Ok(()),
            Err(source) => {
                remove_if_present(&file).await;
                if source.is_exists() {
                    return Err(ZoneError::Exists { zone: zone.clone() });
                }
                Err(ZoneError::Bind {
                    step: Step::Create,
                    zone: zone.clone(),
                    file: Some(file),
                    source: Box::new(source),
                })
            }
        }
    }

    async fn delete(&self, zone: &Name) -> Result<bool, ZoneError> {
        check_zone_name(zone)?;
        tracing::info!(zone = %zone, "rndc delzone -clean");
        match self.rndc.delzone(&zone.to_string(), true).await {
            Ok(()) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(source) => Err(ZoneError::Bind {
                step: Step::Delete,
                zone: zone.clone(),
                file: None,
                source: Box::new(source),
            }),
        }
    }

    async fn exists(&self, zone: &Name) -> Result<bool, ZoneError> {
        self.showzone(zone, Step::Lookup).await
    }

    async fn list(&self) -> Result<Vec<Name>, ZoneError> {
        let failed = |e: std::io::Error| ZoneError::List {
            what: format!(
                "cannot read zone_directory {}; check that it exists and rack may read it",
                self.zone_directory.display()
            ),
            source: Box::new(e),
        };
        let mut entries = tokio::fs::read_dir(&self.zone_directory)
            .await
            .map_err(failed)?;
        let mut candidates = Vec::new();
        while let Some(entry) = entries.next_entry().await.map_err(failed)? {
            let file = entry.file_name();
            let Some(base) = file.to_str().and_then(|f| f.strip_suffix(".db")) else {
                continue;
            };
            if let Ok(zone) = format!("{base}.").parse::<Name>()
                && check_zone_name(&zone).is_ok()
            {
                candidates.push(zone);
            }
        }
        candidates.sort();
        // One rndc command per zone file: zones named no longer serves are left out.
        let mut served = Vec::new();
        for zone in candidates {
            if self.showzone(&zone, Step::Lookup).await? {
                served.push(zone);
            }
        }
        Ok(served)
    }
}

/// `file` as it may appear between quotes in named.conf, after checking that the directory
/// is absolute and made only of characters that need no escaping there. The file name
/// itself comes from a zone name already checked to be plain.
fn config_path(directory: &Path, file: &Path) -> Result<String, ZoneError> {
    let invalid = || ZoneError::InvalidDirectory {
        path: directory.to_owned(),
    };
    if !directory.is_absolute() {
        return Err(invalid());
    }
    let text = file.to_str().ok_or_else(invalid)?;
    if !text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || DIRECTORY_CHARS.contains(&c))
    {
        return Err(invalid());
    }
    Ok(text.to_owned())
}

fn journal_of(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".jnl");
    PathBuf::from(name)
}

/// Writes `bytes` to a new temporary file beside `path`, flushes it to disk and renames it
/// over `path`, so named never sees a partly written zone file. The temporary file is
/// removed when any step fails.
async fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ZoneError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("/"));
    let base = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{base}.rack-{}-{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = async {
        let mut f = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .await?;
        f.write_all(bytes).await?;
        f.sync_all().await?;
        drop(f);
        tokio::fs::rename(&tmp, path).await
    }
    .await;
    match result {
        Ok(()) => Ok(()),
        Err(source) => {
            remove_if_present(&tmp).await;
            Err(ZoneError::WriteZoneFile {
                path: path.to_owned(),
                source,
            })
        }
    }
}

/// Removes a file rack wrote, logging (not failing) when that is impossible.
async fn remove_if_present(path: &Path) {
    match tokio::fs::remove_file(path).await {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(file = %path.display(), error = %e, "cannot remove file"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rndc::{RndcAlgorithm, RndcKey};
    use std::net::{Ipv4Addr, SocketAddr};
    use std::time::Duration;

    fn zones(dir: &str, key: Option<&str>) -> BindZones {
        let rndc = RndcClient::new(
            SocketAddr::from((Ipv4Addr::LOCALHOST, 1)),
            RndcKey {
                name: "k".into(),
                algorithm: RndcAlgorithm::HmacSha256,
                secret: "c2VjcmV0".into(),
            },
            Duration::from_secs(1),
        );
        BindZones::new(rndc, PathBuf::from(dir), key.map(str::to_owned))
    }

    #[test]
    fn zone_file_is_named_after_the_zone() {
        let z = zones("/var/lib/bind", None);
        assert_eq!(
            z.zone_file(&Name::parse("Lab.Farm.").unwrap()),
            PathBuf::from("/var/lib/bind/lab.farm.db")
        );
    }

    #[test]
    fn config_with_key_allows_updates_and_transfers() {
        let z = zones("/var/lib/bind", Some("rack-tsig"));
        let config = z.zone_config(Path::new("/var/lib/bind/lab.db")).unwrap();
        assert_eq!(
            config,
            "{ type primary; file \"/var/lib/bind/lab.db\"; \
             update-policy { grant \"rack-tsig\" zonesub ANY; }; \
             allow-transfer { key \"rack-tsig\"; }; };"
        );
    }

    #[test]
    fn config_without_key_has_no_policy() {
        let z = zones("/var/lib/bind", None);
        let config = z.zone_config(Path::new("/var/lib/bind/lab.db")).unwrap();
        assert_eq!(config, "{ type primary; file \"/var/lib/bind/lab.db\"; };");
    }

    #[test]
    fn nothing_unchecked_reaches_the_config() {
        let z = zones("/var/lib/bind", Some("k\"; }; allow-update { any; }; //"));
        assert!(matches!(
            z.zone_config(Path::new("/var/lib/bind/lab.db")),
            Err(ZoneError::InvalidKeyName { .. })
        ));
        for dir in ["zones", "/tmp/a b", "/tmp/a\"b", "/tmp/a;b", "/tmp/{x}"] {
            let z = zones(dir, None);
            let file = z.zone_file(&Name::parse("lab.").unwrap());
            assert!(
                matches!(
                    z.zone_config(&file),
                    Err(ZoneError::InvalidDirectory { .. })
                ),
                "{dir}"
            );
        }
    }

    #[test]
    fn journal_sits_beside_the_file() {
        assert_eq!(
            journal_of(Path::new("/z/lab.db")),
            PathBuf::from("/z/lab.db.jnl")
        );
    }
}
