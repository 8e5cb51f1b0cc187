//! TSIG, secret-key transaction signatures (RFC 8945): signing requests, verifying single
//! responses and multi-message responses such as AXFR. Pure: the caller passes the current
//! time, and messages are byte buffers built by the other modules.

#[cfg(test)]
mod fixtures;
mod key;
mod sign;
mod stream;
mod verify;

pub use key::{DEFAULT_FUDGE, TsigAlgorithm, TsigError, TsigKey};
pub use sign::{RequestMac, sign_request, sign_response};
pub use stream::{MAX_UNSIGNED_IN_ROW, StreamSigner, StreamVerifier, verify_response};
pub use verify::verify_request;
