//! Runs the built provider binary the way a go-plugin host does and talks to it over its
//! unix socket, in plaintext and with AutoMTLS.

mod common;
mod handshake;
mod mtls;
mod plaintext;
