//! Signing and verifying multi-message answers (a zone transfer), RFC 8945 §5.3.1.

use super::key::TsigError;
use super::key::{DEFAULT_FUDGE, TsigKey};
use super::sign::{RequestMac, append_tsig, prior, timers, variables, with_id};
use super::verify::{check_record, check_time, split_signed};
use crate::dns::message::{Message, Rcode};

/// Messages of a multi-message response that may come in a row without TSIG; the next must
/// be signed (RFC 8945 §5.3.1).
pub const MAX_UNSIGNED_IN_ROW: usize = 99;

/// Verifies the messages of one multi-message response, such as an AXFR over TCP
/// (RFC 8945 §5.3.1). The first message must be signed; later ones may go unsigned, at
/// most 99 in a row, and each signed one covers the previous MAC, the unsigned messages
/// since, and itself, with only the timers as variables. Call [`StreamVerifier::finish`]
/// after the last message.
#[derive(Debug, Clone)]
pub struct StreamVerifier {
    key: TsigKey,
    prior_mac: Vec<u8>,
    /// Unsigned messages since the last signed one, concatenated.
    unsigned: Vec<u8>,
    unsigned_count: usize,
    first: bool,
}

impl StreamVerifier {
    /// A verifier for the response to `request`.
    pub fn new(key: TsigKey, request: &RequestMac) -> Self {
        Self {
            key,
            prior_mac: request.mac.clone(),
            unsigned: Vec::new(),
            unsigned_count: 0,
            first: true,
        }
    }

    /// Verifies the next message and returns it parsed.
    pub fn verify(&mut self, bytes: &[u8], now: u64) -> Result<Message, TsigError> {
        let Some(signed) = split_signed(bytes)? else {
            let message = Message::parse(bytes)?;
            if self.first {
                return Err(TsigError::Unsigned {
                    rcode: message.rcode(),
                    key: self.key.name.clone(),
                });
            }
            self.unsigned_count += 1;
            if self.unsigned_count > MAX_UNSIGNED_IN_ROW {
                return Err(TsigError::TooManyUnsigned);
            }
            self.unsigned.extend_from_slice(bytes);
            return Ok(message);
        };
        check_record(&signed.message, &self.key)?;
        let Some(tsig) = &signed.message.tsig else {
            return Err(TsigError::UnsignedEnd);
        };
        let vars = if self.first {
            variables(
                &self.key,
                tsig.time_signed,
                tsig.fudge,
                tsig.error,
                &tsig.other,
            )
        } else {
            let mut v = Vec::with_capacity(8);
            timers(&mut v, tsig.time_signed, tsig.fudge);
            v
        };
        self.key.check_mac(
            &[
                &prior(&self.prior_mac),
                &self.unsigned,
                &signed.covered,
                &vars,
            ],
            &tsig.mac,
        )?;
        check_time(tsig.time_signed, tsig.fudge, now)?;
        self.prior_mac.clone_from(&tsig.mac);
        self.unsigned.clear();
        self.unsigned_count = 0;
        self.first = false;
        Ok(signed.message)
    }

    /// Checks that the last message verified was signed (RFC 8945 §5.3.1).
    pub fn finish(&self) -> Result<(), TsigError> {
        if self.first || self.unsigned_count > 0 {
            Err(TsigError::UnsignedEnd)
        } else {
            Ok(())
        }
    }
}

/// Signs the messages of a multi-message response (RFC 8945 §5.3.1), the counterpart of
/// [`StreamVerifier`]. For servers and tests.
#[derive(Debug, Clone)]
pub struct StreamSigner {
    key: TsigKey,
    request: RequestMac,
    prior_mac: Vec<u8>,
    unsigned: Vec<u8>,
    first: bool,
}

impl StreamSigner {
    /// A signer for the response to `request`.
    pub fn new(key: TsigKey, request: &RequestMac) -> Self {
        Self {
            key,
            request: request.clone(),
            prior_mac: request.mac.clone(),
            unsigned: Vec::new(),
            first: true,
        }
    }

    /// Records a message sent without TSIG.
    pub fn skip(&mut self, msg: &[u8]) {
        self.unsigned.extend_from_slice(msg);
    }

    /// Signs the next message in place.
    pub fn sign(&mut self, msg: &mut Vec<u8>, now: u64) -> Result<(), TsigError> {
        let vars = if self.first {
            variables(&self.key, now, DEFAULT_FUDGE, Rcode::NOERROR, &[])
        } else {
            let mut v = Vec::with_capacity(8);
            timers(&mut v, now, DEFAULT_FUDGE);
            v
        };
        let covered = with_id(msg, self.request.id);
        let mac = self
            .key
            .mac(&[&prior(&self.prior_mac), &self.unsigned, &covered, &vars]);
        append_tsig(msg, &self.key, now, DEFAULT_FUDGE, &mac, self.request.id)?;
        self.prior_mac = mac;
        self.unsigned.clear();
        self.first = false;
        Ok(())
    }
}

/// Verifies the response to a signed request (RFC 8945 §5.4): it must be signed with the
/// same key, carry no TSIG error, have a MAC over the request MAC, the message and the
/// variables (§4.3.1–§4.3.3), and a time within the fudge of `now`.
pub fn verify_response(
    bytes: &[u8],
    key: &TsigKey,
    request: &RequestMac,
    now: u64,
) -> Result<Message, TsigError> {
    let mut stream = StreamVerifier::new(key.clone(), request);
    stream.verify(bytes, now)
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{key, response_to};
    use super::super::sign::sign_request;
    use super::*;
    use crate::dns::rdata::RecordType;

    #[test]
    fn multi_message_stream() {
        let key = key("hmac-sha256");
        let mut query = Message::query(9, "farm.".parse().unwrap(), RecordType::Axfr)
            .to_bytes()
            .unwrap();
        let request = sign_request(&mut query, &key, 500).unwrap();
        let base = response_to(&query);
        let mut signer = StreamSigner::new(key.clone(), &request);
        let mut messages = Vec::new();
        // Signed, 3 unsigned, signed, 99 unsigned, signed.
        let plan: Vec<bool> = [true]
            .into_iter()
            .chain([false; 3])
            .chain([true])
            .chain([false; MAX_UNSIGNED_IN_ROW])
            .chain([true])
            .collect();
        for (i, sign) in plan.iter().enumerate() {
            let mut m = base.clone();
            m[1] = i as u8; // distinct IDs: the MAC covers the original ID
            if *sign {
                signer.sign(&mut m, 500 + i as u64).unwrap();
            } else {
                signer.skip(&m);
            }
            messages.push(m);
        }
        let mut v = StreamVerifier::new(key.clone(), &request);
        for m in &messages {
            v.verify(m, 550).unwrap();
        }
        v.finish().unwrap();

        // A message altered in the unsigned run is caught by the next signature.
        let mut v = StreamVerifier::new(key.clone(), &request);
        let mut altered = messages.clone();
        altered[2][3] ^= 0x10;
        let results: Vec<_> = altered.iter().map(|m| v.verify(m, 550)).collect();
        assert!(results[..4].iter().all(Result::is_ok));
        assert!(matches!(results[4], Err(TsigError::MacMismatch { .. })));

        // The first message must be signed.
        let mut v = StreamVerifier::new(key.clone(), &request);
        assert!(matches!(
            v.verify(&messages[1], 550),
            Err(TsigError::Unsigned { .. })
        ));

        // 100 unsigned in a row is too many; ending unsigned is an error.
        let mut v = StreamVerifier::new(key.clone(), &request);
        v.verify(&messages[0], 550).unwrap();
        for m in &messages[5..5 + MAX_UNSIGNED_IN_ROW] {
            v.verify(m, 550).unwrap();
        }
        assert_eq!(v.finish(), Err(TsigError::UnsignedEnd));
        assert_eq!(
            v.verify(&messages[1], 550).unwrap_err(),
            TsigError::TooManyUnsigned
        );
    }
}
