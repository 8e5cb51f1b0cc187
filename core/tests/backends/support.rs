//! Clients of the named and PowerDNS fixtures, shared by the backend and zone tests.

use rack_core::powerdns::PowerDnsClient;
use rack_core::rndc::{RndcClient, RndcKey};
use rack_lab::{Named, PowerDns};
use std::time::Duration;

/// Deadline of one rndc or PowerDNS API call.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The fixture's own rndc key.
pub fn rndc_key(named: &Named) -> RndcKey {
    let k = &named.rndc_key;
    RndcKey {
        name: k.name.clone(),
        algorithm: k
            .algorithm
            .parse()
            .unwrap_or_else(|e| panic!("fixture key algorithm: {e}")),
        secret: k.secret.clone(),
    }
}

/// A client of the fixture's control channel that signs with `key`.
pub fn rndc_with(named: &Named, key: RndcKey) -> RndcClient {
    RndcClient::new(named.rndc_addr, key, TIMEOUT)
}

/// A client of the fixture's control channel with the fixture's own key.
pub fn rndc(named: &Named) -> RndcClient {
    rndc_with(named, rndc_key(named))
}

/// A client of the fixture's PowerDNS API with its API key.
pub fn pdns_api(pdns: &PowerDns) -> PowerDnsClient {
    PowerDnsClient::new(&pdns.api_url, &pdns.api_key, TIMEOUT)
        .unwrap_or_else(|e| panic!("a PowerDNS API client: {e}"))
}
