//! Zone creation and deletion against real servers: BIND through rndc, and PowerDNS.

mod bind;
mod common;
mod powerdns;
