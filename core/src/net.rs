//! Network domain types: MAC addresses, CIDRs and the reverse-DNS names derived from them.
