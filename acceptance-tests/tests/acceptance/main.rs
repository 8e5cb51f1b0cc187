//! Acceptance tests: the real Terraform CLI against the rack provider and real services.
//! One integration binary; each module is one user story.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod boot_common;
mod boot_file;
mod ci_pipeline;
mod dhcp_common;
mod dhcp_faults;
mod dhcp_hostdb;
mod dhcp_lease;
mod dhcp_libvirt;
mod dhcp_reservations;
mod dhcp_scenario;
mod dhcp_trust;
mod dns_adoption;
mod dns_common;
mod dns_conflicts;
mod dns_farm_scenario;
mod dns_powerdns;
mod dns_record_set;
mod dns_record_types;
mod dns_records;
mod dns_trust;
mod dns_zone;
mod examples;
mod functions;
mod harness;
mod lab;
mod libvirt_common;
mod libvirt_hypervisors;
mod libvirt_injection;
mod libvirt_network;
mod libvirt_trust;
mod list_resources;
mod logging;
mod nested_paths;
mod storage_pool;
mod storage_volume;
mod switch_bad_input;
mod switch_common;
mod switch_forwarding;
mod switch_links;
mod switch_port;
mod switch_tls;
mod vm_errors;
mod vm_lifecycle;
