//! Medians and spreads of repeated measurements, and the markdown table they go into.

use std::fmt::Write as _;

/// Order statistics of one measurement repeated several times.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Number of samples.
    pub n: usize,
    /// Smallest sample.
    pub min: f64,
    /// First quartile (linear interpolation between the nearest samples).
    pub p25: f64,
    /// Median.
    pub median: f64,
    /// Third quartile.
    pub p75: f64,
    /// Largest sample.
    pub max: f64,
}

impl Summary {
    /// Summarises `samples`; `None` when there are none (or one is NaN).
    pub fn of(samples: &[f64]) -> Option<Self> {
        if samples.is_empty() || samples.iter().any(|s| s.is_nan()) {
            return None;
        }
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let at = |q: f64| {
            let pos = q * (sorted.len() - 1) as f64;
            let lo = pos.floor() as usize;
            let hi = pos.ceil() as usize;
            sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
        };
        Some(Self {
            n: sorted.len(),
            min: sorted[0],
            p25: at(0.25),
            median: at(0.5),
            p75: at(0.75),
            max: sorted[sorted.len() - 1],
        })
    }
}

/// How a number is printed: its unit and the digits after the point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Milliseconds.
    Ms,
    /// Seconds.
    S,
    /// Mebibytes (2^20 bytes).
    MiB,
}

impl Unit {
    /// `value` with its unit, e.g. `3.21 ms`.
    pub fn format(self, value: f64) -> String {
        match self {
            Unit::Ms if value < 10.0 => format!("{value:.2} ms"),
            Unit::Ms => format!("{value:.1} ms"),
            Unit::S => format!("{value:.2} s"),
            Unit::MiB => format!("{value:.1} MiB"),
        }
    }

    /// `lo–hi` in this unit.
    pub fn range(self, lo: f64, hi: f64) -> String {
        format!("{}–{}", self.format(lo), self.format(hi))
    }
}

/// A limit the measurement should stay under.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Target {
    /// The median must be below this, in the row's unit.
    pub below: f64,
}

/// One line of the results table.
#[derive(Debug, Clone)]
pub struct Row {
    /// What was measured.
    pub what: String,
    /// The unit of `rack` and `baseline`.
    pub unit: Unit,
    /// The measurement.
    pub rack: Summary,
    /// What the baseline is, in words.
    pub baseline_what: String,
    /// The baseline, measured in the same run.
    pub baseline: Option<Summary>,
    /// The target, if there is one.
    pub target: Option<Target>,
}

impl Row {
    /// Whether the median meets the target; `None` without a target.
    pub fn met(&self) -> Option<bool> {
        self.target.map(|t| self.rack.median < t.below)
    }
}

/// Renders rows as a GitHub markdown table.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| Measurement | Median | p25–p75 | min–max | n | Baseline | Baseline median | \
         Baseline min–max | Target | Met |\n\
         |---|---:|---:|---:|---:|---|---:|---:|---|---|\n",
    );
    for row in rows {
        let u = row.unit;
        let (b_median, b_range) = match row.baseline {
            Some(b) => (u.format(b.median), u.range(b.min, b.max)),
            None => ("–".to_owned(), "–".to_owned()),
        };
        let target = row
            .target
            .map_or_else(|| "–".to_owned(), |t| format!("< {}", u.format(t.below)));
        let met = match row.met() {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "–",
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            row.what,
            u.format(row.rack.median),
            u.range(row.rack.p25, row.rack.p75),
            u.range(row.rack.min, row.rack.max),
            row.rack.n,
            row.baseline_what,
            b_median,
            b_range,
            target,
            met,
        );
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn odd_and_even_counts() {
        let s = Summary::of(&[5.0, 1.0, 3.0]).unwrap();
        assert_eq!((s.n, s.min, s.median, s.max), (3, 1.0, 3.0, 5.0));
        assert_eq!((s.p25, s.p75), (2.0, 4.0));

        let s = Summary::of(&[4.0, 1.0, 2.0, 3.0]).unwrap();
        assert_eq!(s.median, 2.5);
        assert_eq!(s.p25, 1.75);
        assert_eq!(s.p75, 3.25);

        let s = Summary::of(&[7.0]).unwrap();
        assert_eq!(
            (s.min, s.p25, s.median, s.p75, s.max),
            (7.0, 7.0, 7.0, 7.0, 7.0)
        );
    }

    #[test]
    fn nothing_to_summarise() {
        assert_eq!(Summary::of(&[]), None);
        assert_eq!(Summary::of(&[1.0, f64::NAN]), None);
    }

    #[test]
    fn units() {
        assert_eq!(Unit::Ms.format(3.256), "3.26 ms");
        assert_eq!(Unit::Ms.format(31.44), "31.4 ms");
        assert_eq!(Unit::S.format(1.5), "1.50 s");
        assert_eq!(Unit::MiB.format(12.34), "12.3 MiB");
        assert_eq!(Unit::Ms.range(1.0, 2.0), "1.00 ms–2.00 ms");
    }

    #[test]
    fn table_marks_targets() {
        let s = Summary::of(&[1.0, 2.0, 3.0]).unwrap();
        let row = |below| Row {
            what: "x".into(),
            unit: Unit::Ms,
            rack: s,
            baseline_what: "echo".into(),
            baseline: None,
            target: Some(Target { below }),
        };
        let text = table(&[row(20.0), row(1.0)]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[2].ends_with("| < 20.0 ms | yes |"), "{}", lines[2]);
        assert!(lines[3].ends_with("| < 1.00 ms | **no** |"), "{}", lines[3]);
        assert!(
            lines[2].contains("| 2.00 ms | 1.50 ms–2.50 ms | 1.00 ms–3.00 ms | 3 | echo | – |")
        );
    }
}
