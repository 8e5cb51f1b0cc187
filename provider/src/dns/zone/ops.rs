//! What the zone operations do on the server: waiting until a new zone is served,
//! replacing its NS and SOA records, and checking what an earlier apply left.

use super::*;

pub(super) fn no_zone_management(srv: &DnsServer) -> Diagnostic {
    Diagnostic::error(
        format!("DNS server {:?} has no zone management", srv.name),
        format!(
            "rack creates and deletes zones through the server's management interface. Add an \
             `rndc {{ ... }}` block (with `zone_directory`) for BIND, or a `powerdns {{ ... }}` \
             block for PowerDNS, to `server {:?}` in the provider's dns block.",
            srv.name
        ),
    )
}

pub(super) fn zone_error(e: &ZoneError, what: &str) -> Diagnostic {
    let mut d = Diagnostic::from_error(e, "");
    d.summary = format!("Cannot {what}");
    d
}

/// A serial for a new zone: seconds since the Unix epoch, as BIND's `unixtime` method.
pub(super) fn initial_serial() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| u32::try_from(d.as_secs()).ok())
        .unwrap_or(1)
}

/// Waits until the new zone answers a SOA query; its serial.
pub(super) async fn wait_served(srv: &DnsServer, zone: &Name) -> Result<u32, DnsError> {
    let deadline = tokio::time::Instant::now() + SERVE_WAIT;
    loop {
        match srv.client.soa_serial(zone).await {
            Err(DnsError::ZoneNotFound { .. }) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(SERVE_POLL).await;
            }
            other => return other,
        }
    }
}

/// Replaces the apex NS set; `prior` is what the server is believed to hold.
pub(super) async fn replace_ns(
    srv: &DnsServer,
    zone: &Name,
    prior: Vec<RData>,
    ttl: u32,
    new: Vec<RData>,
) -> Result<(), Diagnostic> {
    let change = RrsetChange {
        name: zone.clone(),
        rtype: RecordType::Ns,
        prior,
        new: Some((ttl, new)),
    };
    srv.client.change(zone, change).await.map_err(|e| match e {
        DnsError::Conflict { .. } => Diagnostic::error(
            format!("The NS records of {zone} were changed outside Terraform"),
            "rack did not overwrite them. Run `terraform plan` to see the change, then apply again.",
        ),
        e => dns_error(&e, &format!("update the NS records of {zone}")),
    })
}

/// Replaces the SOA with `soa` (its serial ignored) at serial = the server's + 1.
pub(super) async fn replace_soa(
    srv: &DnsServer,
    zone: &Name,
    soa: &Soa,
    ttl: u32,
) -> Result<(), Diagnostic> {
    let what = format!("update the SOA of {zone}");
    let current: Option<RrSet> = srv
        .client
        .query(zone, RecordType::Soa)
        .await
        .map_err(|e| dns_error(&e, &what))?;
    let Some(current) = current else {
        return Err(Diagnostic::error(
            format!("Cannot {what}"),
            format!("Server {:?} answered no SOA record for {zone}.", srv.name),
        ));
    };
    let serial = match current.rdata.first() {
        Some(RData::Soa { serial, .. }) => serial.wrapping_add(1),
        _ => 1,
    };
    let new = Soa {
        serial,
        ..soa.clone()
    };
    let change = RrsetChange {
        name: zone.clone(),
        rtype: RecordType::Soa,
        prior: current.rdata,
        new: Some((ttl, vec![new.rdata()])),
    };
    srv.client.change(zone, change).await.map_err(|e| match e {
        DnsError::Conflict { .. } => Diagnostic::error(
            format!("The SOA of {zone} changed while rack updated it"),
            "Another client updated the zone at the same moment. Apply again.",
        ),
        e => dns_error(&e, &what),
    })
}

/// Whether the zone, read fresh, holds exactly what `model` plans: its SOA (the serial
/// aside) and NS set with the planned TTL (the NS set's TTL aside, which create sets
/// afterwards on PowerDNS), and no other records.
pub(super) async fn exists_as_planned(srv: &DnsServer, model: &ZoneModel) -> bool {
    srv.client.invalidate(&model.name);
    let snapshot = match srv.client.zone_fresh(&model.name).await {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!(zone = %model.name, error = %e, "cannot read the existing zone to compare it");
            return false;
        }
    };
    let Some(served) = Served::from_snapshot(&snapshot) else {
        return false;
    };
    served.soa == model.soa(served.soa.serial)
        && served.soa_ttl == model.ttl
        && served.nameservers == model.nameservers
        && unmanaged(&snapshot).is_empty()
}

/// The state after a write: the planned attributes with the server and its serial.
pub(super) async fn applied(
    srv: &DnsServer,
    zone: &Name,
    planned: ZoneAttrs,
) -> Result<StateResult, Diagnostics> {
    let mut diags = Diagnostics::new();
    let serial = match srv.client.soa_serial(zone).await {
        Ok(serial) => serial,
        Err(e) => {
            diags.push(Diagnostic::warning(
                format!("Cannot read the serial of {zone}"),
                format!("{e}. The next refresh reads it again."),
            ));
            0
        }
    };
    let state = ZoneAttrs {
        server: Some(srv.name.clone()).into(),
        serial: Some(serial).into(),
        ..planned
    }
    .state()?;
    Ok(StateResult {
        diags,
        ..written(&srv.name, zone, state)
    })
}

/// The result of an operation that leaves `zone` on server `srv` as `state` says.
pub(super) fn written(srv: &str, zone: &Name, state: Value) -> StateResult {
    StateResult {
        state,
        identity: Some(identity(srv, zone)),
        ..StateResult::default()
    }
}

/// The error of an apply whose plan lacks what it needs.
pub(super) fn unknown_at_apply() -> Diagnostic {
    Diagnostic::error(
        "Unknown zone attributes at apply",
        "This is a bug in the provider; please report it.",
    )
}

/// Brings the new zone's apex NS set to the planned TTL: PowerDNS gives it its default.
pub(super) async fn settle_ns_ttl(srv: &DnsServer, model: &ZoneModel) -> Result<(), Diagnostic> {
    let zone = &model.name;
    if let Ok(snapshot) = srv.client.zone_fresh(zone).await
        && let Some(ns) = snapshot.rrset(zone, RecordType::Ns)
        && ns.ttl != model.ttl
    {
        replace_ns(srv, zone, ns.rdata.clone(), model.ttl, model.ns_rdata()).await?;
    }
    Ok(())
}

/// Refuses to delete a zone that still holds record sets besides its SOA and NS.
pub(super) async fn refuse_unmanaged(srv: &DnsServer, zone: &Name) -> Result<(), Diagnostic> {
    let snapshot = match srv.client.zone_fresh(zone).await {
        Ok(snapshot) => snapshot,
        Err(DnsError::ZoneNotFound { .. }) => return Ok(()),
        Err(e) => {
            return Err(dns_error(
                &e,
                &format!("read zone {zone} before deleting it"),
            ));
        }
    };
    let left = unmanaged(&snapshot);
    if left.is_empty() {
        return Ok(());
    }
    let mut listed: Vec<String> = left.iter().take(LISTED_RECORDS).cloned().collect();
    if left.len() > LISTED_RECORDS {
        listed.push(format!("and {} more", left.len() - LISTED_RECORDS));
    }
    Err(Diagnostic::error(
        format!(
            "Zone {zone} still holds {} record set(s) besides its SOA and NS",
            left.len()
        ),
        format!(
            "rack does not delete records that Terraform does not manage: {}. \
             Delete them, manage them with rack_dns_record_set (import them, \
             so that Terraform destroys them first), or set \
             `force_destroy = true` on the zone and apply before destroying.",
            listed.join(", ")
        ),
    ))
}

/// The record sets that no `rack_dns_zone` manages: all but the apex SOA and NS.
pub(super) fn unmanaged(snapshot: &ZoneSnapshot) -> Vec<String> {
    snapshot
        .rrsets()
        .filter(|s| {
            !(s.name == snapshot.zone && matches!(s.rtype, RecordType::Soa | RecordType::Ns))
        })
        .map(|s| format!("{} {}", s.name, s.rtype))
        .collect()
}
