//! Network domain types: MAC addresses, CIDRs and the reverse-DNS names derived from them.

mod addr;
mod cidr;
mod mac;
mod reverse;

pub use addr::{AddressError, parse_ip};
pub use cidr::{Cidr, CidrError};
pub use mac::{DEFAULT_MAC_PREFIX, MacAddress, MacError, MacPrefix, derive_mac};
pub use reverse::{ReverseError, ptr_name, reverse_zone};
