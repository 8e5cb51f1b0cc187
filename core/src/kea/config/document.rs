//! Reading and editing Kea's `Dhcp4` configuration document: its subnets, the
//! reservations in each, and a change applied to it. Pure JSON, no I/O.

use std::net::Ipv4Addr;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::model::{Change, HostIdentifier, Reservation};
use super::model::{ConfigError, malformed};
use crate::net::Cidr;

/// A `subnet4` entry of the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subnet4 {
    /// Its `id`, when the configuration has one (Kea always reports it in `config-get`).
    pub id: Option<u64>,
    /// Its `subnet`.
    pub cidr: Cidr,
}

/// SHA-256 of the configuration as serialised (keys in their order), in hex. Two
/// `config-get` answers with the same hash hold the same configuration.
pub fn config_hash(config: &Value) -> String {
    let bytes = serde_json::to_vec(config).unwrap_or_default();
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn dhcp4(config: &Value) -> Result<&Map<String, Value>, ConfigError> {
    config
        .get("Dhcp4")
        .and_then(Value::as_object)
        .ok_or_else(|| malformed("no Dhcp4 object"))
}

/// Every `subnet4` list: the top-level one and those of `shared-networks`.
fn subnet_lists(dhcp4: &Map<String, Value>) -> impl Iterator<Item = &Value> {
    let top = dhcp4.get("subnet4").into_iter();
    let shared = dhcp4
        .get("shared-networks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|n| n.get("subnet4"));
    top.chain(shared)
        .filter_map(Value::as_array)
        .flat_map(|list| list.iter())
}

fn cidr_of(subnet: &Value) -> Option<Cidr> {
    subnet.get("subnet")?.as_str()?.trim().parse().ok()
}

/// The subnets of the configuration, top-level first, then those of shared networks.
pub fn subnets(config: &Value) -> Result<Vec<Subnet4>, ConfigError> {
    Ok(subnet_lists(dhcp4(config)?)
        .filter_map(|s| {
            Some(Subnet4 {
                id: s.get("id").and_then(Value::as_u64),
                cidr: cidr_of(s)?,
            })
        })
        .collect())
}

fn known_subnets(config: &Value) -> String {
    let list: Vec<String> = subnets(config)
        .unwrap_or_default()
        .iter()
        .map(|s| s.cidr.to_string())
        .collect();
    if list.is_empty() {
        "none".to_owned()
    } else {
        list.join(", ")
    }
}

fn find_subnet(config: &Value, cidr: Cidr) -> Result<&Value, ConfigError> {
    subnet_lists(dhcp4(config)?)
        .find(|s| cidr_of(s) == Some(cidr))
        .ok_or_else(|| ConfigError::SubnetNotFound {
            subnet: cidr,
            known: known_subnets(config),
        })
}

fn find_subnet_mut(config: &mut Value, cidr: Cidr) -> Result<&mut Map<String, Value>, ConfigError> {
    let known = known_subnets(config);
    let dhcp4 = config
        .get_mut("Dhcp4")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| malformed("no Dhcp4 object"))?;
    let mut lists: Vec<&mut Value> = Vec::new();
    let mut shared = None;
    for (k, v) in dhcp4.iter_mut() {
        match k.as_str() {
            "subnet4" => lists.push(v),
            "shared-networks" => shared = Some(v),
            _ => {}
        }
    }
    if let Some(networks) = shared.and_then(Value::as_array_mut) {
        lists.extend(networks.iter_mut().filter_map(|n| n.get_mut("subnet4")));
    }
    lists
        .into_iter()
        .filter_map(Value::as_array_mut)
        .flat_map(|l| l.iter_mut())
        .find(|s| cidr_of(s) == Some(cidr))
        .and_then(Value::as_object_mut)
        .ok_or(ConfigError::SubnetNotFound {
            subnet: cidr,
            known,
        })
}

/// The reservations of `subnet`, in the configuration's order. Entries with an identifier
/// rack cannot read are left out.
pub fn reservations(config: &Value, subnet: Cidr) -> Result<Vec<Reservation>, ConfigError> {
    let s = find_subnet(config, subnet)?;
    Ok(s.get("reservations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| Reservation::from_kea_json(subnet, e))
        .collect())
}

/// A short description of a reservation entry: identifier, address and hostname.
fn describe(entry: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(obj) = entry.as_object() {
        if let Some(id) = HostIdentifier::of_entry(obj) {
            parts.push(id.to_string());
        }
        for k in ["ip-address", "hostname"] {
            if let Some(v) = obj.get(k).and_then(Value::as_str).filter(|s| !s.is_empty()) {
                parts.push(format!("{k} {v}"));
            }
        }
    }
    if parts.is_empty() {
        entry.to_string()
    } else {
        parts.join(", ")
    }
}

/// Refuses `r` if another reservation, in any subnet, has its address; `skip` is the
/// index, in `r`'s subnet, of the entry `r` replaces.
fn check_address(config: &Value, r: &Reservation, skip: Option<usize>) -> Result<(), ConfigError> {
    let Some(ip) = r.ip_address else {
        return Ok(());
    };
    for s in subnet_lists(dhcp4(config)?) {
        let own = cidr_of(s) == Some(r.subnet);
        let entries = s.get("reservations").and_then(Value::as_array);
        for (i, e) in entries.into_iter().flatten().enumerate() {
            if own && Some(i) == skip {
                continue;
            }
            let theirs = e
                .get("ip-address")
                .and_then(Value::as_str)
                .and_then(|t| t.parse::<Ipv4Addr>().ok());
            if theirs == Some(ip) {
                return Err(ConfigError::Conflict {
                    wanted: r.identifier.clone(),
                    subnet: s
                        .get("subnet")
                        .and_then(Value::as_str)
                        .unwrap_or("?")
                        .to_owned(),
                    entry: describe(e),
                    what: format!("IP address {ip}"),
                });
            }
        }
    }
    Ok(())
}

/// Index of the entry of `subnet` with `identifier`.
fn position(subnet: &Value, identifier: &HostIdentifier) -> Option<usize> {
    subnet
        .get("reservations")?
        .as_array()?
        .iter()
        .position(|e| {
            e.as_object()
                .and_then(HostIdentifier::of_entry)
                .is_some_and(|id| id == *identifier)
        })
}

/// The reservation of `identifier` in `subnet`, if the configuration holds one.
pub fn find(
    config: &Value,
    subnet: Cidr,
    identifier: &HostIdentifier,
) -> Result<Option<Reservation>, ConfigError> {
    let s = find_subnet(config, subnet)?;
    Ok(position(s, identifier)
        .and_then(|i| s.get("reservations").and_then(|l| l.get(i)))
        .and_then(|e| Reservation::from_kea_json(subnet, e)))
}

/// Whether `config` already holds what `change` would make of it: the reservation
/// added or replaced exactly (see [`Reservation::same_as`]), or none for a removal.
pub fn in_effect(config: &Value, change: &Change) -> Result<bool, ConfigError> {
    let now = find(config, change.subnet(), change.identifier())?;
    Ok(match change {
        Change::Add(r) | Change::Replace(r) => now.is_some_and(|n| r.same_as(&n)),
        Change::Remove { .. } => now.is_none(),
    })
}

/// Applies one change to `config`, or leaves it untouched and says why not. Only the
/// `reservations` list of the change's subnet is modified: an added entry goes at its end
/// (the list is created if missing), a replaced one keeps its place, a removed one's
/// neighbours keep their order.
pub fn apply(config: &mut Value, change: &Change) -> Result<(), ConfigError> {
    change.validate()?;
    let subnet = change.subnet();
    let existing = position(find_subnet(config, subnet)?, change.identifier());
    match change {
        Change::Add(r) => {
            if let Some(i) = existing {
                let s = find_subnet(config, subnet)?;
                let same = s
                    .get("reservations")
                    .and_then(|l| l.get(i))
                    .and_then(|e| Reservation::from_kea_json(subnet, e))
                    .is_some_and(|now| r.same_as(&now));
                if same {
                    // Already there exactly as asked (an earlier write that was carried
                    // out after its answer was lost): nothing to do.
                    return Ok(());
                }
                let s = find_subnet(config, subnet)?;
                let entry = s
                    .get("reservations")
                    .and_then(|l| l.get(i))
                    .cloned()
                    .unwrap_or(Value::Null);
                let what = match &r.identifier {
                    HostIdentifier::HwAddress(mac) => format!("MAC address {mac}"),
                    other => other.to_string(),
                };
                return Err(ConfigError::Conflict {
                    wanted: r.identifier.clone(),
                    subnet: subnet.to_string(),
                    entry: describe(&entry),
                    what,
                });
            }
            check_address(config, r, None)?;
            let s = find_subnet_mut(config, subnet)?;
            let list = s
                .entry("reservations")
                .or_insert_with(|| Value::Array(Vec::new()));
            let list = list
                .as_array_mut()
                .ok_or_else(|| malformed(format!("reservations of {subnet} is not a list")))?;
            list.push(r.to_kea_json());
        }
        Change::Replace(r) => {
            let Some(i) = existing else {
                return Err(ConfigError::NotFound {
                    subnet,
                    identifier: r.identifier.clone(),
                });
            };
            check_address(config, r, Some(i))?;
            let s = find_subnet_mut(config, subnet)?;
            if let Some(slot) = s
                .get_mut("reservations")
                .and_then(Value::as_array_mut)
                .and_then(|l| l.get_mut(i))
            {
                *slot = r.to_kea_json();
            }
        }
        Change::Remove { .. } => {
            let Some(i) = existing else { return Ok(()) };
            let s = find_subnet_mut(config, subnet)?;
            if let Some(list) = s.get_mut("reservations").and_then(Value::as_array_mut) {
                list.remove(i);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::fixtures::{cidr, config, mac, node};
    use super::super::model::OptionData;
    use super::*;
    use serde_json::json;

    #[test]
    fn subnets_include_shared_networks() {
        let s = subnets(&config()).unwrap();
        let cidrs: Vec<String> = s.iter().map(|s| s.cidr.to_string()).collect();
        assert_eq!(cidrs, ["10.77.0.0/24", "10.78.0.0/24", "10.79.0.0/24"]);
        assert_eq!(s[2].id, Some(3));
    }

    #[test]
    fn add_touches_only_its_subnets_list() {
        let before = config();
        let mut c = before.clone();
        apply(&mut c, &Change::Add(node("10.77.0.42"))).unwrap();
        let text = serde_json::to_string(&c).unwrap();
        let expected = serde_json::to_string(&before).unwrap().replace(
            r#""boot-file-name":""}]"#,
            &format!(
                r#""boot-file-name":""}},{}]"#,
                node("10.77.0.42").to_kea_json()
            ),
        );
        assert_eq!(text, expected);
        // A subnet without a list gets one, at the end of its keys.
        let mut r = Reservation::new(cidr("10.78.0.0/24"), mac("02:00:00:00:00:02"));
        r.ip_address = Some("10.78.0.2".parse().unwrap());
        apply(&mut c, &Change::Add(r)).unwrap();
        let s = &c["Dhcp4"]["subnet4"][1];
        let keys: Vec<&String> = s.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["id", "subnet", "reservations"]);
    }

    #[test]
    fn replace_keeps_the_place_and_remove_keeps_the_order() {
        let mut c = config();
        apply(&mut c, &Change::Add(node("10.77.0.42"))).unwrap();
        let mut third = Reservation::new(cidr("10.77.0.0/24"), mac("02:00:00:00:00:03"));
        third.ip_address = Some("10.77.0.43".parse().unwrap());
        apply(&mut c, &Change::Add(third)).unwrap();
        apply(&mut c, &Change::Replace(node("10.77.0.50"))).unwrap();
        let r = reservations(&c, cidr("10.77.0.0/24")).unwrap();
        let ips: Vec<String> = r
            .iter()
            .map(|r| r.ip_address.unwrap().to_string())
            .collect();
        assert_eq!(ips, ["10.77.0.10", "10.77.0.50", "10.77.0.43"]);
        let remove = Change::Remove {
            subnet: cidr("10.77.0.0/24"),
            identifier: mac("02:00:00:00:00:01"),
        };
        apply(&mut c, &remove).unwrap();
        apply(&mut c, &remove).unwrap(); // already gone: nothing to do
        let mut back = config();
        let mut third = Reservation::new(cidr("10.77.0.0/24"), mac("02:00:00:00:00:03"));
        third.ip_address = Some("10.77.0.43".parse().unwrap());
        apply(&mut back, &Change::Add(third)).unwrap();
        assert_eq!(c, back);
        let e = apply(&mut c, &Change::Replace(node("10.77.0.50"))).unwrap_err();
        assert!(matches!(e, ConfigError::NotFound { .. }), "{e}");
    }

    #[test]
    fn conflicts_name_the_existing_entry() {
        let mut c = config();
        let before = c.clone();
        let mut same_mac = node("10.77.0.42");
        same_mac.identifier = mac("02-00-00-00-00-aa");
        let e = apply(&mut c, &Change::Add(same_mac)).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("[hw-address 02:00:00:00:00:aa, ip-address 10.77.0.10, hostname manual]")
                && text.contains("same MAC address 02:00:00:00:00:aa"),
            "{text}"
        );
        let e = apply(&mut c, &Change::Add(node("10.77.0.10"))).unwrap_err();
        assert!(e.to_string().contains("same IP address 10.77.0.10"), "{e}");
        assert_eq!(c, before, "a refused change leaves the configuration alone");
        // An address may stay with the entry being replaced, not move onto another's.
        apply(&mut c, &Change::Add(node("10.77.0.42"))).unwrap();
        apply(&mut c, &Change::Replace(node("10.77.0.42"))).unwrap();
        let e = apply(&mut c, &Change::Replace(node("10.77.0.10"))).unwrap_err();
        assert!(e.to_string().contains("manual"), "{e}");
    }

    #[test]
    fn invalid_reservations_are_refused_before_the_config_is_read() {
        let mut r = node("10.78.0.1");
        let e = r.validate().unwrap_err();
        assert!(matches!(e, ConfigError::AddressOutsideSubnet { .. }), "{e}");
        r.ip_address = None;
        r.option_data.push(OptionData {
            name: None,
            code: None,
            data: "x".into(),
        });
        assert!(r.validate().is_err());
        assert!(HostIdentifier::client_id("01:zz").is_err());
        assert!(HostIdentifier::client_id("abc").is_err());
        assert_eq!(
            HostIdentifier::client_id("01-AA-bb").unwrap().value(),
            "01:aa:bb"
        );
        let v6 = Reservation::new(cidr("2001:db8::/64"), mac("02:00:00:00:00:01"));
        assert!(matches!(v6.validate(), Err(ConfigError::NotIpv4 { .. })));
    }

    #[test]
    fn adding_what_is_already_there_changes_nothing() {
        let mut c = config();
        apply(&mut c, &Change::Add(node("10.77.0.42"))).unwrap();
        // Kea's own form of the entry: options named and numbered, defaults filled in.
        let entry = &mut c["Dhcp4"]["subnet4"][0]["reservations"][1];
        entry["option-data"] = json!([
            {"always-send": false, "code": 67, "csv-format": true, "data": "boot/x.efi", "name": "boot-file-name", "space": "dhcp4"},
            {"always-send": false, "code": 114, "csv-format": true, "data": "http://portal/", "name": "v4-captive-portal", "space": "dhcp4"}
        ]);
        entry["server-hostname"] = json!("");
        let kea_form = c.clone();
        apply(&mut c, &Change::Add(node("10.77.0.42"))).unwrap();
        assert_eq!(c, kea_form);
        assert!(in_effect(&c, &Change::Add(node("10.77.0.42"))).unwrap());
        // Anything different is still a conflict.
        let mut other = node("10.77.0.42");
        other.hostname = Some("node2".into());
        assert!(matches!(
            apply(&mut c, &Change::Add(other.clone())),
            Err(ConfigError::Conflict { .. })
        ));
        assert!(!in_effect(&c, &Change::Add(other)).unwrap());
        let gone = Change::Remove {
            subnet: cidr("10.77.0.0/24"),
            identifier: mac("02:00:00:00:00:02"),
        };
        assert!(in_effect(&c, &gone).unwrap());
        assert_eq!(
            find(&c, cidr("10.77.0.0/24"), &mac("02:00:00:00:00:01"))
                .unwrap()
                .map(|r| r.ip_address),
            Some(Some("10.77.0.42".parse().unwrap()))
        );
    }

    #[test]
    fn the_hash_follows_content_and_order() {
        let a = config();
        let mut b = config();
        assert_eq!(config_hash(&a), config_hash(&b));
        assert_eq!(config_hash(&a).len(), 64);
        apply(&mut b, &Change::Add(node("10.77.0.42"))).unwrap();
        assert_ne!(config_hash(&a), config_hash(&b));
    }
}
