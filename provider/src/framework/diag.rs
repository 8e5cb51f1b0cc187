//! Diagnostics and attribute paths.
//!
//! Every error a user sees goes through here: a one-sentence summary, a detail that says
//! what to do, and, when a configuration value caused it, the attribute path so Terraform
//! can point at the offending line.

use std::fmt;

/// One step of an [`AttributePath`].
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathStep {
    /// An attribute or nested block of an object.
    Attribute(String),
    /// An element of a map, by key.
    Key(String),
    /// An element of a list or tuple, by index.
    Index(i64),
}

/// A path to a value inside a configuration, plan or state.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AttributePath(pub Vec<PathStep>);

impl AttributePath {
    /// The empty path: the whole object.
    pub fn root() -> Self {
        Self(Vec::new())
    }

    /// A path of one top-level attribute.
    pub fn attr(name: impl Into<String>) -> Self {
        Self(vec![PathStep::Attribute(name.into())])
    }

    /// This path extended by an attribute step.
    #[must_use]
    pub fn join_attr(&self, name: impl Into<String>) -> Self {
        let mut steps = self.0.clone();
        steps.push(PathStep::Attribute(name.into()));
        Self(steps)
    }

    /// This path extended by a map-key step.
    #[must_use]
    pub fn join_key(&self, key: impl Into<String>) -> Self {
        let mut steps = self.0.clone();
        steps.push(PathStep::Key(key.into()));
        Self(steps)
    }

    /// This path extended by a list-index step.
    #[must_use]
    pub fn join_index(&self, index: usize) -> Self {
        let mut steps = self.0.clone();
        steps.push(PathStep::Index(i64::try_from(index).unwrap_or(i64::MAX)));
        Self(steps)
    }

    /// Whether the path has no steps.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for AttributePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                PathStep::Attribute(name) if i == 0 => write!(f, "{name}")?,
                PathStep::Attribute(name) => write!(f, ".{name}")?,
                PathStep::Key(key) => write!(f, "[{key:?}]")?,
                PathStep::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// The operation failed.
    Error,
    /// The operation went on; the user should know.
    Warning,
}

/// One message for the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// One sentence: what went wrong.
    pub summary: String,
    /// The cause, and what the user can do.
    pub detail: String,
    /// The configuration value that caused it, if one did.
    pub attribute: Option<AttributePath>,
}

impl Diagnostic {
    /// An import ID that does not have the resource's form; `usage` says what it is.
    pub fn invalid_import_id(id: &str, usage: impl Into<String>) -> Self {
        Self::error(format!("Invalid import ID {id:?}"), usage)
    }

    /// An error diagnostic.
    pub fn error(summary: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            summary: summary.into(),
            detail: detail.into(),
            attribute: None,
        }
    }

    /// A warning diagnostic.
    pub fn warning(summary: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            summary: summary.into(),
            detail: detail.into(),
            attribute: None,
        }
    }

    /// Attaches the attribute path of the value that caused this diagnostic.
    #[must_use]
    pub fn at(mut self, path: AttributePath) -> Self {
        self.attribute = Some(path);
        self
    }

    /// A diagnostic from an error chain: the summary is the top error's message, the detail
    /// is the whole chain joined with ": ", followed by `hint` (what the user can do).
    pub fn from_error(error: &(dyn std::error::Error + 'static), hint: &str) -> Self {
        let summary = error.to_string();
        let mut chain = vec![summary.clone()];
        let mut source = error.source();
        while let Some(cause) = source {
            chain.push(cause.to_string());
            source = cause.source();
        }
        let mut detail = chain.join(": ");
        if !hint.is_empty() {
            detail.push_str("\n\n");
            detail.push_str(hint);
        }
        Self::error(summary, detail)
    }
}

/// An ordered collection of diagnostics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnostics(Vec<Diagnostic>);

impl Diagnostics {
    /// No diagnostics.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one diagnostic.
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.0.push(diagnostic);
    }

    /// Adds an error.
    pub fn error(&mut self, summary: impl Into<String>, detail: impl Into<String>) {
        self.push(Diagnostic::error(summary, detail));
    }

    /// Adds an error that points at a configuration value.
    pub fn error_at(
        &mut self,
        path: AttributePath,
        summary: impl Into<String>,
        detail: impl Into<String>,
    ) {
        self.push(Diagnostic::error(summary, detail).at(path));
    }

    /// Adds a warning.
    pub fn warning(&mut self, summary: impl Into<String>, detail: impl Into<String>) {
        self.push(Diagnostic::warning(summary, detail));
    }

    /// Adds every diagnostic of `other`.
    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }

    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity == Severity::Error)
    }

    /// Whether there are no diagnostics at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The diagnostics, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter()
    }

    /// Consumes the collection.
    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.0
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Self(vec![d])
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("Cannot reach the DNS server")]
    struct Outer(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("connection refused")]
    struct Inner;

    #[test]
    fn error_chain_becomes_summary_and_detail() {
        let d = Diagnostic::from_error(&Outer(Inner), "Check the server address.");
        assert_eq!(d.summary, "Cannot reach the DNS server");
        assert_eq!(
            d.detail,
            "Cannot reach the DNS server: connection refused\n\nCheck the server address."
        );
        assert_eq!(d.severity, Severity::Error);
    }

    #[test]
    fn path_display() {
        let p = AttributePath::attr("records")
            .join_index(2)
            .join_attr("data");
        assert_eq!(p.to_string(), "records[2].data");
        let p = AttributePath::attr("tags").join_key("env");
        assert_eq!(p.to_string(), "tags[\"env\"]");
    }

    #[test]
    fn has_errors_ignores_warnings() {
        let mut d = Diagnostics::new();
        d.warning("w", "");
        assert!(!d.has_errors());
        d.error_at(AttributePath::attr("x"), "e", "");
        assert!(d.has_errors());
    }
}
