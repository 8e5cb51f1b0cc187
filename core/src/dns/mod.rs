//! DNS.
pub mod message;
pub mod name;
pub mod rdata;
mod text;
pub mod tsig;
pub mod update;
pub mod wire;
