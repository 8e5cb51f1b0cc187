//! Generated code for the protobuf packages in `schemas/`.
//!
//! `provider/build.rs` compiles every `.proto` file there with protox and
//! tonic-prost-build; this module only includes the output. Message types, client and
//! server stubs live in one module per protobuf package.

/// One module per protobuf package, holding its generated code; generated code is not held
/// to the workspace's lints.
macro_rules! generated {
    ($($(#[doc = $doc:literal])* $name:ident = $package:literal;)*) => {
        $($(#[doc = $doc])*
        #[allow(
            clippy::all,
            clippy::pedantic,
            missing_docs,
            unreachable_pub,
            rustdoc::all
        )]
        pub mod $name {
            tonic::include_proto!($package);
        })*
    };
}

generated! {
    /// Terraform plugin protocol 6 (minor 6.10): the `tfplugin6.Provider` service.
    tfplugin6 = "tfplugin6";
    /// go-plugin's own services: `GRPCController`, `GRPCStdio` and `GRPCBroker`.
    plugin = "plugin";
    /// The standard gRPC health service, `grpc.health.v1.Health`.
    grpc_health_v1 = "grpc.health.v1";
}

#[cfg(test)]
mod tests;
