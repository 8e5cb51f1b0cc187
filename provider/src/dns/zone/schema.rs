//! The `rack_dns_zone` schema.

use super::*;

pub(super) fn schema_block() -> Block {
    let mut soa_attrs = vec![
        Attribute::string("mname")
            .required()
            .description("The primary name server, e.g. `ns1.example.net.`."),
        Attribute::string("rname").required().description(
            "The responsible person's mailbox written as a name: `hostmaster.example.net.` \
             for hostmaster@example.net.",
        ),
    ];
    for (name, default, text) in TIMERS {
        soa_attrs.push(
            Attribute::number(name)
                .optional()
                .default(num(default))
                .description(text)
                .validator(IntBetween(0, MAX_SECONDS)),
        );
    }
    Block::new(
        "A primary DNS zone with its SOA record and apex NS set. rack creates and deletes the \
         zone through the server's zone management (`rndc` for BIND, `powerdns` for PowerDNS, \
         in the provider's `dns` block) and changes the SOA and NS records in place with \
         TSIG-signed dynamic updates; the new zone accepts updates and transfers signed with \
         the server's key, so `rack_dns_record_set` can fill it.\n\n\
         Destroying a zone that still holds records other than its SOA and NS fails unless \
         `force_destroy` is true; record sets that depend on the zone in the same \
         configuration are destroyed first. On PowerDNS the server chooses the initial serial.",
    )
    .attributes([
        Attribute::string("server")
            .optional()
            .computed()
            .description(
                "Name of a server in the provider's `dns` block; the default server when omitted. \
             The server needs `rndc` or `powerdns`. Changing it replaces the zone.",
            ),
        Attribute::string("name").required().description(
            "The zone's name, e.g. `lab.example.net.` (the trailing dot is optional). Changing \
             it replaces the zone.",
        ),
        Attribute::nested("soa", Nesting::Single, soa_attrs)
            .required()
            .description(
                "The SOA record's fields; the serial is managed by rack and the server. A change \
                 updates the SOA in place and increments the serial.",
            ),
        Attribute::set("nameservers", Type::String)
            .required()
            .description(
                "The apex NS set: absolute names of the zone's name servers, e.g. \
             `[\"ns1.example.net.\"]`. They must be outside the zone, because rack creates no \
             address records for them. Changes are applied in place.",
            ),
        Attribute::number("ttl")
            .optional()
            .default(num(DEFAULT_TTL))
            .description("TTL of the SOA and NS records, seconds. Default: 3600.")
            .validator(IntBetween(0, MAX_SECONDS)),
        Attribute::bool("force_destroy")
            .optional()
            .default(Value::Bool(false))
            .description(
                "Destroy the zone even when it holds records that are not managed by this \
                 resource. Default: false. Set it and apply before destroying.",
            ),
        Attribute::number("serial")
            .computed()
            .description("The SOA serial the server reports."),
    ])
}
