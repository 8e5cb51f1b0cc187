//! The JSON of Kea's control channel, sans I/O: command builders and answer parsers.
//!
//! A command is `{"command": ..., "service": ["dhcp4"], "arguments": {...}}` (Kea ARM
//! §"Management API", "Data Syntax"). The control agent forwards it to each service listed
//! and answers with a JSON array holding one answer per service; a server's own control
//! socket answers with a single object. Both forms are accepted here.

use std::net::Ipv4Addr;

use serde_json::{Map, Value, json};

use crate::net::MacAddress;

/// The service the commands of this module are forwarded to by the control agent.
pub const DHCP4: &str = "dhcp4";

/// Why an answer from Kea could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Malformed answer from Kea: {reason}")]
pub struct MalformedAnswer {
    /// What was wrong.
    pub reason: String,
}

fn malformed(reason: impl Into<String>) -> MalformedAnswer {
    MalformedAnswer {
        reason: reason.into(),
    }
}

/// A command's result code (Kea ARM, "Data Syntax": 0 success, 1 error, 2 unsupported
/// command, 3 empty result; Kea 2.4 added 4 for a conflict).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResultCode {
    /// 0: the command succeeded.
    Success,
    /// 1: the command failed; `text` says why.
    Error,
    /// 2: the command is not supported (e.g. its hook library is not loaded).
    Unsupported,
    /// 3: the command succeeded but found nothing.
    Empty,
    /// 4: the change conflicts with the server's state (Kea 2.4 and later).
    Conflict,
    /// Any other code.
    Other(i64),
}

impl ResultCode {
    /// The code for `n`.
    pub fn from_code(n: i64) -> Self {
        match n {
            0 => Self::Success,
            1 => Self::Error,
            2 => Self::Unsupported,
            3 => Self::Empty,
            4 => Self::Conflict,
            n => Self::Other(n),
        }
    }

    /// The number on the wire.
    pub fn code(self) -> i64 {
        match self {
            Self::Success => 0,
            Self::Error => 1,
            Self::Unsupported => 2,
            Self::Empty => 3,
            Self::Conflict => 4,
            Self::Other(n) => n,
        }
    }
}

/// A command to send to one Kea service.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    /// The command's name, e.g. `config-get`.
    pub name: &'static str,
    /// The services the control agent forwards it to; empty for the agent itself.
    pub service: Vec<String>,
    /// The command's arguments, if it takes any.
    pub arguments: Option<Value>,
}

impl Command {
    fn to_dhcp4(name: &'static str, arguments: Option<Value>) -> Self {
        Self {
            name,
            service: vec![DHCP4.to_owned()],
            arguments,
        }
    }

    /// `list-commands`: the commands the server supports, hook libraries' included.
    pub fn list_commands() -> Self {
        Self::to_dhcp4("list-commands", None)
    }

    /// `config-get`: the server's running configuration, `{"Dhcp4": {...}}`.
    pub fn config_get() -> Self {
        Self::to_dhcp4("config-get", None)
    }

    /// `config-set`: replaces the running configuration with `config` (`{"Dhcp4": ...}`).
    pub fn config_set(config: Value) -> Self {
        Self::to_dhcp4("config-set", Some(config))
    }

    /// `config-write`: writes the running configuration to the file it was loaded from.
    pub fn config_write() -> Self {
        Self::to_dhcp4("config-write", None)
    }

    /// `reservation-add` (host_cmds hook): `reservation` is the Kea JSON of one host
    /// reservation; its `subnet-id` is set here.
    pub fn reservation_add(subnet_id: u64, reservation: &Value) -> Self {
        let mut r = reservation.as_object().cloned().unwrap_or_default();
        r.insert("subnet-id".to_owned(), json!(subnet_id));
        Self::to_dhcp4("reservation-add", Some(json!({ "reservation": r })))
    }

    /// `reservation-del` (host_cmds hook): the reservation of `identifier_type`
    /// (`hw-address`, `client-id`, ...) `identifier` in subnet `subnet_id`.
    pub fn reservation_del(subnet_id: u64, identifier_type: &str, identifier: &str) -> Self {
        Self::to_dhcp4(
            "reservation-del",
            Some(json!({
                "subnet-id": subnet_id,
                "identifier-type": identifier_type,
                "identifier": identifier,
            })),
        )
    }

    /// `reservation-get-all` (host_cmds hook): every reservation of subnet `subnet_id`.
    pub fn reservation_get_all(subnet_id: u64) -> Self {
        Self::to_dhcp4(
            "reservation-get-all",
            Some(json!({ "subnet-id": subnet_id })),
        )
    }

    /// `lease4-get-all` (lease_cmds hook) restricted to the subnets `subnet_ids`.
    pub fn lease4_get_all(subnet_ids: &[u64]) -> Self {
        Self::to_dhcp4("lease4-get-all", Some(json!({ "subnets": subnet_ids })))
    }

    /// `lease4-get-all` (lease_cmds hook) without arguments: every subnet's leases.
    pub fn lease4_get_every() -> Self {
        Self::to_dhcp4("lease4-get-all", None)
    }

    /// `lease4-get-by-hw-address` (lease_cmds hook).
    pub fn lease4_get_by_hw_address(mac: MacAddress) -> Self {
        Self::to_dhcp4(
            "lease4-get-by-hw-address",
            Some(json!({ "hw-address": mac.to_string() })),
        )
    }

    /// The command as JSON.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("command".to_owned(), json!(self.name));
        if !self.service.is_empty() {
            m.insert("service".to_owned(), json!(self.service));
        }
        if let Some(args) = &self.arguments {
            m.insert("arguments".to_owned(), args.clone());
        }
        Value::Object(m)
    }

    /// The command as the bytes of an HTTP body.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serializing a Value into memory cannot fail.
        serde_json::to_vec(&self.to_json()).unwrap_or_default()
    }
}

/// One service's answer to a command.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The result code.
    pub result: ResultCode,
    /// The human-readable text, if any.
    pub text: Option<String>,
    /// The answer's arguments, if any.
    pub arguments: Option<Value>,
}

impl Answer {
    /// The text, or `""`.
    pub fn text(&self) -> &str {
        self.text.as_deref().unwrap_or("")
    }
}

/// Parses an answer: the control agent's array (the first element is taken: commands of
/// this module go to one service) or a control socket's single object.
pub fn parse_answer(body: &[u8]) -> Result<Answer, MalformedAnswer> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| malformed(format!("not JSON ({e}): {}", excerpt(body))))?;
    let obj = match &value {
        Value::Array(items) => items
            .first()
            .ok_or_else(|| malformed("an empty array instead of an answer"))?,
        other => other,
    };
    let obj = obj
        .as_object()
        .ok_or_else(|| malformed(format!("not an object: {}", excerpt(body))))?;
    let result = obj
        .get("result")
        .and_then(Value::as_i64)
        .ok_or_else(|| malformed(format!("no numeric \"result\": {}", excerpt(body))))?;
    Ok(Answer {
        result: ResultCode::from_code(result),
        text: obj.get("text").and_then(Value::as_str).map(str::to_owned),
        arguments: obj.get("arguments").cloned(),
    })
}

/// The first 200 characters of a body, for messages.
fn excerpt(body: &[u8]) -> String {
    String::from_utf8_lossy(body).chars().take(200).collect()
}

/// The command names of a `list-commands` answer.
pub fn parse_command_list(answer: &Answer) -> Result<Vec<String>, MalformedAnswer> {
    let list = answer
        .arguments
        .as_ref()
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("list-commands answered without a list"))?;
    Ok(list
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect())
}

/// The configuration of a `config-get` answer: `{"Dhcp4": {...}}`, without the `hash`
/// Kea 2.4 and later add beside it (it must not be sent back in a `config-set`).
pub fn parse_config(answer: &Answer) -> Result<Value, MalformedAnswer> {
    let mut args = answer
        .arguments
        .as_ref()
        .and_then(Value::as_object)
        .cloned()
        .ok_or_else(|| malformed("config-get answered without a configuration"))?;
    args.shift_remove("hash");
    if !args.get("Dhcp4").is_some_and(Value::is_object) {
        return Err(malformed("config-get answered without a Dhcp4 object"));
    }
    Ok(Value::Object(args))
}

/// An active IPv4 lease, as `lease4-get-*` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease4 {
    /// The leased address.
    pub ip_address: Ipv4Addr,
    /// The client's MAC address, when it has one Kea recorded.
    pub hw_address: Option<MacAddress>,
    /// The client identifier (option 61), hex with colons, as Kea prints it.
    pub client_id: Option<String>,
    /// The hostname Kea recorded, if any.
    pub hostname: Option<String>,
    /// The subnet's id in Kea's configuration.
    pub subnet_id: u64,
    /// Lifetime in seconds.
    pub valid_lifetime: u64,
    /// Client last transmission time, seconds since the epoch.
    pub cltt: u64,
    /// Kea's lease state: 0 default, 1 declined, 2 expired-reclaimed.
    pub state: u64,
}

/// The leases of a `lease4-get-all` or `lease4-get-by-hw-address` answer (empty on
/// result 3).
pub fn parse_leases(answer: &Answer) -> Result<Vec<Lease4>, MalformedAnswer> {
    if answer.result == ResultCode::Empty {
        return Ok(Vec::new());
    }
    let leases = answer
        .arguments
        .as_ref()
        .and_then(|a| a.get("leases"))
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("lease query answered without \"leases\""))?;
    leases.iter().map(parse_lease).collect()
}

fn parse_lease(v: &Value) -> Result<Lease4, MalformedAnswer> {
    let text = |k: &str| v.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    let num = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
    let ip =
        text("ip-address").ok_or_else(|| malformed(format!("lease without ip-address: {v}")))?;
    let ip_address = ip
        .parse()
        .map_err(|_| malformed(format!("lease with a bad ip-address {ip:?}")))?;
    Ok(Lease4 {
        ip_address,
        hw_address: text("hw-address").and_then(|s| s.parse().ok()),
        client_id: text("client-id").map(str::to_owned),
        hostname: text("hostname").map(str::to_owned),
        subnet_id: num("subnet-id"),
        valid_lifetime: num("valid-lft"),
        cltt: num("cltt"),
        state: num("state"),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn commands_have_kea_json() {
        let cases = [
            (
                Command::list_commands(),
                json!({"command": "list-commands", "service": ["dhcp4"]}),
            ),
            (
                Command::config_get(),
                json!({"command": "config-get", "service": ["dhcp4"]}),
            ),
            (
                Command::config_set(json!({"Dhcp4": {"subnet4": []}})),
                json!({"command": "config-set", "service": ["dhcp4"], "arguments": {"Dhcp4": {"subnet4": []}}}),
            ),
            (
                Command::config_write(),
                json!({"command": "config-write", "service": ["dhcp4"]}),
            ),
            (
                Command::reservation_add(
                    7,
                    &json!({"hw-address": "02:00:00:00:00:01", "ip-address": "10.0.0.5"}),
                ),
                json!({"command": "reservation-add", "service": ["dhcp4"], "arguments": {"reservation": {"hw-address": "02:00:00:00:00:01", "ip-address": "10.0.0.5", "subnet-id": 7}}}),
            ),
            (
                Command::reservation_del(7, "hw-address", "02:00:00:00:00:01"),
                json!({"command": "reservation-del", "service": ["dhcp4"], "arguments": {"subnet-id": 7, "identifier-type": "hw-address", "identifier": "02:00:00:00:00:01"}}),
            ),
            (
                Command::reservation_get_all(7),
                json!({"command": "reservation-get-all", "service": ["dhcp4"], "arguments": {"subnet-id": 7}}),
            ),
            (
                Command::lease4_get_all(&[1, 2]),
                json!({"command": "lease4-get-all", "service": ["dhcp4"], "arguments": {"subnets": [1, 2]}}),
            ),
            (
                Command::lease4_get_every(),
                json!({"command": "lease4-get-all", "service": ["dhcp4"]}),
            ),
            (
                Command::lease4_get_by_hw_address("02:00:00:00:00:0A".parse().unwrap()),
                json!({"command": "lease4-get-by-hw-address", "service": ["dhcp4"], "arguments": {"hw-address": "02:00:00:00:00:0a"}}),
            ),
        ];
        for (cmd, want) in cases {
            assert_eq!(cmd.to_json(), want, "{}", cmd.name);
            let round: Value = serde_json::from_slice(&cmd.to_bytes()).unwrap();
            assert_eq!(round, want);
        }
        // The command name comes first, as in Kea's own examples.
        let text = String::from_utf8(Command::config_get().to_bytes()).unwrap();
        assert!(text.starts_with("{\"command\":\"config-get\""), "{text}");
    }

    #[test]
    fn answers_parse_from_the_agent_and_from_a_socket() {
        let a = parse_answer(br#"[ { "result": 1, "text": "bad option" } ]"#).unwrap();
        assert_eq!(a.result, ResultCode::Error);
        assert_eq!(a.text(), "bad option");
        assert_eq!(a.arguments, None);
        let a = parse_answer(br#"{ "result": 0, "arguments": ["config-get"] }"#).unwrap();
        assert_eq!(a.result, ResultCode::Success);
        assert_eq!(parse_command_list(&a).unwrap(), vec!["config-get"]);
        for bad in [&b"[]"[..], b"{}", b"<html>", b"[1]", br#"{"result":"0"}"#] {
            assert!(
                parse_answer(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        for n in [0, 1, 2, 3, 4, 401] {
            assert_eq!(ResultCode::from_code(n).code(), n);
        }
    }

    #[test]
    fn config_get_answers_lose_their_hash() {
        let a =
            parse_answer(br#"[{"result":0,"arguments":{"Dhcp4":{"a":1},"hash":"AB"}}]"#).unwrap();
        assert_eq!(parse_config(&a).unwrap(), json!({"Dhcp4": {"a": 1}}));
        let a = parse_answer(br#"[{"result":0,"arguments":{"Dhcp6":{}}}]"#).unwrap();
        assert!(parse_config(&a).is_err());
    }

    #[test]
    fn leases_parse() {
        let a = parse_answer(
            br#"[ { "arguments": { "leases": [ { "client-id": "01:02:00:00:00:00:01", "cltt": 1795318049, "fqdn-fwd": false, "fqdn-rev": false, "hostname": "node1", "hw-address": "02:00:00:00:00:01", "ip-address": "10.77.0.42", "state": 0, "subnet-id": 1, "valid-lft": 600 } ] }, "result": 0, "text": "1 IPv4 lease(s) found." } ]"#,
        )
        .unwrap();
        let leases = parse_leases(&a).unwrap();
        assert_eq!(
            leases,
            vec![Lease4 {
                ip_address: "10.77.0.42".parse().unwrap(),
                hw_address: Some("02:00:00:00:00:01".parse().unwrap()),
                client_id: Some("01:02:00:00:00:00:01".into()),
                hostname: Some("node1".into()),
                subnet_id: 1,
                valid_lifetime: 600,
                cltt: 1795318049,
                state: 0,
            }]
        );
        let empty = parse_answer(
            br#"[{"arguments":{"leases":[]},"result":3,"text":"0 IPv4 lease(s) found."}]"#,
        )
        .unwrap();
        assert!(parse_leases(&empty).unwrap().is_empty());
        let bad =
            parse_answer(br#"[{"arguments":{"leases":[{"ip-address":"x"}]},"result":0}]"#).unwrap();
        assert!(parse_leases(&bad).is_err());
    }
}
