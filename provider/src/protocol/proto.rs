//! Generated code for the protobuf packages in `schemas/`.
