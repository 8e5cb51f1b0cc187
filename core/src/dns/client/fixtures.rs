//! Values the unit tests of this module share.

use crate::dns::message::Record;
use crate::dns::name::Name;
use crate::dns::rdata::RData;

pub(super) fn name(s: &str) -> Name {
    Name::parse(s).unwrap()
}

pub(super) fn a(ip: &str) -> RData {
    RData::A(ip.parse().unwrap())
}

pub(super) fn soa(serial: u32) -> Record {
    Record::new(
        name("farm."),
        300,
        RData::Soa {
            mname: name("ns1.farm."),
            rname: name("hostmaster.farm."),
            serial,
            refresh: 3600,
            retry: 600,
            expire: 86400,
            minimum: 300,
        },
    )
}
