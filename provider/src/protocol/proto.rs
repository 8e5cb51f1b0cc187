//! Generated code for the protobuf packages in `schemas/`.

/// go-plugin's own services: controller, stdio and broker (package `plugin`).
#[allow(clippy::all, missing_docs)]
pub mod plugin {
    tonic::include_proto!("plugin");
}

/// The standard gRPC health checking protocol (package `grpc.health.v1`).
#[allow(clippy::all, missing_docs)]
pub mod grpc_health_v1 {
    tonic::include_proto!("grpc.health.v1");
}
