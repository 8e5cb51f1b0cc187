//! Pure protocol conversion: generated protobuf types, cty values and their encodings.
//! Nothing here does I/O or knows about `rack-core`.

pub mod json;
pub mod msgpack;
pub mod proto;
pub mod value;
