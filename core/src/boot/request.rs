//! The requests rack sends to a provisioning server and what their answers mean. Pure:
//! [`crate::boot::BootClient`] sends them.
//!
//! - PUT (RFC 4918 §9.7, RFC 9110 §9.3.4): the file's whole content; `201 Created` or
//!   `204 No Content` (nginx answers 204 when it replaced a file).
//! - GET (RFC 9110 §9.3.1): `200` with the content, `404` when there is no file.
//! - DELETE (RFC 4918 §9.6): `204` (or `200`); `404` counts as done.
//! - GET of a directory (its URL ends in `/`): `200` with its listing (see
//!   [`super::listing`]), `404` when there is no such directory; `403` is what nginx
//!   answers when it does not list directories there.
//!
//! Every request carries HTTP basic authentication (RFC 7617) when a user is
//! configured, so a server that restricts reads too works as well as one that serves
//! GET to anyone.

use std::fmt;

use base64::Engine;
use sha2::{Digest, Sha256};

use super::BootError;
use super::path::{BaseUrl, BootPath};
use crate::kea::Secret;

/// The methods rack uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Method {
    /// Writes a file.
    Put,
    /// Reads a file.
    Get,
    /// Removes a file.
    Delete,
    /// Reads a directory's listing (a GET of the directory's URL).
    List,
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Method::Put => "PUT",
            Method::Get | Method::List => "GET",
            Method::Delete => "DELETE",
        })
    }
}

/// One request, without its body.
#[derive(Clone, PartialEq, Eq)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The file's URL.
    pub url: String,
    /// The `Authorization` header's value, when a user is configured.
    pub authorization: Option<Secret>,
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("url", &self.url)
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl Request {
    /// `method` on `path` below `base`, as `username` with `password` when a user is
    /// given.
    pub fn new(
        method: Method,
        base: &BaseUrl,
        path: &BootPath,
        credentials: Option<(&str, &Secret)>,
    ) -> Self {
        Self {
            method,
            url: base.join(path),
            authorization: credentials.map(|(user, password)| basic_auth(user, password)),
        }
    }

    /// The listing of directory `dir` below `base` (`None`: `base` itself).
    pub fn listing(
        base: &BaseUrl,
        dir: Option<&BootPath>,
        credentials: Option<(&str, &Secret)>,
    ) -> Self {
        Self {
            method: Method::List,
            url: match dir {
                Some(d) => format!("{}/", base.join(d)),
                None => base.as_str().to_owned(),
            },
            authorization: credentials.map(|(user, password)| basic_auth(user, password)),
        }
    }
}

/// The `Authorization` value of basic authentication (RFC 7617 §2): `Basic` and the
/// base64 of `user:password`.
pub fn basic_auth(user: &str, password: &Secret) -> Secret {
    let pair = format!("{user}:{}", password.expose());
    Secret::new(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    ))
}

/// What an answer means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The write or delete was done, or the GET found the file.
    Done,
    /// There is no such file (GET), or it was gone already (DELETE).
    Missing,
}

/// What status `status` means as the answer to `req`, whose body was `size` bytes (for
/// PUT) and whose user was `username`; `body` is the start of the answer's body, for an
/// unexpected answer.
pub fn interpret(
    req: &Request,
    status: u16,
    username: &str,
    size: u64,
    body: &str,
) -> Result<Outcome, BootError> {
    let (method, url) = (req.method, req.url.clone());
    match (method, status) {
        (Method::Put, 200 | 201 | 204)
        | (Method::Get | Method::List, 200)
        | (Method::Delete, 200 | 204) => Ok(Outcome::Done),
        (Method::Get | Method::Delete | Method::List, 404 | 410) => Ok(Outcome::Missing),
        (Method::List, 403 | 405) => Err(BootError::NoListing { url }),
        (_, 401) => Err(BootError::Unauthorized {
            method,
            url,
            username: username.to_owned(),
        }),
        (_, 403) => Err(BootError::Forbidden { method, url }),
        (_, 405 | 501) => Err(BootError::NotAllowed {
            method,
            url,
            status,
        }),
        (Method::Put, 409) => Err(BootError::NoParent { url }),
        (Method::Put, 413) => Err(BootError::TooLarge { url, size }),
        _ => Err(BootError::Status {
            method,
            url,
            status,
            body: body.trim().to_owned(),
        }),
    }
}

/// The SHA-256 of `bytes`, in lower-case hex (as Terraform's `sha256` and `filesha256`).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lower-case hex of `bytes`.
pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn req(method: Method) -> Request {
        let base = BaseUrl::parse("http://127.0.0.1:8080/boot/").unwrap();
        let path = BootPath::parse("ztp/tor1.sh").unwrap();
        Request::new(method, &base, &path, Some(("rack", &Secret::new("pw"))))
    }

    #[test]
    fn requests_carry_the_url_and_basic_auth() {
        let r = req(Method::Put);
        assert_eq!(r.url, "http://127.0.0.1:8080/boot/ztp/tor1.sh");
        // RFC 7617 §2's own example.
        assert_eq!(
            basic_auth("Aladdin", &Secret::new("open sesame")).expose(),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(
            r.authorization.as_ref().map(Secret::expose),
            Some("Basic cmFjazpwdw==")
        );
        assert!(!format!("{r:?}").contains("cmFjazpwdw"));
        let base = BaseUrl::parse("http://h/").unwrap();
        let anon = Request::new(Method::Get, &base, &BootPath::parse("a").unwrap(), None);
        assert!(anon.authorization.is_none());
        let root = Request::listing(&base, None, Some(("rack", &Secret::new("pw"))));
        assert_eq!(
            (root.method, root.url.as_str()),
            (Method::List, "http://h/")
        );
        assert!(root.authorization.is_some());
        let dir = BootPath::parse("ztp/pod1").unwrap();
        let sub = Request::listing(&base, Some(&dir), None);
        assert_eq!(sub.url, "http://h/ztp/pod1/");
        assert_eq!(sub.method.to_string(), "GET");
    }

    #[test]
    fn answers_mean_what_webdav_says() {
        let ok = |m, s| interpret(&req(m), s, "rack", 5, "").unwrap();
        assert_eq!(ok(Method::Put, 201), Outcome::Done);
        assert_eq!(ok(Method::Put, 204), Outcome::Done);
        assert_eq!(ok(Method::Get, 200), Outcome::Done);
        assert_eq!(ok(Method::Get, 404), Outcome::Missing);
        assert_eq!(ok(Method::Delete, 204), Outcome::Done);
        assert_eq!(ok(Method::Delete, 404), Outcome::Missing);
        let fail = |m, s| interpret(&req(m), s, "rack", 5, " <html>x</html>\n").unwrap_err();
        let e = fail(Method::Put, 401).to_string();
        assert!(
            e.contains("credentials of user \"rack\"") && e.contains("401"),
            "{e}"
        );
        assert!(matches!(
            fail(Method::Delete, 403),
            BootError::Forbidden { .. }
        ));
        let e = fail(Method::Put, 405).to_string();
        assert!(e.contains("dav_methods"), "{e}");
        assert!(
            fail(Method::Put, 409)
                .to_string()
                .contains("create_full_put_path")
        );
        assert!(fail(Method::Put, 413).to_string().contains("5 bytes"));
        assert!(matches!(
            fail(Method::Put, 404),
            BootError::Status { status: 404, .. }
        ));
        assert_eq!(ok(Method::List, 200), Outcome::Done);
        assert_eq!(ok(Method::List, 404), Outcome::Missing);
        let e = fail(Method::List, 403).to_string();
        assert!(e.contains("autoindex_format json"), "{e}");
        assert!(matches!(
            fail(Method::List, 401),
            BootError::Unauthorized { .. }
        ));
        let e = fail(Method::Get, 500).to_string();
        assert!(
            e.ends_with("GET http://127.0.0.1:8080/boot/ztp/tor1.sh: <html>x</html>"),
            "{e}"
        );
    }

    #[test]
    fn sha256_is_lower_case_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
