//! The rack provider: Terraform plugin protocol 6 served over gRPC.
//!
//! Layers, bottom up: [`plugin`] (go-plugin handshake, TLS, health, controller, stdio),
//! [`protocol`] (generated protobuf types, values and their encodings), [`framework`]
//! (schemas, plan rules, diagnostics, pure conversion to and from protobuf, the RPC server),
//! [`config`] (the configured clients and the [`config::Family`] trait), one folder per
//! resource family ([`dns`], [`dhcp`], [`libvirt`], [`apt`]), and the provider itself
//! ([`provider`], which registers the families, and [`functions`]).

pub mod apt;
pub mod boot;
pub mod config;
pub mod dhcp;
pub mod dns;
pub mod framework;
pub mod functions;
pub mod libvirt;
pub mod plugin;
pub mod protocol;
pub mod provider;
pub mod switch;

use std::sync::Arc;

/// The gRPC service Terraform talks to: the rack provider behind the protocol-6 server.
pub fn service() -> framework::server::ProviderService {
    framework::server::ProviderService::new(Arc::new(provider::RackProvider))
}
