//! DNS.
pub mod name;
pub mod wire;
