//! Generated code for the protobuf packages in `schemas/`.
//!
//! `provider/build.rs` compiles every `.proto` file there with protox and
//! tonic-prost-build; this module only includes the output. Message types, client and
//! server stubs live in one module per protobuf package.

/// Terraform plugin protocol 6 (minor 6.10): the `tfplugin6.Provider` service.
#[allow(
    clippy::all,
    clippy::pedantic,
    missing_docs,
    unreachable_pub,
    rustdoc::all
)]
pub mod tfplugin6 {
    tonic::include_proto!("tfplugin6");
}

/// go-plugin's own services: `GRPCController`, `GRPCStdio` and `GRPCBroker`.
#[allow(
    clippy::all,
    clippy::pedantic,
    missing_docs,
    unreachable_pub,
    rustdoc::all
)]
pub mod plugin {
    tonic::include_proto!("plugin");
}

/// The standard gRPC health service, `grpc.health.v1.Health`.
#[allow(
    clippy::all,
    clippy::pedantic,
    missing_docs,
    unreachable_pub,
    rustdoc::all
)]
pub mod grpc_health_v1 {
    tonic::include_proto!("grpc.health.v1");
}

#[cfg(test)]
mod tests;
