//! Operation timeouts: an optional `timeouts` attribute whose strings ("30s", "10m",
//! "1h30m") bound create, read, update and delete.

use std::time::Duration;

use crate::framework::schema::{Attribute, Nesting};
use crate::framework::validate::{Validator, check};
use crate::protocol::value::Value;

/// How long an operation may take when the configuration does not say.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20 * 60);

/// The `timeouts` attribute for the given operations (e.g. `["create", "delete"]`).
pub fn timeouts_attribute(operations: &[&str]) -> Attribute {
    let attrs = operations.iter().map(|op| {
        Attribute::string(*op)
            .optional()
            .description(format!(
                "How long {op} may take, as a duration such as `30s`, `10m` or `1h30m`. \
                 Default: 20m."
            ))
            .validator(duration_validator(
                "A duration such as `30s`, `10m` or `1h30m`.",
            ))
    });
    Attribute::nested("timeouts", Nesting::Single, attrs.collect::<Vec<_>>())
        .optional()
        .description("Time limits of operations.")
}

/// The timeout for `operation` from a resource value that may hold `timeouts`.
pub fn operation_timeout(value: &Value, operation: &str) -> Duration {
    value
        .attr("timeouts")
        .and_then(|t| t.attr(operation))
        .and_then(Value::as_str)
        .and_then(|s| parse_duration(s).ok())
        .unwrap_or(DEFAULT_TIMEOUT)
}

/// Checks that a string attribute is a duration (see [`parse_duration`]); `description`
/// says what is expected, e.g. "A duration such as `5s` or `500ms`.".
pub fn duration_validator(description: &'static str) -> impl Validator {
    check(description, "Invalid duration", |v| {
        match v.as_str().map(parse_duration) {
            Some(Err(e)) => Err(e),
            _ => Ok(()),
        }
    })
}

/// Parses a Go-style duration: a sequence of number+unit pairs (h, m, s, ms).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || {
        format!(
            "{text:?} is not a duration; write it as a number and a unit, e.g. 30s, 10m or 1h30m"
        )
    };
    if text.is_empty() {
        return Err(bad());
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .ok_or_else(bad)?;
        if digits == 0 {
            return Err(bad());
        }
        let number: f64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total += Duration::try_from_secs_f64(number * seconds).map_err(|_| bad())?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1.5m"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("10x").is_err());
    }

    #[test]
    fn timeout_from_value_or_default() {
        let v = Value::Object(
            [(
                "timeouts".to_string(),
                Value::Object([("create".to_string(), Value::String("2m".into()))].into()),
            )]
            .into(),
        );
        assert_eq!(operation_timeout(&v, "create"), Duration::from_secs(120));
        assert_eq!(operation_timeout(&v, "delete"), DEFAULT_TIMEOUT);
        assert_eq!(operation_timeout(&Value::Null, "create"), DEFAULT_TIMEOUT);
    }
}
