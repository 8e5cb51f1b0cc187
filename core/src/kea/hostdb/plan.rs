//! What a batch of reservation changes makes of the host rows it is about: each change
//! checked, in order, against the rows as locked inside the transaction (the hosts with
//! the changes' identifiers and those holding the addresses they reserve), and the
//! inserts, updates and deletes that carry out the accepted ones. No I/O.
//!
//! The checks are those of the configuration path ([`crate::kea::config::apply`]), per
//! subnet as Kea's host database scopes them: a change already in effect succeeds
//! without a write; an expectation the row does not meet refuses the change
//! ([`ConfigError::Changed`]); an add for an identifier that has another reservation, or
//! an address another identifier holds in the subnet, is a [`ConfigError::Conflict`]
//! naming that entry. A refused change fails alone; the others are written.

use super::HostDbError;
use super::rows::{HostValues, StoredHost, SubnetIds, host_values, identifier_key};
use crate::kea::{Change, ConfigError, Expect, HostIdentifier, Reservation};
use crate::net::Cidr;

/// One change of a batch, with what it expects of the reservation it is about.
pub struct Request {
    /// The change.
    pub change: Change,
    /// `None`: no expectation (an add must not find another reservation there).
    pub expect: Option<Expect>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("change", &self.change)
            .field("expect", &self.expect.is_some())
            .finish()
    }
}

/// The writes a batch needs, and how each change ends if they are committed.
#[derive(Debug, Default)]
pub struct Plan {
    /// One per request, in order.
    pub outcomes: Vec<Result<(), HostDbError>>,
    /// `host_id`s to delete (their options go with them).
    pub delete: Vec<i32>,
    /// Rows to update in place, with their options replaced.
    pub update: Vec<(i32, HostValues)>,
    /// Rows to insert, with their options.
    pub insert: Vec<HostValues>,
}

impl Plan {
    /// Whether nothing is to be written.
    pub fn writes_nothing(&self) -> bool {
        self.delete.is_empty() && self.update.is_empty() && self.insert.is_empty()
    }
}

/// A reservation of the batch's working set: as stored, and as the batch leaves it.
struct Entry {
    subnet_id: u32,
    identifier: HostIdentifier,
    /// `host_id`, the reservation as read, and whether the row also holds DHCPv6 data.
    stored: Option<(i32, Reservation, bool)>,
    now: Option<Reservation>,
}

/// Checks `requests` in order against `current` (the rows read inside the transaction)
/// and returns the writes for those accepted.
pub fn plan(current: &[StoredHost], subnets: &SubnetIds, requests: &[Request]) -> Plan {
    let mut entries: Vec<Entry> = current
        .iter()
        .filter_map(|h| {
            let cidr = subnets.cidr(h.row.columns.subnet_id)?;
            let r = h.reservation(cidr);
            Some(Entry {
                subnet_id: u32::try_from(h.row.columns.subnet_id).ok()?,
                identifier: r.identifier.clone(),
                stored: Some((h.row.host_id, r.clone(), h.row.dhcp6_subnet_id.is_some())),
                now: Some(r),
            })
        })
        .collect();
    let mut plan = Plan::default();
    for request in requests {
        let outcome = check(&mut entries, subnets, request);
        plan.outcomes.push(outcome);
    }
    for e in entries {
        let values = |r: &Reservation| host_values(r, e.subnet_id);
        match (e.stored, &e.now) {
            (None, Some(r)) => {
                if let Ok(v) = values(r) {
                    plan.insert.push(v);
                }
            }
            (Some((id, _, _)), None) => plan.delete.push(id),
            (Some((id, was, _)), Some(r)) if !was.same_as(r) => {
                if let Ok(v) = values(r) {
                    plan.update.push((id, v));
                }
            }
            _ => {}
        }
    }
    plan
}

fn check(
    entries: &mut Vec<Entry>,
    subnets: &SubnetIds,
    request: &Request,
) -> Result<(), HostDbError> {
    let change = &request.change;
    let subnet = change.subnet();
    let subnet_id = subnets.id(subnet)?;
    change.validate()?;
    identifier_key(change.identifier())?;
    if let Change::Add(r) | Change::Replace(r) = change {
        host_values(r, subnet_id)?;
    }
    let identifier = change.identifier();
    let index = entries
        .iter()
        .position(|e| e.subnet_id == subnet_id && e.identifier == *identifier);
    let now = index.and_then(|i| entries[i].now.clone());
    let in_effect = match change {
        Change::Add(r) | Change::Replace(r) => now.as_ref().is_some_and(|n| r.same_as(n)),
        Change::Remove { .. } => now.is_none(),
    };
    if in_effect {
        return Ok(());
    }
    let mut take_over = false;
    if let Some(expect) = &request.expect {
        if !expect(now.as_ref()) {
            return Err(ConfigError::Changed {
                subnet,
                identifier: identifier.clone(),
                found: now.map_or_else(|| "none".to_owned(), |r| r.summary()),
            }
            .into());
        }
        // The caller vouched for the entry there: an add takes it over.
        take_over = true;
    }
    match change {
        Change::Add(r) | Change::Replace(r) => {
            let adding = matches!(change, Change::Add(_));
            match (&now, adding, take_over) {
                (Some(n), true, false) => {
                    return Err(conflict(r, subnet, n, identifier_text(identifier)));
                }
                (None, false, _) => {
                    return Err(ConfigError::NotFound {
                        subnet,
                        identifier: identifier.clone(),
                    }
                    .into());
                }
                _ => {}
            }
            if let Some(ip) = r.ip_address {
                let holder = entries.iter().enumerate().find(|(i, e)| {
                    Some(*i) != index
                        && e.subnet_id == subnet_id
                        && e.now.as_ref().is_some_and(|n| n.ip_address == Some(ip))
                });
                if let Some((_, e)) = holder
                    && let Some(n) = &e.now
                {
                    return Err(conflict(r, subnet, n, format!("IP address {ip}")));
                }
            }
            match index {
                Some(i) => entries[i].now = Some(r.clone()),
                None => entries.push(Entry {
                    subnet_id,
                    identifier: identifier.clone(),
                    stored: None,
                    now: Some(r.clone()),
                }),
            }
        }
        Change::Remove { .. } => {
            if let Some(i) = index {
                if entries[i].stored.as_ref().is_some_and(|(_, _, v6)| *v6) {
                    return Err(HostDbError::SharedWithDhcp6 {
                        identifier: identifier.clone(),
                        subnet,
                    });
                }
                entries[i].now = None;
            }
        }
    }
    Ok(())
}

fn identifier_text(id: &HostIdentifier) -> String {
    match id {
        HostIdentifier::HwAddress(mac) => format!("MAC address {mac}"),
        other => other.to_string(),
    }
}

fn conflict(r: &Reservation, subnet: Cidr, other: &Reservation, what: String) -> HostDbError {
    ConfigError::Conflict {
        wanted: r.identifier.clone(),
        subnet: subnet.to_string(),
        entry: other.summary(),
        what,
    }
    .into()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use super::super::rows::{HW_ADDRESS, HostColumns, HostRow};
    use super::*;

    fn cidr() -> Cidr {
        "10.77.0.0/24".parse().unwrap()
    }

    fn subnets() -> SubnetIds {
        SubnetIds(vec![(cidr(), 1), ("10.78.0.0/24".parse().unwrap(), 2)])
    }

    fn mac(last: u8) -> HostIdentifier {
        HostIdentifier::HwAddress([2, 0, 0, 0, 0, last].into())
    }

    fn reservation(last: u8, ip: &str) -> Reservation {
        let mut r = Reservation::new(cidr(), mac(last));
        r.ip_address = Some(ip.parse().unwrap());
        r
    }

    fn stored(host_id: i32, last: u8, ip: u32, hostname: &str) -> StoredHost {
        StoredHost {
            row: HostRow {
                host_id,
                dhcp6_subnet_id: None,
                columns: HostColumns {
                    identifier: vec![2, 0, 0, 0, 0, last],
                    identifier_type: HW_ADDRESS,
                    subnet_id: 1,
                    ipv4_address: Some(i64::from(0x0a4d_0000 | ip)),
                    hostname: Some(hostname.into()),
                    client_classes: None,
                    next_server: None,
                    boot_file_name: None,
                },
            },
            options: Vec::new(),
        }
    }

    fn plan_of(current: &[StoredHost], requests: &[Request]) -> Plan {
        plan(current, &subnets(), requests)
    }

    fn plain(change: Change) -> Request {
        Request {
            change,
            expect: None,
        }
    }

    fn expecting(
        change: Change,
        expect: impl Fn(Option<&Reservation>) -> bool + Send + Sync + 'static,
    ) -> Request {
        Request {
            change,
            expect: Some(Arc::new(expect)),
        }
    }

    #[test]
    fn adds_updates_and_removes_become_row_writes() {
        let current = vec![stored(10, 1, 42, "a"), stored(11, 2, 43, "b")];
        let mut moved = reservation(1, "10.77.0.44");
        moved.hostname = Some("a".into());
        let p = plan_of(
            &current,
            &[
                plain(Change::Add(reservation(3, "10.77.0.45"))),
                plain(Change::Replace(moved)),
                plain(Change::Remove {
                    subnet: cidr(),
                    identifier: mac(2),
                }),
            ],
        );
        assert!(p.outcomes.iter().all(Result::is_ok), "{:?}", p.outcomes);
        assert_eq!(p.delete, vec![11]);
        assert_eq!(p.update.len(), 1);
        assert_eq!(p.update[0].0, 10);
        assert_eq!(p.update[0].1.host.ipv4_address, Some(0x0a4d_002c));
        assert_eq!(p.insert.len(), 1);
        assert_eq!(p.insert[0].host.identifier, vec![2, 0, 0, 0, 0, 3]);
    }

    #[test]
    fn changes_in_effect_write_nothing() {
        let current = vec![stored(10, 1, 42, "a")];
        let mut same = reservation(1, "10.77.0.42");
        same.hostname = Some("a".into());
        let p = plan_of(
            &current,
            &[
                plain(Change::Add(same)),
                plain(Change::Remove {
                    subnet: cidr(),
                    identifier: mac(9),
                }),
            ],
        );
        assert!(p.outcomes.iter().all(Result::is_ok), "{:?}", p.outcomes);
        assert!(p.writes_nothing());
    }

    #[test]
    fn conflicts_name_the_other_entry_and_fail_alone() {
        let current = vec![stored(10, 1, 42, "handmade")];
        let p = plan_of(
            &current,
            &[
                plain(Change::Add(reservation(1, "10.77.0.50"))),
                plain(Change::Add(reservation(2, "10.77.0.42"))),
                plain(Change::Add(reservation(3, "10.77.0.51"))),
                // Same address as the previous change of this batch.
                plain(Change::Add(reservation(4, "10.77.0.51"))),
            ],
        );
        let e = p.outcomes[0].as_ref().unwrap_err().to_string();
        assert!(e.contains("MAC address 02:00:00:00:00:01"), "{e}");
        assert!(e.contains("hostname handmade"), "{e}");
        let e = p.outcomes[1].as_ref().unwrap_err().to_string();
        assert!(e.contains("IP address 10.77.0.42"), "{e}");
        assert!(e.contains("hw-address 02:00:00:00:00:01"), "{e}");
        assert!(p.outcomes[2].is_ok());
        let e = p.outcomes[3].as_ref().unwrap_err().to_string();
        assert!(e.contains("02:00:00:00:00:03"), "{e}");
        assert_eq!(p.insert.len(), 1);
        assert!(p.update.is_empty() && p.delete.is_empty());
    }

    #[test]
    fn the_same_address_in_another_subnet_is_no_conflict() {
        let mut other = stored(10, 1, 42, "a");
        other.row.columns.subnet_id = 2;
        let p = plan_of(
            &[other],
            &[plain(Change::Add(reservation(2, "10.77.0.42")))],
        );
        assert!(p.outcomes[0].is_ok(), "{:?}", p.outcomes);
    }

    #[test]
    fn an_unmet_expectation_refuses_the_change_naming_the_row() {
        let current = vec![stored(10, 1, 42, "changed-by-hand")];
        let p = plan_of(
            &current,
            &[
                expecting(Change::Replace(reservation(1, "10.77.0.60")), |now| {
                    now.is_some_and(|r| r.hostname.as_deref() == Some("as-read"))
                }),
                expecting(
                    Change::Remove {
                        subnet: cidr(),
                        identifier: mac(1),
                    },
                    |now| now.is_none(),
                ),
            ],
        );
        for outcome in &p.outcomes {
            let e = outcome.as_ref().unwrap_err().to_string();
            assert!(e.contains("changed outside rack"), "{e}");
            assert!(e.contains("hostname changed-by-hand"), "{e}");
        }
        assert!(p.writes_nothing());
    }

    #[test]
    fn an_add_vouching_for_the_row_takes_it_over() {
        let current = vec![stored(10, 1, 42, "imported")];
        let p = plan_of(
            &current,
            &[expecting(
                Change::Add(reservation(1, "10.77.0.42")),
                |now| now.is_some(),
            )],
        );
        assert!(p.outcomes[0].is_ok(), "{:?}", p.outcomes);
        assert_eq!(p.update.len(), 1);
        assert_eq!(p.update[0].1.host.hostname, None);
    }

    #[test]
    fn unknown_subnets_missing_rows_and_dhcp6_rows_are_refused() {
        let mut shared = stored(10, 1, 42, "dual");
        shared.row.dhcp6_subnet_id = Some(5);
        let mut elsewhere = reservation(2, "10.90.0.1");
        elsewhere.subnet = "10.90.0.0/24".parse().unwrap();
        let p = plan_of(
            &[shared],
            &[
                plain(Change::Add(elsewhere)),
                plain(Change::Replace(reservation(3, "10.77.0.70"))),
                plain(Change::Remove {
                    subnet: cidr(),
                    identifier: mac(1),
                }),
            ],
        );
        let texts: Vec<String> = p
            .outcomes
            .iter()
            .map(|o| o.as_ref().unwrap_err().to_string())
            .collect();
        assert!(texts[0].contains("10.90.0.0/24 is not"), "{}", texts[0]);
        assert!(texts[1].contains("has no reservation"), "{}", texts[1]);
        assert!(texts[2].contains("DHCPv6"), "{}", texts[2]);
        assert!(p.writes_nothing());
    }
}
