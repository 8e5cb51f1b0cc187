//! `rack-core`: the clients for the services rack manages and the domain types they share
//! (names, MAC addresses, CIDRs). Nothing here knows about Terraform.

pub mod net;
