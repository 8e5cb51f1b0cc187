//! JSON-RPC 1.0 as OVSDB uses it (RFC 7047 section 4): requests, responses and
//! notifications, and the framing of a byte stream that carries them as concatenated
//! JSON texts with no delimiter. No I/O.

use serde_json::{Value, json};

use super::OvsdbError;

/// The most bytes one message may take before the stream is treated as broken: a
/// 48-port switch's whole Bridge, Port and Interface tables are well under 1 MiB.
pub const MAX_MESSAGE: usize = 64 * 1024 * 1024;

/// One message from the server.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// The answer to request `id`: its `result`, or its `error` when not null.
    Response {
        /// The request's id.
        id: u64,
        /// The result (null on error).
        result: Value,
        /// The error (null on success).
        error: Value,
    },
    /// A request of the server's (`echo` is the one it sends unasked).
    Request {
        /// The method.
        method: String,
        /// Its params.
        params: Value,
        /// Its id, echoed back in the answer.
        id: Value,
    },
    /// A notification (`update` of a monitor, `locked`, ...), not answered.
    Notification {
        /// The method.
        method: String,
        /// Its params.
        params: Value,
    },
}

/// Request `id` calling `method` with `params` (section 4.1), as bytes to send.
pub fn request(id: u64, method: &str, params: Value) -> Vec<u8> {
    json!({"method": method, "params": params, "id": id})
        .to_string()
        .into_bytes()
}

/// The answer to the server's `echo` request (section 4.1.11): its params as the result.
pub fn echo_reply(id: &Value, params: &Value) -> Vec<u8> {
    json!({"id": id, "result": params, "error": null})
        .to_string()
        .into_bytes()
}

/// Classifies one JSON text the server sent.
pub fn classify(v: Value) -> Result<Message, OvsdbError> {
    let Value::Object(mut m) = v else {
        return Err(OvsdbError::Protocol(format!("not a JSON object: {v}")));
    };
    let method = m.remove("method");
    let id = m.remove("id").unwrap_or(Value::Null);
    match method {
        Some(Value::String(method)) => {
            let params = m.remove("params").unwrap_or(Value::Null);
            if id.is_null() {
                Ok(Message::Notification { method, params })
            } else {
                Ok(Message::Request { method, params, id })
            }
        }
        Some(other) => Err(OvsdbError::Protocol(format!(
            "a method that is not a string: {other}"
        ))),
        None => {
            let id = id
                .as_u64()
                .ok_or_else(|| OvsdbError::Protocol(format!("a response with id {id}")))?;
            Ok(Message::Response {
                id,
                result: m.remove("result").unwrap_or(Value::Null),
                error: m.remove("error").unwrap_or(Value::Null),
            })
        }
    }
}

/// Splits a byte stream into JSON texts as they complete. Feed it what the socket gives,
/// in pieces of any size; a text split across reads comes out once its last byte arrived.
#[derive(Debug, Default)]
pub struct Framer {
    buf: Vec<u8>,
}

impl Framer {
    /// Appends `bytes` and returns every JSON text now complete, in order.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<Value>, OvsdbError> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        let mut stream = serde_json::Deserializer::from_slice(&self.buf).into_iter::<Value>();
        let consumed = loop {
            let before = stream.byte_offset();
            match stream.next() {
                Some(Ok(v)) => out.push(v),
                None => break stream.byte_offset(),
                Some(Err(e)) if e.is_eof() => break before,
                Some(Err(e)) => {
                    return Err(OvsdbError::Protocol(format!(
                        "malformed JSON from the server: {e}"
                    )));
                }
            }
        };
        self.buf.drain(..consumed);
        if self.buf.len() > MAX_MESSAGE {
            return Err(OvsdbError::Protocol(format!(
                "a message longer than {MAX_MESSAGE} bytes"
            )));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concatenated_texts_split_anywhere_come_out_whole() {
        let stream = br#"{"id":1,"result":[{}],"error":null}{"method":"echo","params":[],"id":"echo"}  {"id":2,"result":{"a":"}{"},"error":null}"#;
        for cut in 0..stream.len() {
            let mut f = Framer::default();
            let mut all = f.push(&stream[..cut]).unwrap();
            all.extend(f.push(&stream[cut..]).unwrap());
            assert_eq!(all.len(), 3, "cut at {cut}");
            assert_eq!(all[2]["result"]["a"], "}{");
        }
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(Framer::default().push(b"{\"id\":1}]").is_err());
    }

    #[test]
    fn messages_are_classified() {
        let echo = classify(json!({"method":"echo","params":["x"],"id":"echo"})).unwrap();
        assert!(matches!(echo, Message::Request { ref method, .. } if method == "echo"));
        let resp = classify(json!({"id":7,"result":[],"error":null})).unwrap();
        assert!(matches!(resp, Message::Response { id: 7, .. }));
        let upd = classify(json!({"method":"update","params":[null,{}],"id":null})).unwrap();
        assert!(matches!(upd, Message::Notification { .. }));
        let reply: Value =
            serde_json::from_slice(&echo_reply(&json!("echo"), &json!(["x"]))).unwrap();
        assert_eq!(reply, json!({"id":"echo","result":["x"],"error":null}));
    }
}
