//! Kea's host rows (`hosts`, `dhcp4_options` of schema 13.0, as `kea-admin db-init pgsql`
//! creates it) and their mapping to and from rack's [`Reservation`]. No I/O.
//!
//! - `hosts.dhcp_identifier` is the identifier's bytes, `dhcp_identifier_type` its kind
//!   (table `host_identifier_type`: 0 hw-address, 1 duid, 2 circuit-id, 3 client-id,
//!   4 flex-id); `dhcp4_subnet_id` is the `id` of the `subnet4` entry;
//! - addresses (`ipv4_address`, `dhcp4_next_server`) are bigints, 0 or NULL for none;
//! - `dhcp4_client_classes` is the class names joined by `,`;
//! - an option of a host is a `dhcp4_options` row with `scope_id` 3 (table
//!   `dhcp_option_scope`) and its `host_id`. Kea parses `formatted_value` as the CSV
//!   data of the option's definition; an option it has no definition for (the
//!   site-specific codes) is taken from the raw bytes of `value`.

use std::net::Ipv4Addr;

use super::HostDbError;
use crate::dhcp::options;
use crate::kea::{HostIdentifier, OptionData, Reservation};
use crate::net::{Cidr, MacAddress};

/// `host_identifier_type` 0.
pub const HW_ADDRESS: i16 = 0;
/// `host_identifier_type` 2.
pub const CIRCUIT_ID: i16 = 2;
/// `host_identifier_type` 3.
pub const CLIENT_ID: i16 = 3;
/// `dhcp_option_scope` 3: an option of one host.
pub const HOST_SCOPE: i16 = 3;
/// The option space rack writes and reads; a NULL or empty space means it too.
pub const DHCP4_SPACE: &str = "dhcp4";
/// First option code Kea 2.2 has no standard definition for (RFC 3942's site-specific
/// range): its data goes into `value` as bytes.
pub const FIRST_UNDEFINED_CODE: u8 = 224;

/// The `dhcp4_subnet_id` of each subnet of the server, as its `subnet4` list says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubnetIds(pub Vec<(Cidr, u32)>);

impl SubnetIds {
    /// The id of `subnet`, or why there is none.
    pub fn id(&self, subnet: Cidr) -> Result<u32, crate::kea::ConfigError> {
        self.0
            .iter()
            .find(|(c, _)| *c == subnet)
            .map(|(_, id)| *id)
            .ok_or_else(|| crate::kea::ConfigError::SubnetNotFound {
                subnet,
                known: if self.0.is_empty() {
                    "none".to_owned()
                } else {
                    self.0
                        .iter()
                        .map(|(c, _)| c.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            })
    }

    /// The subnet whose id is `id`.
    pub fn cidr(&self, id: i64) -> Option<Cidr> {
        self.0
            .iter()
            .find(|(_, i)| i64::from(*i) == id)
            .map(|(c, _)| *c)
    }

    /// Every id, for the query's filter.
    pub fn ids(&self) -> Vec<i64> {
        self.0.iter().map(|(_, id)| i64::from(*id)).collect()
    }
}

/// The columns of a `hosts` row that rack writes, and reads with the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostColumns {
    /// `dhcp_identifier_type`.
    pub identifier_type: i16,
    /// `dhcp_identifier`.
    pub identifier: Vec<u8>,
    /// `dhcp4_subnet_id`.
    pub subnet_id: i64,
    /// `ipv4_address`.
    pub ipv4_address: Option<i64>,
    /// `hostname`.
    pub hostname: Option<String>,
    /// `dhcp4_client_classes`.
    pub client_classes: Option<String>,
    /// `dhcp4_next_server`.
    pub next_server: Option<i64>,
    /// `dhcp4_boot_file_name`.
    pub boot_file_name: Option<String>,
}

/// A `hosts` row as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRow {
    /// `host_id`.
    pub host_id: i32,
    /// `dhcp6_subnet_id`: set when the same row also holds a DHCPv6 reservation.
    pub dhcp6_subnet_id: Option<i64>,
    /// The columns rack manages.
    pub columns: HostColumns,
}

/// The columns of a `dhcp4_options` row rack writes (space `dhcp4`, scope host).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionValues {
    /// `code`.
    pub code: i16,
    /// `value`: the bytes of an option Kea has no definition for.
    pub value: Option<Vec<u8>>,
    /// `formatted_value`: the CSV data of an option Kea has a definition for.
    pub formatted_value: Option<String>,
}

/// A `dhcp4_options` row as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionRow {
    /// `space`.
    pub space: Option<String>,
    /// The columns rack writes.
    pub columns: OptionValues,
}

/// One host as stored: its row and its DHCPv4 options (in `option_id` order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredHost {
    /// The `hosts` row.
    pub row: HostRow,
    /// Its options of scope host.
    pub options: Vec<OptionRow>,
}

/// Folds the rows of `hosts LEFT JOIN dhcp4_options`, ordered by `host_id`, into hosts.
pub fn fold(rows: impl IntoIterator<Item = (HostRow, Option<OptionRow>)>) -> Vec<StoredHost> {
    let mut hosts: Vec<StoredHost> = Vec::new();
    for (row, option) in rows {
        let same = hosts.last().is_some_and(|h| h.row.host_id == row.host_id);
        if !same {
            hosts.push(StoredHost {
                row,
                options: Vec::new(),
            });
        }
        if let (Some(o), Some(h)) = (option, hosts.last_mut()) {
            h.options.push(o);
        }
    }
    hosts
}

fn hex(bytes: &[u8], sep: &str) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(sep)
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    let t = text.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    let digits: Vec<u8> = t
        .bytes()
        .filter(|b| !matches!(b, b':' | b'-' | b' '))
        .collect();
    if digits.is_empty() || !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect()
}

/// The identifier of a row: hw-address and client-id as rack knows them, the other kinds
/// as [`HostIdentifier::Other`] with hex octets.
pub fn identifier_of(kind: i16, bytes: &[u8]) -> HostIdentifier {
    match (kind, <[u8; 6]>::try_from(bytes)) {
        (HW_ADDRESS, Ok(mac)) => HostIdentifier::HwAddress(MacAddress::from(mac)),
        (CLIENT_ID, _) if !bytes.is_empty() => HostIdentifier::ClientId(hex(bytes, ":")),
        (CIRCUIT_ID, _) if !bytes.is_empty() => HostIdentifier::CircuitId(hex(bytes, ":")),
        _ => HostIdentifier::Other {
            kind: match kind {
                HW_ADDRESS => "hw-address",
                1 => "duid",
                CIRCUIT_ID => "circuit-id",
                CLIENT_ID => "client-id",
                4 => "flex-id",
                _ => "unknown",
            }
            .to_owned(),
            value: hex(bytes, ":"),
        },
    }
}

/// The `dhcp_identifier_type` and `dhcp_identifier` of an identifier rack writes.
pub fn identifier_key(id: &HostIdentifier) -> Result<(i16, Vec<u8>), HostDbError> {
    match id {
        HostIdentifier::HwAddress(mac) => Ok((HW_ADDRESS, mac.octets().to_vec())),
        HostIdentifier::ClientId(text) => {
            unhex(text)
                .map(|b| (CLIENT_ID, b))
                .ok_or_else(|| HostDbError::IdentifierNotWritable {
                    identifier: id.clone(),
                })
        }
        HostIdentifier::CircuitId(text) => {
            unhex(text)
                .map(|b| (CIRCUIT_ID, b))
                .ok_or_else(|| HostDbError::IdentifierNotWritable {
                    identifier: id.clone(),
                })
        }
        _ => Err(HostDbError::IdentifierNotWritable {
            identifier: id.clone(),
        }),
    }
}

fn addr(v: Option<i64>) -> Option<Ipv4Addr> {
    v.and_then(|n| u32::try_from(n).ok())
        .filter(|n| *n != 0)
        .map(Ipv4Addr::from)
}

fn text(v: &Option<String>) -> Option<String> {
    v.as_ref().filter(|s| !s.is_empty()).cloned()
}

/// Whether an option row is in the space rack manages.
pub fn is_dhcp4_space(space: &Option<String>) -> bool {
    space
        .as_deref()
        .is_none_or(|s| s.is_empty() || s == DHCP4_SPACE)
}

impl StoredHost {
    /// The host as a reservation of `subnet`. Kea's "none" values (NULL, 0, empty) read
    /// as absent; options of other spaces are left out.
    pub fn reservation(&self, subnet: Cidr) -> Reservation {
        let r = &self.row.columns;
        Reservation {
            subnet,
            identifier: identifier_of(r.identifier_type, &r.identifier),
            ip_address: addr(r.ipv4_address),
            hostname: text(&r.hostname),
            next_server: addr(r.next_server),
            boot_file_name: text(&r.boot_file_name),
            option_data: self
                .options
                .iter()
                .filter(|o| is_dhcp4_space(&o.space))
                .map(|o| &o.columns)
                .filter_map(|o| {
                    let code = u8::try_from(o.code).ok()?;
                    let data = match text(&o.formatted_value) {
                        Some(f) => f,
                        None => hex(o.value.as_deref().unwrap_or_default(), ""),
                    };
                    Some(OptionData::by_code(code, data))
                })
                .collect(),
            client_classes: r
                .client_classes
                .as_deref()
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect(),
        }
    }
}

/// What rack writes for one host: its row's columns and its options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostValues {
    /// The `hosts` columns.
    pub host: HostColumns,
    /// The `dhcp4_options` rows.
    pub options: Vec<OptionValues>,
}

/// The option as a `dhcp4_options` row: the code (from the name when only that is
/// given), the data as `formatted_value`, or as the bytes of its hex for the codes Kea
/// has no definition for.
pub fn option_values(o: &OptionData) -> Result<OptionValues, HostDbError> {
    let code = match (o.code, &o.name) {
        (Some(c), _) => c,
        (None, Some(name)) => options::option_by_name(name)
            .map(|d| d.code)
            .ok_or_else(|| HostDbError::UnknownOption { name: name.clone() })?,
        (None, None) => {
            return Err(HostDbError::UnknownOption {
                name: String::new(),
            });
        }
    };
    if code >= FIRST_UNDEFINED_CODE {
        let bytes = unhex(&o.data).ok_or_else(|| HostDbError::OptionNotHex {
            code,
            data: o.data.clone(),
        })?;
        Ok(OptionValues {
            code: i16::from(code),
            value: Some(bytes),
            formatted_value: None,
        })
    } else {
        Ok(OptionValues {
            code: i16::from(code),
            value: None,
            formatted_value: Some(o.data.clone()),
        })
    }
}

/// The reservation as the values of its `hosts` row and options, in subnet `subnet_id`.
pub fn host_values(r: &Reservation, subnet_id: u32) -> Result<HostValues, HostDbError> {
    r.validate()?;
    let (identifier_type, identifier) = identifier_key(&r.identifier)?;
    Ok(HostValues {
        host: HostColumns {
            identifier_type,
            identifier,
            subnet_id: i64::from(subnet_id),
            ipv4_address: r.ip_address.map(|ip| i64::from(u32::from(ip))),
            hostname: r.hostname.clone(),
            client_classes: (!r.client_classes.is_empty()).then(|| r.client_classes.join(",")),
            next_server: r.next_server.map(|ip| i64::from(u32::from(ip))),
            boot_file_name: r.boot_file_name.clone(),
        },
        options: r
            .option_data
            .iter()
            .map(option_values)
            .collect::<Result<_, _>>()?,
    })
}

/// The widths of the `hosts` columns rack writes text into (characters).
const HOSTNAME_WIDTH: usize = 255;
const BOOT_FILE_WIDTH: usize = 128;
const CLIENT_CLASSES_WIDTH: usize = 255;

/// The values of `r` too long for their `hosts` column, by the lease attribute that
/// holds them, with why: refused at plan time rather than by the database at apply.
pub fn too_long(r: &Reservation) -> Vec<(&'static str, String)> {
    let joined = r.client_classes.join(",");
    let checks = [
        (
            "hostname",
            r.hostname.as_deref().unwrap_or_default(),
            HOSTNAME_WIDTH,
        ),
        (
            "boot_file",
            r.boot_file_name.as_deref().unwrap_or_default(),
            BOOT_FILE_WIDTH,
        ),
        ("client_classes", joined.as_str(), CLIENT_CLASSES_WIDTH),
    ];
    checks
        .into_iter()
        .filter(|(_, value, width)| value.chars().count() > *width)
        .map(|(attribute, value, width)| {
            (
                attribute,
                format!(
                    "Kea's hosts table holds at most {width} characters here (joined by commas \
                     for classes); this value has {}.",
                    value.chars().count()
                ),
            )
        })
        .collect()
}

/// The `schema_version` rows rack accepts (version, minor): what Kea 2.2 creates.
pub const SUPPORTED_SCHEMAS: &[(i32, i32)] = &[(13, 0)];

/// Accepts the schema version the database reports, or says which rack supports.
pub fn check_schema(version: i32, minor: i32) -> Result<(), HostDbError> {
    if SUPPORTED_SCHEMAS.contains(&(version, minor)) {
        return Ok(());
    }
    Err(HostDbError::SchemaUnsupported {
        found: format!("{version}.{minor}"),
        supported: SUPPORTED_SCHEMAS
            .iter()
            .map(|(v, m)| format!("{v}.{m}"))
            .collect::<Vec<_>>()
            .join(", "),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn cidr() -> Cidr {
        "10.77.0.0/24".parse().unwrap()
    }

    fn row(host_id: i32, mac: [u8; 6]) -> HostRow {
        HostRow {
            host_id,
            dhcp6_subnet_id: None,
            columns: HostColumns {
                identifier: mac.to_vec(),
                identifier_type: HW_ADDRESS,
                subnet_id: 1,
                ipv4_address: Some(0x0a4d_002a),
                hostname: Some("node1".into()),
                client_classes: Some("pxe,lab".into()),
                next_server: Some(0),
                boot_file_name: Some(String::new()),
            },
        }
    }

    fn option(code: i16, formatted: Option<&str>, value: Option<&[u8]>) -> OptionRow {
        OptionRow {
            space: Some("dhcp4".into()),
            columns: OptionValues {
                code,
                value: value.map(<[u8]>::to_vec),
                formatted_value: formatted.map(str::to_owned),
            },
        }
    }

    #[test]
    fn rows_fold_into_hosts_with_their_options() {
        let a = row(1, [2, 0, 0, 0, 0, 1]);
        let b = row(2, [2, 0, 0, 0, 0, 2]);
        let hosts = fold(vec![
            (a.clone(), Some(option(67, Some("boot.efi"), None))),
            (a.clone(), Some(option(240, None, Some(b"hi")))),
            (b.clone(), None),
        ]);
        assert_eq!(hosts.len(), 2);
        assert_eq!(hosts[0].options.len(), 2);
        assert!(hosts[1].options.is_empty());

        let r = hosts[0].reservation(cidr());
        assert_eq!(r.identifier.to_string(), "hw-address 02:00:00:00:00:01");
        assert_eq!(r.ip_address, Some("10.77.0.42".parse().unwrap()));
        assert_eq!(r.hostname.as_deref(), Some("node1"));
        assert_eq!(r.next_server, None, "0 reads as none");
        assert_eq!(r.boot_file_name, None, "empty reads as none");
        assert_eq!(r.client_classes, vec!["pxe", "lab"]);
        assert_eq!(
            r.option_data,
            vec![
                OptionData::by_code(67, "boot.efi"),
                OptionData::by_code(240, "6869")
            ]
        );
    }

    #[test]
    fn options_of_other_spaces_are_not_read() {
        let mut vendor = option(1, Some("x"), None);
        vendor.space = Some("vendor-4491".into());
        let mut unnamed = option(6, Some("10.0.0.1"), None);
        unnamed.space = None;
        let h = StoredHost {
            row: row(1, [2, 0, 0, 0, 0, 1]),
            options: vec![vendor, unnamed],
        };
        assert_eq!(
            h.reservation(cidr()).option_data,
            vec![OptionData::by_code(6, "10.0.0.1")]
        );
    }

    #[test]
    fn identifiers_map_both_ways() {
        let mac = identifier_of(HW_ADDRESS, &[2, 0, 0, 0, 0, 0xaa]);
        assert_eq!(
            identifier_key(&mac).unwrap(),
            (0, vec![2, 0, 0, 0, 0, 0xaa])
        );
        let cid = identifier_of(CLIENT_ID, &[1, 0xaa, 0xbb]);
        assert_eq!(cid, HostIdentifier::ClientId("01:aa:bb".into()));
        assert_eq!(identifier_key(&cid).unwrap(), (3, vec![1, 0xaa, 0xbb]));
        let circuit = identifier_of(2, b"ab");
        assert_eq!(circuit.to_string(), "circuit-id 61:62");
        assert_eq!(circuit, HostIdentifier::circuit_id(b"ab").unwrap());
        assert_eq!(identifier_key(&circuit).unwrap(), (2, b"ab".to_vec()));
        let duid = identifier_of(1, &[0, 1]);
        assert!(matches!(
            identifier_key(&duid),
            Err(HostDbError::IdentifierNotWritable { .. })
        ));
        // A hw-address of another length is read, never written.
        assert!(matches!(
            identifier_of(HW_ADDRESS, &[1, 2, 3]),
            HostIdentifier::Other { .. }
        ));
    }

    #[test]
    fn reservations_become_row_values() {
        let mut r = Reservation::new(cidr(), identifier_of(HW_ADDRESS, &[2, 0, 0, 0, 0, 1]));
        r.ip_address = Some("10.77.0.42".parse().unwrap());
        r.next_server = Some("10.77.0.5".parse().unwrap());
        r.client_classes = vec!["pxe".into(), "lab".into()];
        r.option_data = vec![
            OptionData::by_name("boot-file-name", "boot.efi"),
            OptionData::by_code(240, "68:69"),
        ];
        let v = host_values(&r, 7).unwrap();
        assert_eq!(v.host.subnet_id, 7);
        assert_eq!(v.host.ipv4_address, Some(0x0a4d_002a));
        assert_eq!(v.host.next_server, Some(0x0a4d_0005));
        assert_eq!(v.host.client_classes.as_deref(), Some("pxe,lab"));
        assert_eq!(
            v.options,
            vec![
                OptionValues {
                    code: 67,
                    value: None,
                    formatted_value: Some("boot.efi".into())
                },
                OptionValues {
                    code: 240,
                    value: Some(b"hi".to_vec()),
                    formatted_value: None
                },
            ]
        );
        // And back: what is written reads as the same reservation.
        let stored = StoredHost {
            row: HostRow {
                host_id: 1,
                dhcp6_subnet_id: None,
                columns: v.host.clone(),
            },
            options: v
                .options
                .iter()
                .map(|o| OptionRow {
                    space: Some("dhcp4".into()),
                    columns: o.clone(),
                })
                .collect(),
        };
        // Options by name read back by code: the same reservation as rack compares them.
        assert!(options::same_reservation(&r, &stored.reservation(cidr())));

        let mut bad = r.clone();
        bad.option_data = vec![OptionData::by_name("no-such-option", "x")];
        assert!(matches!(
            host_values(&bad, 7),
            Err(HostDbError::UnknownOption { .. })
        ));
        bad.option_data = vec![OptionData::by_code(250, "not hex")];
        assert!(matches!(
            host_values(&bad, 7),
            Err(HostDbError::OptionNotHex { code: 250, .. })
        ));
    }

    #[test]
    fn values_too_long_for_their_columns_are_named() {
        let mut r = Reservation::new(cidr(), identifier_of(HW_ADDRESS, &[2, 0, 0, 0, 0, 1]));
        r.hostname = Some("h".repeat(255));
        r.boot_file_name = Some("b".repeat(129));
        let found = too_long(&r);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "boot_file");
        assert!(
            found[0].1.contains("128") && found[0].1.contains("129"),
            "{found:?}"
        );
    }

    #[test]
    fn only_the_supported_schema_is_accepted() {
        assert!(check_schema(13, 0).is_ok());
        let e = check_schema(19, 0).unwrap_err().to_string();
        assert!(e.contains("19.0") && e.contains("13.0"), "{e}");
    }

    #[test]
    fn subnet_ids_name_the_known_subnets() {
        let ids = SubnetIds(vec![(cidr(), 1)]);
        assert_eq!(ids.id(cidr()).unwrap(), 1);
        assert_eq!(ids.cidr(1), Some(cidr()));
        let e = ids.id("10.9.0.0/24".parse().unwrap()).unwrap_err();
        assert!(e.to_string().contains("10.77.0.0/24"), "{e}");
    }
}
