//! Verifying one signed message (RFC 8945 §5.2, §5.4): its TSIG record, MAC and time.

use super::key::TsigError;
use super::key::TsigKey;
use super::sign::{RequestMac, arcount, variables};
use crate::dns::message::{Message, Rcode};

/// A parsed, signed message and the bytes its MAC covers (RFC 8945 §4.3.2): the message
/// without its TSIG record, ARCOUNT one less, and the original ID in the header.
pub(super) struct Signed {
    pub(super) message: Message,
    pub(super) covered: Vec<u8>,
}

pub(super) fn split_signed(bytes: &[u8]) -> Result<Option<Signed>, TsigError> {
    let message = Message::parse(bytes)?;
    let (Some(tsig), Some(offset)) = (&message.tsig, message.tsig_offset()) else {
        return Ok(None);
    };
    let mut covered = bytes.get(..offset).unwrap_or_default().to_vec();
    let arcount = arcount(&covered)?.saturating_sub(1);
    if let Some(slot) = covered.get_mut(10..12) {
        slot.copy_from_slice(&arcount.to_be_bytes());
    }
    if let Some(slot) = covered.get_mut(0..2) {
        slot.copy_from_slice(&tsig.original_id.to_be_bytes());
    }
    Ok(Some(Signed { message, covered }))
}

/// Checks the key, the error field and the time of a TSIG record (RFC 8945 §5.2.1, §5.2.3,
/// §5.4); the MAC is checked by the caller.
pub(super) fn check_record(message: &Message, key: &TsigKey) -> Result<(), TsigError> {
    let Some(tsig) = &message.tsig else {
        return Err(TsigError::Unsigned {
            rcode: message.rcode(),
            key: key.name.clone(),
        });
    };
    match tsig.error {
        Rcode::NOERROR => {}
        Rcode::BADSIG => {
            return Err(TsigError::BadSig {
                key: key.name.clone(),
            });
        }
        Rcode::BADKEY => {
            return Err(TsigError::BadKey {
                key: key.name.clone(),
                algorithm: key.algorithm,
            });
        }
        Rcode::BADTIME => {
            // RFC 8945 §5.2.3: other data holds the server's time, 48 bits.
            let server_time = tsig.other.get(..6).map_or(0, |b| {
                b.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
            });
            return Err(TsigError::BadTime {
                server_time,
                client_time: tsig.time_signed,
            });
        }
        Rcode::BADTRUNC => return Err(TsigError::BadTrunc),
        error => return Err(TsigError::OtherError { error }),
    }
    if tsig.key_name != key.name || tsig.algorithm != key.algorithm.name() {
        return Err(TsigError::WrongKey {
            expected: key.name.clone(),
            got: tsig.key_name.clone(),
            algorithm: tsig.algorithm.clone(),
        });
    }
    Ok(())
}

pub(super) fn check_time(signed: u64, fudge: u16, now: u64) -> Result<(), TsigError> {
    let skew = signed.abs_diff(now);
    if skew > u64::from(fudge) {
        return Err(TsigError::ClockSkew {
            signed,
            now,
            skew,
            fudge,
        });
    }
    Ok(())
}

/// Verifies a signed request as a server would (RFC 8945 §5.2): key, MAC, then time.
/// Returns the parsed message and what signing its response needs.
pub fn verify_request(
    bytes: &[u8],
    key: &TsigKey,
    now: u64,
) -> Result<(Message, RequestMac), TsigError> {
    let Some(signed) = split_signed(bytes)? else {
        let message = Message::parse(bytes)?;
        return Err(TsigError::Unsigned {
            rcode: message.rcode(),
            key: key.name.clone(),
        });
    };
    check_record(&signed.message, key)?;
    let Some(tsig) = &signed.message.tsig else {
        return Err(TsigError::UnsignedEnd);
    };
    let vars = variables(key, tsig.time_signed, tsig.fudge, tsig.error, &tsig.other);
    key.check_mac(&[&signed.covered, &vars], &tsig.mac)?;
    check_time(tsig.time_signed, tsig.fudge, now)?;
    let request = RequestMac {
        id: tsig.original_id,
        mac: tsig.mac.clone(),
        time_signed: tsig.time_signed,
    };
    Ok((signed.message, request))
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{NSUPDATE_SECRET, key, response_to};
    use super::super::sign::{append_tsig, sign_request, sign_response};
    use super::super::stream::verify_response;
    use super::*;
    use crate::dns::message::{Class, encode_rr};
    use crate::dns::message::{Header, Opcode, Record};
    use crate::dns::name::Name;
    use crate::dns::rdata::RData;
    use crate::dns::rdata::RecordType;
    use crate::dns::update::UpdateBuilder;
    use crate::dns::wire::put_u48;

    /// An UPDATE signed by BIND 9.18's `nsupdate -y hmac-sha256:rack-key.:<secret>` for
    /// "prereq nxrrset www.farm. A; update add www.farm. 300 A 192.0.2.1", captured from a
    /// UDP socket. BIND compresses owner names; the MAC covers the bytes as sent.
    const NSUPDATE_REQUEST: &str = "c69828000001000100010001046661726d000006000103777777c00c000100fe000000000000c016000100010000012c0004c0000201087261636b2d6b65790000fa00ff00000000003d0b686d61632d7368613235360000006b025513012c00204324b41587ad66d597c5fc7b59e58f78f2519148a4be4c6358403cb94279783ac69800000000";

    const NSUPDATE_TIME: u64 = 0x6b02_5513;

    /// A SOA query signed by BIND 9.18's `dig -y` and the answer `named` 9.18 signed for it,
    /// captured by a UDP relay; then an UPDATE from `nsupdate` and `named`'s signed NOERROR.
    const DIG_SOA_QUERY: &str = "20b100200001000000000001046661726d0000060001087261636b2d6b65790000fa00ff00000000003d0b686d61632d7368613235360000006b0255bb012c00206bc39fd3518ca6d6c1cf24db2ad8135d1d5ae63104b3e5c0b3408d618cc4466320b100000000";

    const NAMED_SOA_ANSWER: &str = "20b184000001000100010002046661726d0000060001c00c000600010000012c0027036e7331c00c0a686f73746d6173746572c00c0000000100001c2000000e10001275000000012cc00c000200010000012c0002c022c022000100010000012c0004c0000235087261636b2d6b65790000fa00ff00000000003d0b686d61632d7368613235360000006b0255bb012c0020355068b9a42614da4900665103bc2d6d3fe6b54faf34814955e364b228b21f5e20b100000000";

    const NSUPDATE_REQUEST_2: &str = "5d1c28000001000100010001046661726d000006000103777777c00c000100fe000000000000c016000100010000012c0004c0000201087261636b2d6b65790000fa00ff00000000003d0b686d61632d7368613235360000006b0255bb012c00200f24c6909db32f94ae68ed33597833161b66b515c0452fbda1714d488f92c10f5d1c00000000";

    const NAMED_UPDATE_ANSWER: &str = "5d1ca8000001000000000001046661726d0000060001087261636b2d6b65790000fa00ff00000000003d0b686d61632d7368613235360000006b0255bb012c00207f95103c356dd8c025756d670c166ec9b9d05c345ddb47e289120c71867839af5d1c00000000";

    const NAMED_TIME: u64 = 0x6b02_55bb;

    fn unhex(s: &str) -> Vec<u8> {
        crate::dns::text::unhex(s).unwrap()
    }

    /// A response carrying a TSIG record with this error and an empty MAC, as servers send
    /// for BADKEY and BADSIG (RFC 8945 §5.3.2).
    fn error_response(key: &TsigKey, error: Rcode, other: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        Header {
            id: 5,
            qr: true,
            rcode: 9,
            ..Header::default()
        }
        .encode(&mut m, [0, 0, 0, 1]);
        encode_rr(&mut m, &key.name, RecordType::Tsig, Class::ANY, 0, |o| {
            key.algorithm.name().encode(o);
            put_u48(o, 1000);
            o.extend_from_slice(&300u16.to_be_bytes());
            o.extend_from_slice(&0u16.to_be_bytes());
            o.extend_from_slice(&5u16.to_be_bytes());
            o.extend_from_slice(&error.0.to_be_bytes());
            o.extend_from_slice(&u16::try_from(other.len()).unwrap().to_be_bytes());
            o.extend_from_slice(other);
            Ok(())
        })
        .unwrap();
        m
    }

    #[test]
    fn known_answer_from_nsupdate() {
        let bytes = unhex(NSUPDATE_REQUEST);
        let key = key("hmac-sha256");
        let (msg, request) = verify_request(&bytes, &key, NSUPDATE_TIME).unwrap();
        assert_eq!(msg.header.opcode, Opcode::UPDATE);
        assert_eq!(request.id, 0xc698);
        assert_eq!(request.time_signed, NSUPDATE_TIME);
        // Re-signing the unsigned message at the same time gives BIND's bytes exactly.
        let offset = msg.tsig_offset().unwrap();
        let mut unsigned = bytes[..offset].to_vec();
        unsigned[11] -= 1;
        let ours = sign_request(&mut unsigned, &key, NSUPDATE_TIME).unwrap();
        assert_eq!(ours.mac, request.mac);
        assert_eq!(unsigned, bytes);
        // Outside the fudge, or with another secret, it fails with the right error.
        assert!(matches!(
            verify_request(&bytes, &key, NSUPDATE_TIME + 301),
            Err(TsigError::ClockSkew {
                skew: 301,
                fudge: 300,
                ..
            })
        ));
        let other = TsigKey::new(key.name.clone(), key.algorithm, b"wrong".to_vec()).unwrap();
        assert!(matches!(
            verify_request(&bytes, &other, NSUPDATE_TIME),
            Err(TsigError::MacMismatch { .. })
        ));
    }

    #[test]
    fn known_answers_from_named() {
        let key = key("hmac-sha256");
        let (_, request) = verify_request(&unhex(DIG_SOA_QUERY), &key, NAMED_TIME).unwrap();
        let answer =
            verify_response(&unhex(NAMED_SOA_ANSWER), &key, &request, NAMED_TIME + 1).unwrap();
        assert_eq!(answer.rcode(), Rcode::NOERROR);
        assert_eq!(
            answer.answers[0].to_string(),
            "farm. 300 IN SOA ns1.farm. hostmaster.farm. 1 7200 3600 1209600 300"
        );
        assert!(matches!(
            verify_response(&unhex(NAMED_SOA_ANSWER), &key, &request, NAMED_TIME + 400),
            Err(TsigError::ClockSkew { .. })
        ));
        let (_, request) = verify_request(&unhex(NSUPDATE_REQUEST_2), &key, NAMED_TIME).unwrap();
        let answer =
            verify_response(&unhex(NAMED_UPDATE_ANSWER), &key, &request, NAMED_TIME).unwrap();
        assert_eq!(answer.header.opcode, Opcode::UPDATE);
        assert_eq!(answer.rcode(), Rcode::NOERROR);
        // The SOA answer does not verify as the answer to the UPDATE.
        assert!(matches!(
            verify_response(&unhex(NAMED_SOA_ANSWER), &key, &request, NAMED_TIME),
            Err(TsigError::MacMismatch { .. })
        ));
    }

    #[test]
    fn sign_and_verify_every_algorithm() {
        let zone: Name = "farm.".parse().unwrap();
        for alg in ["hmac-sha1", "hmac-sha256", "HMAC-SHA384.", "hmac-sha512"] {
            let key = key(alg);
            let mut b = UpdateBuilder::new(zone.clone());
            b.add(&Record::new(
                "www.farm.".parse().unwrap(),
                60,
                RData::A("192.0.2.7".parse().unwrap()),
            ))
            .unwrap();
            let mut req = b.build(77).unwrap();
            let request = sign_request(&mut req, &key, 1_700_000_000).unwrap();
            assert_eq!(request.mac.len(), key.algorithm.mac_len());
            let (_, seen) = verify_request(&req, &key, 1_700_000_100).unwrap();
            assert_eq!(seen, request);
            let mut resp = response_to(&req);
            sign_response(&mut resp, &key, &request, 1_700_000_001).unwrap();
            let msg = verify_response(&resp, &key, &request, 1_700_000_002).unwrap();
            assert!(msg.tsig.is_some());
            // A response to another request does not verify.
            let other = RequestMac {
                mac: vec![0; request.mac.len()],
                ..request.clone()
            };
            assert!(matches!(
                verify_response(&resp, &key, &other, 1_700_000_002),
                Err(TsigError::MacMismatch { .. })
            ));
            // Any flipped bit before the TSIG record breaks the MAC.
            let mut tampered = resp.clone();
            tampered[3] ^= 0x01;
            assert!(verify_response(&tampered, &key, &request, 1_700_000_002).is_err());
        }
    }

    #[test]
    fn server_errors_map_to_variants() {
        let key = key("hmac-sha256");
        let req = RequestMac {
            id: 5,
            mac: vec![1; 32],
            time_signed: 1000,
        };
        let check = |error: Rcode, other: &[u8]| {
            verify_response(&error_response(&key, error, other), &key, &req, 1000).unwrap_err()
        };
        let e = check(Rcode::BADSIG, &[]);
        assert!(matches!(e, TsigError::BadSig { .. }));
        assert!(e.to_string().contains("secret"), "{e}");
        let e = check(Rcode::BADKEY, &[]);
        assert!(matches!(e, TsigError::BadKey { .. }));
        assert!(e.to_string().contains("key name"), "{e}");
        let e = check(Rcode::BADTIME, &[0, 0, 0, 0, 0x0b, 0xb8]);
        assert_eq!(
            e,
            TsigError::BadTime {
                server_time: 3000,
                client_time: 1000
            }
        );
        assert!(e.to_string().contains("clocks"), "{e}");
        assert_eq!(check(Rcode::BADTRUNC, &[]), TsigError::BadTrunc);
        assert!(matches!(
            check(Rcode(99), &[]),
            TsigError::OtherError { .. }
        ));
        // An unsigned answer.
        let plain = response_to(
            &Message::query(5, "farm.".parse().unwrap(), RecordType::Soa)
                .to_bytes()
                .unwrap(),
        );
        assert!(matches!(
            verify_response(&plain, &key, &req, 1000),
            Err(TsigError::Unsigned { .. })
        ));
        // Signed with another key.
        let other = TsigKey::from_base64("other.", "hmac-sha256", NSUPDATE_SECRET).unwrap();
        let mut resp = plain.clone();
        sign_response(&mut resp, &other, &req, 1000).unwrap();
        assert!(matches!(
            verify_response(&resp, &key, &req, 1000),
            Err(TsigError::WrongKey { .. })
        ));
    }

    #[test]
    fn truncated_macs() {
        let key = key("hmac-sha256");
        let mut req = Message::query(3, "farm.".parse().unwrap(), RecordType::Soa)
            .to_bytes()
            .unwrap();
        let full = key.mac(&[&req, &variables(&key, 10, 300, Rcode::NOERROR, &[])]);
        append_tsig(&mut req, &key, 10, 300, &full[..16], 3).unwrap();
        assert!(verify_request(&req, &key, 10).is_ok());
        let mut short = Message::query(3, "farm.".parse().unwrap(), RecordType::Soa)
            .to_bytes()
            .unwrap();
        append_tsig(&mut short, &key, 10, 300, &full[..15], 3).unwrap();
        assert_eq!(
            verify_request(&short, &key, 10).unwrap_err(),
            TsigError::MacTooShort { len: 15, min: 16 }
        );
    }

    #[test]
    fn short_input_is_an_error_not_a_panic() {
        let key = key("hmac-sha256");
        assert!(sign_request(&mut vec![0; 5], &key, 1).is_err());
        assert!(verify_request(&[0; 5], &key, 1).is_err());
    }
}
