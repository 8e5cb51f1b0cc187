//! The statements rack sends to Kea's host database (PostgreSQL, schema 13.0). Each
//! takes arrays (`unnest`), so a batch of any size costs the same few round trips. Only
//! rows matched by identifier and subnet, or by `host_id` read through such a match, are
//! written; options only of scope host in the `dhcp4` space.

/// The schema's version, as `kea-admin db-init` and its upgrades record it.
pub const SCHEMA_VERSION: &str = "SELECT version, minor FROM schema_version";

/// The host columns, then the option columns, of `hosts h LEFT JOIN dhcp4_options o`.
const COLUMNS: &str = "h.host_id, h.dhcp_identifier, h.dhcp_identifier_type, h.dhcp4_subnet_id, \
     h.dhcp6_subnet_id, h.ipv4_address, h.hostname, h.dhcp4_client_classes, \
     h.dhcp4_next_server, h.dhcp4_boot_file_name, \
     o.option_id, o.code, o.value, o.formatted_value, o.space";

const JOIN: &str =
    "FROM hosts h LEFT JOIN dhcp4_options o ON o.host_id = h.host_id AND o.scope_id = 3";

/// Every DHCPv4 host of the subnets `$1` (`int8[]`), with its options: the one read that
/// fills the cache.
pub fn read_all() -> String {
    format!(
        "SELECT {COLUMNS} {JOIN} WHERE h.dhcp4_subnet_id = ANY($1::int8[]) \
         ORDER BY h.host_id, o.option_id"
    )
}

/// Serialises rack's writers per subnet for the rest of the transaction (Kea's own index
/// on address and subnet is not unique since schema 6.2, so two writers could otherwise
/// both find an address free). `$1` (`int8[]`): one key per subnet, sorted, so writers
/// always lock in the same order.
pub const LOCK_SUBNETS: &str = "SELECT pg_advisory_xact_lock(k) FROM unnest($1::int8[]) AS k";

/// The advisory lock key of subnet `id`: "rack" in the upper half, the id below.
pub fn lock_key(subnet_id: u32) -> i64 {
    (0x7261_636b_i64 << 32) | i64::from(subnet_id)
}

/// The hosts a batch is about, locked until the end of the transaction: those with the
/// identifiers (`$1` `bytea[]`, `$2` `int2[]`, `$3` `int8[]` subnet ids) and those
/// holding the addresses (`$4` `int8[]` subnet ids, `$5` `int8[]` addresses).
pub fn lock_current() -> String {
    format!(
        "SELECT {COLUMNS} {JOIN} \
         WHERE (h.dhcp_identifier, h.dhcp_identifier_type, h.dhcp4_subnet_id) IN \
               (SELECT * FROM unnest($1::bytea[], $2::int2[], $3::int8[])) \
            OR (h.dhcp4_subnet_id, h.ipv4_address) IN \
               (SELECT * FROM unnest($4::int8[], $5::int8[])) \
         ORDER BY h.host_id, o.option_id \
         FOR UPDATE OF h"
    )
}

/// Deletes hosts by `host_id` (`$1` `int4[]`); their options go by the schema's cascade.
pub const DELETE_HOSTS: &str = "DELETE FROM hosts WHERE host_id = ANY($1::int4[])";

/// Updates the columns rack manages of hosts by `host_id`, leaving the others
/// (user_context, server hostname, auth key, DHCPv6 data) as they are.
pub const UPDATE_HOSTS: &str = "UPDATE hosts h SET ipv4_address = u.ip, hostname = u.hostname, \
       dhcp4_client_classes = u.classes, dhcp4_next_server = u.next_server, \
       dhcp4_boot_file_name = u.boot_file \
     FROM unnest($1::int4[], $2::int8[], $3::text[], $4::text[], $5::int8[], $6::text[]) \
       AS u(host_id, ip, hostname, classes, next_server, boot_file) \
     WHERE h.host_id = u.host_id";

/// Deletes the `dhcp4` options of hosts (`$1` `int4[]`) whose options are rewritten.
pub const DELETE_OPTIONS: &str = "DELETE FROM dhcp4_options WHERE host_id = ANY($1::int4[]) \
       AND scope_id = 3 AND (space IS NULL OR space = '' OR space = 'dhcp4')";

/// Inserts hosts; returns each new `host_id` with the identifier and subnet it was
/// inserted for (its key: Kea's unique index on identifier, type and subnet).
pub const INSERT_HOSTS: &str = "INSERT INTO hosts (dhcp_identifier, dhcp_identifier_type, \
       dhcp4_subnet_id, ipv4_address, hostname, dhcp4_client_classes, dhcp4_next_server, \
       dhcp4_boot_file_name) \
     SELECT * FROM unnest($1::bytea[], $2::int2[], $3::int8[], $4::int8[], $5::text[], \
       $6::text[], $7::int8[], $8::text[]) \
     RETURNING host_id, dhcp_identifier, dhcp_identifier_type, dhcp4_subnet_id";

/// Inserts options of scope host in the `dhcp4` space: `$1` `int4[]` host ids, `$2`
/// `int2[]` codes, `$3` `bytea[]` values, `$4` `text[]` formatted values.
pub const INSERT_OPTIONS: &str = "INSERT INTO dhcp4_options (host_id, code, value, formatted_value, \
       space, persistent, scope_id) \
     SELECT u.host_id, u.code, u.value, u.formatted_value, 'dhcp4', false, 3 \
     FROM unnest($1::int4[], $2::int2[], $3::bytea[], $4::text[]) \
       AS u(host_id, code, value, formatted_value)";
