//! Values the unit tests of this module share.

use crate::dns::message::Message;

use super::key::TsigKey;
use crate::dns::message::Header;

pub(super) const NSUPDATE_SECRET: &str = "c2VjcmV0LWZvci1yYWNrLXRlc3RzLTMyLWJ5dGVzISE=";

pub(super) fn key(alg: &str) -> TsigKey {
    TsigKey::from_base64("rack-key.", alg, NSUPDATE_SECRET).unwrap()
}

pub(super) fn response_to(request: &[u8]) -> Vec<u8> {
    let parsed = Message::parse(request).unwrap();
    let mut resp = Message::default();
    resp.header = Header {
        id: parsed.header.id,
        qr: true,
        opcode: parsed.header.opcode,
        ..Header::default()
    };
    resp.questions = parsed.questions;
    resp.header.aa = true;
    resp.to_bytes().unwrap()
}
