//! The rack provider: Terraform plugin protocol 6 served over gRPC.
//!
//! Layers, bottom up: [`plugin`] (go-plugin handshake, TLS, health, controller, stdio),
//! [`protocol`] (generated protobuf types, values and their encodings), [`framework`]
//! (schemas, plan rules, diagnostics, pure conversion to and from protobuf, the RPC server),
//! and the provider itself ([`provider`], [`functions`]), written against the framework only.

pub mod data_sources;
pub mod framework;
pub mod functions;
pub mod list_resources;
pub mod plugin;
pub mod protocol;
pub mod provider;
pub mod resources;

use std::sync::Arc;

/// The gRPC service Terraform talks to: the rack provider behind the protocol-6 server.
pub fn service() -> framework::server::ProviderService {
    framework::server::ProviderService::new(Arc::new(provider::RackProvider))
}
