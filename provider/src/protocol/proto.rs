//! Generated code for the protobuf packages in `schemas/`.

#![allow(clippy::all, clippy::pedantic, missing_docs)]

/// Terraform plugin protocol 6 (`schemas/tfplugin6.proto`).
pub mod tfplugin6 {
    tonic::include_proto!("tfplugin6");
}
