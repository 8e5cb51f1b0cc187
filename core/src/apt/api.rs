//! aptly 1.5's REST API as data: the objects it answers with, the bodies rack sends, the
//! paths (with aptly's escaping of publication prefixes), the multipart body of an
//! upload, and the checks of its answers. Pure: no I/O.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

/// Reads `null` (Go's empty slice) as an empty list.
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// A local repository (`GET /api/repos`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Repo {
    /// Its name.
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub comment: String,
    /// The distribution a publication of the repository uses unless told otherwise.
    #[serde(default)]
    pub default_distribution: String,
    /// The component a publication of the repository uses unless told otherwise.
    #[serde(default)]
    pub default_component: String,
}

/// One package as a listing with `format=details` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct Package {
    /// aptly's key, e.g. `Pamd64 hello 1.0 5f01e7ae5d5b0746`.
    #[serde(rename = "Key")]
    pub key: String,
    /// The package name.
    #[serde(rename = "Package", default)]
    pub name: String,
    /// Its version.
    #[serde(rename = "Version", default)]
    pub version: String,
    /// Its architecture (`all`, `amd64`, ...).
    #[serde(rename = "Architecture", default)]
    pub architecture: String,
    /// The sha256 of its .deb.
    #[serde(rename = "SHA256", default)]
    pub sha256: String,
    /// The .deb's file name.
    #[serde(rename = "Filename", default)]
    pub filename: String,
}

/// A snapshot (`GET /api/snapshots`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Snapshot {
    /// Its name.
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// What it was made from: `local` (a repository), `snapshot` (packages or other
    /// snapshots) or `repo` (a mirror).
    #[serde(default)]
    pub source_kind: String,
}

/// One component of a publication and what it publishes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Source {
    /// The component, e.g. `main` or `profile/appserver`.
    pub component: String,
    /// The snapshot's or local repository's name.
    pub name: String,
}

/// A published distribution (`GET /api/publish`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Publication {
    /// Where under the public tree, `.` for its root.
    pub prefix: String,
    /// The distribution.
    pub distribution: String,
    /// `snapshot` or `local`.
    #[serde(default)]
    pub source_kind: String,
    /// The components and what they publish.
    #[serde(default, deserialize_with = "nullable")]
    pub sources: Vec<Source>,
    /// The architectures published.
    #[serde(default, deserialize_with = "nullable")]
    pub architectures: Vec<String>,
    /// Release's `Origin`.
    #[serde(default)]
    pub origin: String,
    /// Release's `Label`.
    #[serde(default)]
    pub label: String,
    /// Release's `NotAutomatic` (`yes` or empty).
    #[serde(default)]
    pub not_automatic: String,
    /// Release's `ButAutomaticUpgrades` (`yes` or empty).
    #[serde(default)]
    pub but_automatic_upgrades: String,
    /// Whether indexes are also served by hash.
    #[serde(default)]
    pub acquire_by_hash: bool,
}

impl Publication {
    /// The components and what they publish, by component.
    pub fn components(&self) -> BTreeMap<String, String> {
        self.sources
            .iter()
            .map(|s| (s.component.clone(), s.name.clone()))
            .collect()
    }
}

/// How a publication is signed. Names a key in aptly's own keyring and a file on the aptly
/// host holding its passphrase: rack never holds key material, and never sends aptly's
/// `Passphrase` field, which aptly hands to gpg on its command line where every user of
/// the host sees it in `ps`. This type has no field for it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Signing {
    /// Publish unsigned.
    pub skip: bool,
    /// The signing key's ID or fingerprint; aptly's default key when `None`.
    pub key_id: Option<String>,
    /// The path, on the aptly host, of a file holding the key's passphrase.
    pub passphrase_file: Option<String>,
}

/// The `Signing` object of a publish request.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct SigningBody<'a> {
    skip: bool,
    batch: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    gpg_key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    passphrase_file: Option<&'a str>,
}

impl Signing {
    fn body(&self) -> SigningBody<'_> {
        if self.skip {
            return SigningBody {
                skip: true,
                batch: true,
                gpg_key: None,
                passphrase_file: None,
            };
        }
        SigningBody {
            skip: false,
            batch: true,
            gpg_key: self.key_id.as_deref(),
            passphrase_file: self.passphrase_file.as_deref(),
        }
    }
}

/// What a new publication holds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewPublication {
    /// Where under the public tree, `.` for its root.
    pub prefix: String,
    /// The distribution.
    pub distribution: String,
    /// `snapshot` or `local`.
    pub source_kind: String,
    /// The components and what they publish.
    pub sources: Vec<Source>,
    /// The architectures; aptly finds them in the packages when empty.
    pub architectures: Vec<String>,
    /// Release's `Origin`.
    pub origin: String,
    /// Release's `Label`.
    pub label: String,
    /// Release's `NotAutomatic: yes`.
    pub not_automatic: bool,
    /// Release's `ButAutomaticUpgrades: yes`.
    pub but_automatic_upgrades: bool,
    /// Serve indexes by hash too.
    pub acquire_by_hash: bool,
    /// How to sign.
    pub signing: Signing,
}

fn yes(flag: bool) -> &'static str {
    if flag { "yes" } else { "" }
}

impl NewPublication {
    /// The body of `POST /api/publish/{prefix}`.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({
            "SourceKind": self.source_kind,
            "Sources": self.sources,
            "Distribution": self.distribution,
            "Architectures": self.architectures,
            "Origin": self.origin,
            "Label": self.label,
            "NotAutomatic": yes(self.not_automatic),
            "ButAutomaticUpgrades": yes(self.but_automatic_upgrades),
            "AcquireByHash": self.acquire_by_hash,
            "Signing": self.signing.body(),
        })
    }
}

/// The body of `PUT /api/publish/{prefix}/{distribution}`: switches snapshot components
/// (`sources` given) or re-publishes a local repository's current content (`None`).
pub fn switch_body(
    sources: Option<&[Source]>,
    acquire_by_hash: bool,
    signing: &Signing,
) -> serde_json::Value {
    let mut body = serde_json::json!({
        "AcquireByHash": acquire_by_hash,
        "Signing": signing.body(),
    });
    if let (Some(sources), Some(obj)) = (sources, body.as_object_mut()) {
        obj.insert("Snapshots".into(), serde_json::json!(sources));
    }
    body
}

/// The body of `POST /api/repos` and `PUT /api/repos/{name}` (a new name renames it).
pub fn repo_body(repo: &Repo) -> serde_json::Value {
    serde_json::json!({
        "Name": repo.name,
        "Comment": repo.comment,
        "DefaultDistribution": repo.default_distribution,
        "DefaultComponent": repo.default_component,
    })
}

/// The body of `POST /api/snapshots`: a snapshot of `keys`, taken from `sources`.
pub fn snapshot_body(
    name: &str,
    description: &str,
    sources: &[String],
    keys: &[String],
) -> serde_json::Value {
    serde_json::json!({
        "Name": name,
        "Description": description,
        "SourceSnapshots": sources,
        "PackageRefs": keys,
    })
}

/// The body naming package keys (`PackageRefs`), to remove them from a repository.
pub fn refs_body(keys: &[String]) -> serde_json::Value {
    serde_json::json!({ "PackageRefs": keys })
}

/// Escapes a path segment (a repository, snapshot, distribution or file name) for a URL.
pub fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~+".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A publication prefix as aptly's publish paths take it: `_` stands for `/` (a literal
/// `_` is `__`), and the root `.` is `:.` (a bare `.` is cleaned out of the path by the
/// HTTP router, which then redirects).
pub fn prefix_segment(prefix: &str) -> String {
    let p = prefix.trim_matches('/');
    if p.is_empty() || p == "." {
        return ":.".to_owned();
    }
    segment(&p.replace('_', "__").replace('/', "_"))
}

/// The prefix as aptly reports it: `.` for the root, no slashes around it.
pub fn normal_prefix(prefix: &str) -> String {
    let p = prefix.trim_matches('/');
    if p.is_empty() {
        ".".to_owned()
    } else {
        p.to_owned()
    }
}

/// Escapes a query-string value (an aptly package query, e.g. `Name (hello)`).
pub fn query_escape(q: &str) -> String {
    let mut out = String::with_capacity(q.len());
    for b in q.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A multipart/form-data body carrying `files` (name, content), each as a field `file`
/// (aptly's upload takes every file of the form), and its content type.
pub fn multipart_files(files: &[(&str, &[u8])], boundary: &str) -> (Vec<u8>, String) {
    let size: usize = files.iter().map(|(_, c)| c.len() + 256).sum();
    let mut body = Vec::with_capacity(size + 64);
    for (file_name, content) in files {
        let safe: String = file_name
            .chars()
            .map(|c| if c == '"' || c.is_control() { '_' } else { c })
            .collect();
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{safe}\"\r\n\
                 Content-Type: application/vnd.debian.binary-package\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (body, format!("multipart/form-data; boundary={boundary}"))
}

/// aptly's answer to adding uploaded files to a repository.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AddAnswer {
    /// Files aptly could not add.
    #[serde(rename = "FailedFiles", default, deserialize_with = "nullable")]
    pub failed_files: Vec<String>,
    /// What it did.
    #[serde(rename = "Report", default)]
    pub report: AddReport,
}

/// The `Report` of an add.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AddReport {
    /// Why files failed, among other warnings.
    #[serde(rename = "Warnings", default, deserialize_with = "nullable")]
    pub warnings: Vec<String>,
    /// Packages added.
    #[serde(rename = "Added", default, deserialize_with = "nullable")]
    pub added: Vec<String>,
    /// Packages removed.
    #[serde(rename = "Removed", default, deserialize_with = "nullable")]
    pub removed: Vec<String>,
}

impl AddAnswer {
    /// `Err` with aptly's report when the file `file_name` of a batch failed (aptly lists
    /// failed files by their path in the upload directory), with the warnings that name
    /// it (all of them when none does).
    pub fn check_file(&self, file_name: &str) -> Result<(), String> {
        let failed = |f: &String| f == file_name || f.ends_with(&format!("/{file_name}"));
        let Some(path) = self.failed_files.iter().find(|f| failed(f)) else {
            return Ok(());
        };
        let mut report = format!("failed files: {path}");
        let mut warnings: Vec<&String> = self
            .report
            .warnings
            .iter()
            .filter(|w| w.contains(file_name))
            .collect();
        if warnings.is_empty() {
            warnings = self.report.warnings.iter().collect();
        }
        for w in warnings {
            report.push_str("; ");
            report.push_str(w);
        }
        Err(report)
    }

    /// `Err` with aptly's report when any file failed: aptly answers HTTP 200 then too.
    pub fn check(&self) -> Result<(), String> {
        if self.failed_files.is_empty() {
            return Ok(());
        }
        let mut report = format!("failed files: {}", self.failed_files.join(", "));
        if !self.report.warnings.is_empty() {
            report.push_str("; ");
            report.push_str(&self.report.warnings.join("; "));
        }
        Err(report)
    }
}

/// Why a file is not a Debian binary package, judged by its first bytes (an `ar` archive
/// whose first member is `debian-binary`), or `None` when it looks like one.
pub fn not_a_deb(head: &[u8]) -> Option<&'static str> {
    if !head.starts_with(b"!<arch>\n") {
        return Some("it is not an ar archive (a .deb starts with `!<arch>`)");
    }
    if head.len() < 8 + 16 || !head[8..8 + 16].starts_with(b"debian-binary") {
        return Some("its first member is not `debian-binary`");
    }
    None
}

/// The error message of an aptly answer: its `error` field, or the body's start.
pub fn error_message(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct ErrorBody {
        error: String,
    }
    if let Ok(e) = serde_json::from_slice::<ErrorBody>(body) {
        return e.error;
    }
    if let Ok(list) = serde_json::from_slice::<Vec<ErrorBody>>(body)
        && !list.is_empty()
    {
        return list
            .into_iter()
            .map(|e| e.error)
            .collect::<Vec<_>>()
            .join("; ");
    }
    let text = String::from_utf8_lossy(body);
    text.chars().take(300).collect()
}

/// A component name aptly and apt both accept: not empty, no whitespace, no `..`, not
/// starting or ending with `/`.
pub fn component_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("it is empty")
    } else if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("it holds whitespace, which apt's sources cannot express")
    } else if name.starts_with('/') || name.ends_with('/') || name.contains("//") {
        Some("it starts or ends with `/` or has an empty part")
    } else if name.split('/').any(|p| p == "." || p == "..") {
        Some("it has a `.` or `..` part")
    } else {
        None
    }
}

/// A repository, snapshot or distribution name aptly stores and paths can carry.
pub fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("it is empty")
    } else if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("it holds whitespace")
    } else if name.contains('/') {
        Some("it holds `/`")
    } else {
        None
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_escaped_as_aptly_reads_them() {
        assert_eq!(prefix_segment("."), ":.");
        assert_eq!(prefix_segment(""), ":.");
        assert_eq!(prefix_segment("debian"), "debian");
        assert_eq!(prefix_segment("ops/main"), "ops_main");
        assert_eq!(prefix_segment("my_repo/x"), "my__repo_x");
        assert_eq!(normal_prefix("/ops/"), "ops");
        assert_eq!(normal_prefix(""), ".");
        assert_eq!(segment("profile/lb x"), "profile%2Flb%20x");
    }

    #[test]
    fn signing_never_carries_a_passphrase() {
        let s = Signing {
            skip: false,
            key_id: Some("C7D4D3FABE68AD8A".into()),
            passphrase_file: Some("/etc/aptly/pass".into()),
        };
        let body = NewPublication {
            prefix: ".".into(),
            distribution: "stable".into(),
            source_kind: "snapshot".into(),
            sources: vec![Source {
                component: "main".into(),
                name: "s1".into(),
            }],
            acquire_by_hash: true,
            signing: s.clone(),
            ..NewPublication::default()
        }
        .body();
        let text = body.to_string();
        assert!(!text.contains("\"Passphrase\""), "{text}");
        assert_eq!(body["Signing"]["PassphraseFile"], "/etc/aptly/pass");
        assert_eq!(body["Signing"]["GpgKey"], "C7D4D3FABE68AD8A");
        assert_eq!(body["Signing"]["Batch"], true);
        assert_eq!(body["NotAutomatic"], "");
        let skip = switch_body(None, false, &Signing { skip: true, ..s });
        assert_eq!(skip["Signing"]["Skip"], true);
        assert!(skip["Signing"].get("GpgKey").is_none());
        assert!(skip.get("Snapshots").is_none());
        let switch = switch_body(
            Some(&[Source {
                component: "profile/lb".into(),
                name: "s2".into(),
            }]),
            true,
            &Signing::default(),
        );
        assert_eq!(switch["Snapshots"][0]["Component"], "profile/lb");
    }

    #[test]
    fn failed_files_in_a_200_answer_are_an_error() {
        let ok: AddAnswer = serde_json::from_str(
            r#"{"FailedFiles":[],"Report":{"Warnings":[],"Added":["hello_1.0_all added"],"Removed":[]}}"#,
        )
        .unwrap();
        assert!(ok.check().is_ok());
        let failed: AddAnswer = serde_json::from_str(
            r#"{"FailedFiles":["/r/upload/x/bad.deb"],"Report":{"Warnings":["Unable to read file /r/upload/x/bad.deb: ar: missing global header"],"Added":[],"Removed":[]}}"#,
        )
        .unwrap();
        let e = failed.check().unwrap_err();
        assert!(
            e.contains("bad.deb") && e.contains("missing global header"),
            "{e}"
        );
        let e = failed.check_file("bad.deb").unwrap_err();
        assert!(e.contains("missing global header"), "{e}");
        assert!(failed.check_file("good.deb").is_ok());
        let null_lists: AddAnswer =
            serde_json::from_str(r#"{"FailedFiles":null,"Report":{"Warnings":null}}"#).unwrap();
        assert!(null_lists.check().is_ok());
    }

    #[test]
    fn objects_read_from_aptly_answers() {
        let p: Vec<Publication> = serde_json::from_str(
            r#"[{"AcquireByHash":true,"Architectures":["amd64"],"ButAutomaticUpgrades":"","Distribution":"stable","Label":"L","NotAutomatic":"","Origin":"o","Path":"./stable","Prefix":".","SkipContents":false,"SourceKind":"snapshot","Sources":[{"Component":"profile/appserver","Name":"main-1"}],"Storage":"","Suite":""}]"#,
        )
        .unwrap();
        assert_eq!(p[0].components()["profile/appserver"], "main-1");
        let pk: Vec<Package> = serde_json::from_str(
            r#"[{"Architecture":"all","Filename":"hello_1.0_all.deb","Key":"Pall hello 1.0 5f01e7ae5d5b0746","Package":"hello","SHA256":"63","Version":"1.0"}]"#,
        )
        .unwrap();
        assert_eq!(pk[0].name, "hello");
        assert_eq!(pk[0].key, "Pall hello 1.0 5f01e7ae5d5b0746");
        assert_eq!(
            error_message(br#"{"error":"snapshot is published"}"#),
            "snapshot is published"
        );
        assert_eq!(error_message(b"plain"), "plain");
    }

    #[test]
    fn debs_are_recognised_by_their_head() {
        let mut deb =
            b"!<arch>\ndebian-binary   1342943816  0     0     100644  4         `\n2.0\n".to_vec();
        assert_eq!(not_a_deb(&deb), None);
        deb[8] = b'x';
        assert!(not_a_deb(&deb).is_some());
        assert!(not_a_deb(b"notadeb\n").is_some());
    }

    #[test]
    fn names_and_components_are_checked() {
        assert_eq!(component_problem("profile/appserver"), None);
        assert!(component_problem("pro file").is_some());
        assert!(component_problem("/main").is_some());
        assert!(component_problem("a/../b").is_some());
        assert_eq!(name_problem("main-1"), None);
        assert!(name_problem("a b").is_some());
        assert!(name_problem("a/b").is_some());
    }

    #[test]
    fn multipart_body_frames_several_files() {
        let (body, _) = multipart_files(&[("a.deb", b"AA"), ("b.deb", b"BB")], "bnd");
        let text = String::from_utf8(body).unwrap();
        assert_eq!(text.matches("name=\"file\"").count(), 2);
        assert!(text.contains("filename=\"a.deb\""));
        assert!(text.contains("\r\n\r\nAA\r\n--bnd\r\n"));
        assert!(text.ends_with("\r\n\r\nBB\r\n--bnd--\r\n"));
    }

    #[test]
    fn multipart_body_frames_the_file() {
        let (body, ct) = multipart_files(&[("hello_1.0_all.deb", b"DATA")], "b0undary");
        assert_eq!(ct, "multipart/form-data; boundary=b0undary");
        let text = String::from_utf8(body).unwrap();
        assert!(text.starts_with("--b0undary\r\n"));
        assert!(text.contains("filename=\"hello_1.0_all.deb\""));
        assert!(
            text.ends_with("\r\nDATA\r\n--b0undary--\r\n")
                || text.contains("\r\n\r\nDATA\r\n--b0undary--\r\n")
        );
    }
}
