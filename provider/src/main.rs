//! `terraform-provider-rack`: started by Terraform or OpenTofu, never by hand.

use std::process::ExitCode;

use rack_provider::plugin::{self, MAX_GRPC_MESSAGE_SIZE};
use rack_provider::protocol::proto::tfplugin6::provider_server::ProviderServer;

// libvirt's client library is loaded when a hypervisor is configured, not at every start:
// Terraform starts this binary several times per command, mostly for work that needs no
// hypervisor (see rack_core::libvirt::on_demand).
rack_core::libvirt_on_demand!();

fn main() -> ExitCode {
    let service = ProviderServer::new(rack_provider::service())
        .max_decoding_message_size(MAX_GRPC_MESSAGE_SIZE)
        .max_encoding_message_size(MAX_GRPC_MESSAGE_SIZE);
    plugin::main_with(service)
}
