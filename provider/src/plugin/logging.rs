//! Logs in the JSON line form that go-plugin's host reads from a plugin's stderr (hclog):
//! `@level`, `@message`, `@module`, `@timestamp`, then the fields of the enclosing spans
//! (outermost first) and of the event as extra keys. The host re-logs each line under its
//! own logger, so `TF_LOG` / `TF_LOG_PROVIDER` show them.
//!
//! Secrets: the framework and the resources never pass secret values (passwords, keys,
//! tokens, sensitive attributes) to `tracing`. As a second line of defence, a field whose
//! name looks like a secret is written as `[redacted]`.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{Layer, Registry};

/// The `@module` of every line: the host prefixes it with its own logger name.
pub const MODULE: &str = "provider";

/// Per-provider level override, as terraform-plugin-go names it (`TF_LOG_PROVIDER_<NAME>`).
pub const ENV_LOG_PROVIDER_RACK: &str = "TF_LOG_PROVIDER_RACK";
/// Level of all provider logs in Terraform.
pub const ENV_LOG_PROVIDER: &str = "TF_LOG_PROVIDER";
/// Level of all Terraform logs.
pub const ENV_LOG: &str = "TF_LOG";

/// Written instead of the value of a field whose name looks like a secret.
const REDACTED: &str = "[redacted]";

/// Parts of field names that mark a secret.
const SECRET_NAME_PARTS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "private_key",
    "credential",
    "api_key",
];

/// Reads a level as Terraform spells it: TRACE, DEBUG, INFO, WARN, ERROR, OFF, or JSON
/// (TRACE). Anything else, or nothing, is off, as in terraform-plugin-log.
pub fn parse_level(value: Option<&str>) -> LevelFilter {
    match value.map(|v| v.trim().to_ascii_uppercase()).as_deref() {
        Some("TRACE" | "JSON") => LevelFilter::TRACE,
        Some("DEBUG") => LevelFilter::DEBUG,
        Some("INFO") => LevelFilter::INFO,
        Some("WARN") => LevelFilter::WARN,
        Some("ERROR") => LevelFilter::ERROR,
        _ => LevelFilter::OFF,
    }
}

/// The level from the environment: the first of `TF_LOG_PROVIDER_RACK`,
/// `TF_LOG_PROVIDER` and `TF_LOG` that is set and not empty.
pub fn level_from_env(get: impl Fn(&str) -> Option<String>) -> LevelFilter {
    let value = [ENV_LOG_PROVIDER_RACK, ENV_LOG_PROVIDER, ENV_LOG]
        .into_iter()
        .filter_map(get)
        .find(|v| !v.trim().is_empty());
    parse_level(value.as_deref())
}

/// Installs the stderr logger with the level from the environment. Does nothing if a
/// global subscriber is already set.
pub fn init() {
    let level = level_from_env(|k| std::env::var(k).ok());
    let _ = tracing_subscriber::registry()
        .with(HclogLayer::new(std::io::stderr).with_filter(crate_filter(level)))
        .try_init();
}

/// Our own crates log at `level`; libraries (h2, hyper, rustls, tonic) only from WARN up,
/// since their frame-by-frame debug output would drown what a user is looking for.
pub fn crate_filter(level: LevelFilter) -> tracing_subscriber::filter::Targets {
    tracing_subscriber::filter::Targets::new()
        .with_default(level.min(LevelFilter::WARN))
        .with_target("rack_provider", level)
        .with_target("rack_core", level)
        .with_target("terraform_provider_rack", level)
}

/// A [`Layer`] writing one hclog JSON line per event.
pub struct HclogLayer<W> {
    make_writer: W,
}

impl<W> HclogLayer<W> {
    /// Writes lines to what `make_writer` makes (one writer per line).
    pub fn new(make_writer: W) -> Self {
        Self { make_writer }
    }
}

/// Fields recorded on a span, kept in its extensions.
struct SpanFields(Map<String, Value>);

impl<S, W> Layer<S> for HclogLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Map::new();
        attrs.record(&mut JsonVisitor(&mut fields));
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(fields));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            let mut ext = span.extensions_mut();
            if let Some(SpanFields(fields)) = ext.get_mut::<SpanFields>() {
                values.record(&mut JsonVisitor(fields));
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Map::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(SpanFields(f)) = span.extensions().get::<SpanFields>() {
                    fields.extend(f.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
            }
        }
        event.record(&mut JsonVisitor(&mut fields));
        let message = match fields.shift_remove("message") {
            Some(Value::String(s)) => s,
            Some(other) => other.to_string(),
            None => String::new(),
        };
        let line = format_line(
            event.metadata().level(),
            &message,
            &timestamp(SystemTime::now()),
            fields,
        );
        // One write per line, so lines from several threads never interleave.
        let _ = self.make_writer.make_writer().write_all(line.as_bytes());
    }
}

/// Builds one line, newline included. Fields starting with `@` are dropped so they cannot
/// shadow the hclog keys.
fn format_line(
    level: &Level,
    message: &str,
    timestamp: &str,
    fields: Map<String, Value>,
) -> String {
    let mut obj = Map::new();
    obj.insert("@level".into(), Value::from(hclog_level(level)));
    obj.insert("@message".into(), Value::from(message));
    obj.insert("@module".into(), Value::from(MODULE));
    obj.insert("@timestamp".into(), Value::from(timestamp));
    obj.extend(fields.into_iter().filter(|(k, _)| !k.starts_with('@')));
    let mut line = Value::Object(obj).to_string();
    line.push('\n');
    line
}

fn hclog_level(level: &Level) -> &'static str {
    match *level {
        Level::TRACE => "trace",
        Level::DEBUG => "debug",
        Level::INFO => "info",
        Level::WARN => "warn",
        Level::ERROR => "error",
    }
}

fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_NAME_PARTS.iter().any(|p| name.contains(p))
}

/// Records tracing fields as JSON values.
struct JsonVisitor<'a>(&'a mut Map<String, Value>);

impl JsonVisitor<'_> {
    fn put(&mut self, field: &Field, value: Value) {
        let value = if is_secret_name(field.name()) {
            Value::from(REDACTED)
        } else {
            value
        };
        self.0.insert(field.name().to_owned(), value);
    }
}

impl Visit for JsonVisitor<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        let v = serde_json::Number::from_f64(value)
            .map(Value::Number)
            .unwrap_or_else(|| Value::from(value.to_string()));
        self.put(field, v);
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::from(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::from(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, Value::from(value.to_string()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field, Value::from(format!("{value:?}")));
    }
}

/// Formats a time as go-plugin parses `@timestamp`: `2006-01-02T15:04:05.000000Z07:00`,
/// always in UTC with exactly six fraction digits.
fn timestamp(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_micros()
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// A subscriber writing to `make_writer`, for tests of this module and its users.
pub fn test_subscriber<W>(make_writer: W, level: LevelFilter) -> impl Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    Registry::default().with(HclogLayer::new(make_writer).with_filter(level))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::Error::other("poisoned"))?
                .extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buf {
        type Writer = Buf;
        fn make_writer(&'a self) -> Buf {
            self.clone()
        }
    }

    fn output(buf: &Buf) -> String {
        let bytes = buf.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[test]
    fn event_is_one_json_line_with_hclog_keys() -> Result<(), serde_json::Error> {
        let buf = Buf::default();
        tracing::subscriber::with_default(test_subscriber(buf.clone(), LevelFilter::TRACE), || {
            let span = tracing::info_span!("rpc", tf_rpc = "ApplyResourceChange", attempt = 1);
            let _g = span.enter();
            tracing::debug!(resource = "rack_domain", ok = true, "applied {}", "change");
        });
        let out = output(&buf);
        assert_eq!(out.matches('\n').count(), 1, "{out}");
        assert!(out.ends_with('\n'));
        let v: Value = serde_json::from_str(out.trim_end())?;
        let keys: Vec<&str> = v
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        assert_eq!(
            keys,
            [
                "@level",
                "@message",
                "@module",
                "@timestamp",
                "tf_rpc",
                "attempt",
                "resource",
                "ok"
            ]
        );
        assert_eq!(v["@level"], "debug");
        assert_eq!(v["@message"], "applied change");
        assert_eq!(v["@module"], "provider");
        assert_eq!(v["tf_rpc"], "ApplyResourceChange");
        assert_eq!(v["attempt"], 1);
        assert_eq!(v["ok"], true);
        Ok(())
    }

    #[test]
    fn secret_named_fields_are_redacted_and_levels_filter() -> Result<(), serde_json::Error> {
        let buf = Buf::default();
        tracing::subscriber::with_default(test_subscriber(buf.clone(), LevelFilter::INFO), || {
            tracing::debug!("hidden");
            tracing::warn!(
                password = "hunter2",
                api_token = "t0k",
                "@level" = "x",
                "warned"
            );
        });
        let out = output(&buf);
        assert!(!out.contains("hunter2") && !out.contains("t0k") && !out.contains("hidden"));
        let v: Value = serde_json::from_str(out.trim_end())?;
        assert_eq!(v["@level"], "warn");
        assert_eq!(v["password"], REDACTED);
        assert_eq!(v["api_token"], REDACTED);
        Ok(())
    }

    #[test]
    fn timestamp_format() {
        let t = UNIX_EPOCH + Duration::from_micros(951_827_696_000_123); // 2000-02-29T12:34:56
        assert_eq!(timestamp(t), "2000-02-29T12:34:56.000123Z");
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
    }

    #[test]
    fn levels_from_env() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert_eq!(level_from_env(env(&[])), LevelFilter::OFF);
        assert_eq!(
            level_from_env(env(&[("TF_LOG", "debug")])),
            LevelFilter::DEBUG
        );
        assert_eq!(
            level_from_env(env(&[("TF_LOG", "JSON")])),
            LevelFilter::TRACE
        );
        assert_eq!(
            level_from_env(env(&[("TF_LOG", "TRACE"), ("TF_LOG_PROVIDER", "WARN")])),
            LevelFilter::WARN
        );
        assert_eq!(
            level_from_env(env(&[("TF_LOG_PROVIDER", ""), ("TF_LOG", "ERROR")])),
            LevelFilter::ERROR
        );
        assert_eq!(
            level_from_env(env(&[
                ("TF_LOG_PROVIDER", "INFO"),
                ("TF_LOG_PROVIDER_RACK", "off")
            ])),
            LevelFilter::OFF
        );
        assert_eq!(level_from_env(env(&[("TF_LOG", "loud")])), LevelFilter::OFF);
    }
}

#[cfg(test)]
mod filter_tests {
    use super::*;

    #[test]
    fn libraries_are_capped_at_warn() {
        let f = crate_filter(LevelFilter::DEBUG);
        assert!(f.would_enable("rack_provider::framework", &tracing::Level::DEBUG));
        assert!(f.would_enable("rack_core::dns", &tracing::Level::DEBUG));
        assert!(!f.would_enable("h2::codec", &tracing::Level::DEBUG));
        assert!(f.would_enable("h2::codec", &tracing::Level::WARN));
        let off = crate_filter(LevelFilter::OFF);
        assert!(!off.would_enable("h2::codec", &tracing::Level::ERROR));
    }
}
