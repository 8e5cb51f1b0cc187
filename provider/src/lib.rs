//! The rack provider: Terraform plugin protocol 6 served over gRPC.
//!
//! Layers, bottom up: [`plugin`] (go-plugin handshake, TLS, health, controller, stdio),
//! [`protocol`] (generated protobuf types, values, pure conversion), [`framework`]
//! (schemas, plan rules, diagnostics, the RPC server), and the provider's own
//! resources, data sources and functions, written against the framework only.

pub mod framework;
pub mod functions;
pub mod plugin;
pub mod protocol;
