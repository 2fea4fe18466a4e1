//! Targets: what to extract (spec §3 "Target"), from JSON ([`TargetInput`] →
//! [`validate_targets`]) or from an ms-mint style CSV ([`parse_targets_csv`]).
//!
//! Rules (both sources): `peak_label` non-empty (any characters); `mz_mean` > 0;
//! `mz_width` (ppm, default 10) > 0; `rt_min` ≤ `rt_max` when both are given; `rt_unit` `s`
//! (default) or `min` — with `min`, `rt`, `rt_min` and `rt_max` are multiplied by 60 so a
//! [`Target`] is always in seconds; `intensity_threshold` (default 0) ≥ 0; every number finite.
//! An empty target list is valid (no extraction).
//!
//! JSON values are read leniently: a number may also be given as a numeric string, `null` is
//! the same as absent, unknown keys are ignored. In the CSV, unknown columns are ignored, empty
//! cells (and `nan`) are absent, and cells other than `peak_label` / `target_filename` are
//! trimmed.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::InputError;

/// Default `mz_width` in ppm.
pub const DEFAULT_MZ_WIDTH_PPM: f64 = 10.0;

/// A validated target. All retention times are in **seconds** (after `rt_unit` conversion).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// Name of the compound / feature; non-empty, any characters.
    pub peak_label: String,
    /// Target m/z (> 0).
    pub mz_mean: f64,
    /// Half-width of the m/z window in **ppm** of `mz_mean` (> 0; default 10).
    pub mz_width: f64,
    /// Start of the RT window in **seconds** (closed); `None` = from the start of the run.
    pub rt_min: Option<f64>,
    /// End of the RT window in **seconds** (closed); `None` = to the end of the run.
    pub rt_max: Option<f64>,
    /// Unit the RT values were *given* in (`"s"` or `"min"`); the fields here are seconds.
    pub rt_unit: String,
    /// Points below this intensity (detector counts, ≥ 0; default 0) are ignored.
    pub intensity_threshold: f64,
    /// Expected RT in **seconds** (informational, echoed).
    pub rt: Option<f64>,
    /// File the target list came from (informational, echoed).
    pub target_filename: Option<String>,
}

/// A target as it arrives in JSON: every field optional and loosely typed; see
/// [`validate_targets`] for the rules. Units as in [`Target`] except that `rt`, `rt_min` and
/// `rt_max` are in `rt_unit`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TargetInput {
    /// String (a number is accepted and used as text).
    pub peak_label: Option<Value>,
    /// m/z; number or numeric string.
    pub mz_mean: Option<Value>,
    /// ppm; number or numeric string.
    pub mz_width: Option<Value>,
    /// In `rt_unit`.
    pub rt_min: Option<Value>,
    /// In `rt_unit`.
    pub rt_max: Option<Value>,
    /// `"s"` or `"min"`.
    pub rt_unit: Option<Value>,
    /// Detector counts.
    pub intensity_threshold: Option<Value>,
    /// In `rt_unit`.
    pub rt: Option<Value>,
    /// Any string.
    pub target_filename: Option<Value>,
}

/// Validate JSON targets. The error's field is `targets[i].<name>` (`i` 0-based).
pub fn validate_targets(inputs: Vec<TargetInput>) -> Result<Vec<Target>, InputError> {
    inputs
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            let origin = Origin::Json(i);
            let cells = Cells {
                peak_label: json_cell(t.peak_label, &origin, "peak_label")?,
                mz_mean: json_cell(t.mz_mean, &origin, "mz_mean")?,
                mz_width: json_cell(t.mz_width, &origin, "mz_width")?,
                rt_min: json_cell(t.rt_min, &origin, "rt_min")?,
                rt_max: json_cell(t.rt_max, &origin, "rt_max")?,
                rt_unit: json_cell(t.rt_unit, &origin, "rt_unit")?,
                intensity_threshold: json_cell(
                    t.intensity_threshold,
                    &origin,
                    "intensity_threshold",
                )?,
                rt: json_cell(t.rt, &origin, "rt")?,
                target_filename: json_cell(t.target_filename, &origin, "target_filename")?,
            };
            build(cells, &origin)
        })
        .collect()
}

/// The ms-mint target list columns this reader uses (others are ignored).
pub const CSV_COLUMNS: [&str; 9] = [
    "peak_label",
    "mz_mean",
    "mz_width",
    "rt",
    "rt_min",
    "rt_max",
    "rt_unit",
    "intensity_threshold",
    "target_filename",
];

/// Parse an ms-mint target list CSV (header row required, with at least `peak_label` and
/// `mz_mean`; RFC 4180 quoting; UTF-8, a BOM is ignored). Rows whose cells are all empty are
/// skipped. The error's field is `targets.csv:line N` (line as in the file, header = line 1).
pub fn parse_targets_csv(bytes: &[u8]) -> Result<Vec<Target>, InputError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(bytes);
    let headers = reader
        .headers()
        .map_err(|e| csv_error(&e, "the header row"))?
        .clone();
    let column = |name: &str| headers.iter().position(|h| h.trim() == name);
    let idx: Vec<Option<usize>> = CSV_COLUMNS.iter().map(|c| column(c)).collect();
    for required in ["peak_label", "mz_mean"] {
        if column(required).is_none() {
            return Err(InputError::new(
                "targets.csv:line 1",
                format!("the header has no \"{required}\" column"),
            ));
        }
    }
    let mut targets = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(csv_error(&e, "this row")),
        }
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let line = record.position().map_or(0, |p| p.line());
        let origin = Origin::Csv(line);
        let cell = |k: usize| -> Cell {
            let raw = idx[k].and_then(|i| record.get(i)).unwrap_or("");
            csv_cell(raw, k == 0 || k == 8)
        };
        let cells = Cells {
            peak_label: cell(0),
            mz_mean: cell(1),
            mz_width: cell(2),
            rt: cell(3),
            rt_min: cell(4),
            rt_max: cell(5),
            rt_unit: cell(6),
            intensity_threshold: cell(7),
            target_filename: cell(8),
        };
        targets.push(build(cells, &origin)?);
    }
    Ok(targets)
}

fn csv_error(e: &csv::Error, what: &str) -> InputError {
    let line = e.position().map(|p| p.line());
    let field = match line {
        Some(l) => format!("targets.csv:line {l}"),
        None => "targets.csv".to_string(),
    };
    let message = match e.kind() {
        csv::ErrorKind::Utf8 { .. } => format!("{what} is not valid UTF-8 text"),
        _ => format!("{what} could not be read as CSV: {e}"),
    };
    InputError::new(field, message)
}

// ---------------------------------------------------------------------------------------------

/// Where a target came from, for error fields.
enum Origin {
    Json(usize),
    Csv(u64),
}

impl Origin {
    fn error(&self, column: &str, message: impl std::fmt::Display) -> InputError {
        match self {
            Origin::Json(i) => {
                InputError::new(format!("targets[{i}].{column}"), message.to_string())
            }
            Origin::Csv(line) => InputError::new(
                format!("targets.csv:line {line}"),
                format!("{column}: {message}"),
            ),
        }
    }
}

/// One input value before validation.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Missing,
    Number(f64),
    Text(String),
}

struct Cells {
    peak_label: Cell,
    mz_mean: Cell,
    mz_width: Cell,
    rt_min: Cell,
    rt_max: Cell,
    rt_unit: Cell,
    intensity_threshold: Cell,
    rt: Cell,
    target_filename: Cell,
}

fn json_cell(value: Option<Value>, origin: &Origin, column: &str) -> Result<Cell, InputError> {
    match value {
        None | Some(Value::Null) => Ok(Cell::Missing),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(v) => Ok(Cell::Number(v)),
            None => Err(origin.error(column, "is not a usable number")),
        },
        Some(Value::String(s)) => Ok(Cell::Text(s)),
        Some(other) => Err(origin.error(
            column,
            format!("must be a number or text, not {}", json_kind(&other)),
        )),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "true/false",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A CSV cell: empty / `nan` → missing. Text columns keep the cell exactly.
fn csv_cell(raw: &str, is_text_column: bool) -> Cell {
    let trimmed = raw.trim();
    if trimmed.is_empty() || (!is_text_column && trimmed.eq_ignore_ascii_case("nan")) {
        Cell::Missing
    } else if is_text_column {
        Cell::Text(raw.to_string())
    } else {
        Cell::Text(trimmed.to_string())
    }
}

fn number(cell: &Cell, origin: &Origin, column: &str) -> Result<Option<f64>, InputError> {
    let v = match cell {
        Cell::Missing => return Ok(None),
        Cell::Number(v) => *v,
        Cell::Text(s) => {
            let t = s.trim();
            if t.is_empty() {
                return Ok(None);
            }
            match t.parse::<f64>() {
                Ok(v) => v,
                Err(_) => return Err(origin.error(column, format!("\"{t}\" is not a number"))),
            }
        }
    };
    if v.is_finite() {
        Ok(Some(v))
    } else {
        Err(origin.error(column, "must be a finite number"))
    }
}

fn text(cell: Cell) -> Option<String> {
    match cell {
        Cell::Missing => None,
        Cell::Number(v) => Some(format!("{v}")),
        Cell::Text(s) => Some(s),
    }
}

fn build(cells: Cells, origin: &Origin) -> Result<Target, InputError> {
    let peak_label = match cells.peak_label {
        Cell::Missing => return Err(origin.error("peak_label", "is required")),
        cell => text(cell).unwrap_or_default(),
    };
    if peak_label.trim().is_empty() {
        return Err(origin.error("peak_label", "must not be empty"));
    }
    let mz_mean = number(&cells.mz_mean, origin, "mz_mean")?
        .ok_or_else(|| origin.error("mz_mean", "is required"))?;
    if mz_mean <= 0.0 {
        return Err(origin.error("mz_mean", format!("must be greater than 0 (got {mz_mean})")));
    }
    let mz_width = number(&cells.mz_width, origin, "mz_width")?.unwrap_or(DEFAULT_MZ_WIDTH_PPM);
    if mz_width <= 0.0 {
        return Err(origin.error(
            "mz_width",
            format!("must be greater than 0 ppm (got {mz_width})"),
        ));
    }
    let rt_unit = match &cells.rt_unit {
        Cell::Missing => "s".to_string(),
        Cell::Number(v) => {
            return Err(origin.error("rt_unit", format!("must be \"s\" or \"min\" (got {v})")));
        }
        Cell::Text(s) => match s.trim() {
            "" | "s" => "s".to_string(),
            "min" => "min".to_string(),
            other => {
                return Err(origin.error(
                    "rt_unit",
                    format!("must be \"s\" or \"min\" (got \"{other}\")"),
                ));
            }
        },
    };
    let factor = if rt_unit == "min" { 60.0 } else { 1.0 };
    let in_seconds = |cell: &Cell, column: &str| -> Result<Option<f64>, InputError> {
        Ok(number(cell, origin, column)?.map(|v| v * factor))
    };
    let rt_min = in_seconds(&cells.rt_min, "rt_min")?;
    let rt_max = in_seconds(&cells.rt_max, "rt_max")?;
    let rt = in_seconds(&cells.rt, "rt")?;
    if let (Some(lo), Some(hi)) = (rt_min, rt_max)
        && lo > hi
    {
        return Err(origin.error(
            "rt_min",
            format!("must not be greater than rt_max ({lo} > {hi} s)"),
        ));
    }
    let intensity_threshold =
        number(&cells.intensity_threshold, origin, "intensity_threshold")?.unwrap_or(0.0);
    if intensity_threshold < 0.0 {
        return Err(origin.error(
            "intensity_threshold",
            format!("must be 0 or greater (got {intensity_threshold})"),
        ));
    }
    Ok(Target {
        peak_label,
        mz_mean,
        mz_width,
        rt_min,
        rt_max,
        rt_unit,
        intensity_threshold,
        rt,
        target_filename: text(cells.target_filename),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) const HILIC_TARGETS: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/data/HILICNeg15_StdH1_targets.csv"
    );

    pub(crate) fn hilic_targets() -> Vec<Target> {
        let bytes = std::fs::read(HILIC_TARGETS).expect("targets file");
        parse_targets_csv(&bytes).expect("targets parse")
    }

    fn inputs(v: serde_json::Value) -> Vec<TargetInput> {
        serde_json::from_value(v).expect("deserializes")
    }

    fn json_err(v: serde_json::Value) -> InputError {
        validate_targets(inputs(v)).expect_err("should be rejected")
    }

    fn csv_err(s: &str) -> InputError {
        parse_targets_csv(s.as_bytes()).expect_err("should be rejected")
    }

    #[test]
    fn hilic_target_csv_reads_all_six_rows_with_quotes_and_question_marks() {
        let t = hilic_targets();
        assert_eq!(t.len(), 6);
        assert_eq!(t[0].peak_label, "2\"-DEOXYADENOSINE");
        assert_eq!(t[1].peak_label, "?-AMINOBUTYRIC ACID");
        assert_eq!(t[0].mz_mean, 250.094559);
        assert_eq!(t[0].mz_width, 10.0);
        assert_eq!(t[0].rt_min, Some(300.68971));
        assert_eq!(t[0].rt_max, Some(337.68971));
        assert_eq!(t[0].rt, Some(320.28000000000003));
        assert_eq!(t[0].rt_unit, "s");
        assert_eq!(t[0].intensity_threshold, 0.0);
        assert_eq!(
            t[0].target_filename.as_deref(),
            Some("220420-Marija__HILICNeg15_Standards.csv")
        );
    }

    #[test]
    fn json_targets_get_defaults_and_minutes_become_seconds() {
        let t = validate_targets(inputs(json!([
            {"peak_label": "A", "mz_mean": 100.5},
            {"peak_label": "B", "mz_mean": "200", "mz_width": "5", "rt_min": 1, "rt_max": 2.5,
             "rt": 2, "rt_unit": "min", "intensity_threshold": 1000, "target_filename": "x.csv",
             "unknown_key": [1, 2]},
            {"peak_label": 42, "mz_mean": 1, "rt_min": null, "rt_unit": null}
        ])))
        .expect("valid");
        assert_eq!(t[0].mz_width, 10.0);
        assert_eq!((t[0].rt_min, t[0].rt_max, t[0].rt), (None, None, None));
        assert_eq!(t[0].rt_unit, "s");
        assert_eq!(t[0].intensity_threshold, 0.0);
        assert_eq!(t[1].mz_mean, 200.0);
        assert_eq!(t[1].mz_width, 5.0);
        assert_eq!(
            (t[1].rt_min, t[1].rt_max, t[1].rt),
            (Some(60.0), Some(150.0), Some(120.0))
        );
        assert_eq!(t[1].rt_unit, "min");
        assert_eq!(t[1].target_filename.as_deref(), Some("x.csv"));
        assert_eq!(t[2].peak_label, "42");
        assert!(validate_targets(Vec::new()).expect("empty ok").is_empty());
    }

    #[test]
    fn json_errors_name_the_target_index_and_field() {
        let cases = [
            (
                json!([{"peak_label": "A", "mz_mean": 1}, {"mz_mean": 1}]),
                "targets[1].peak_label",
            ),
            (
                json!([{"peak_label": "", "mz_mean": 1}]),
                "targets[0].peak_label",
            ),
            (
                json!([{"peak_label": "  ", "mz_mean": 1}]),
                "targets[0].peak_label",
            ),
            (json!([{"peak_label": "A"}]), "targets[0].mz_mean"),
            (
                json!([{"peak_label": "A", "mz_mean": 0}]),
                "targets[0].mz_mean",
            ),
            (
                json!([{"peak_label": "A", "mz_mean": -5}]),
                "targets[0].mz_mean",
            ),
            (
                json!([{"peak_label": "A", "mz_mean": "abc"}]),
                "targets[0].mz_mean",
            ),
            (
                json!([{"peak_label": "A", "mz_mean": true}]),
                "targets[0].mz_mean",
            ),
            (
                json!([{"peak_label": "A", "mz_mean": "inf"}]),
                "targets[0].mz_mean",
            ),
            (
                json!([{"peak_label": "A", "mz_mean": "NaN"}]),
                "targets[0].mz_mean",
            ),
            (
                json!([{"peak_label": "A", "mz_mean": 1, "mz_width": 0}]),
                "targets[0].mz_width",
            ),
            (
                json!([{"peak_label": "A", "mz_mean": 1, "rt_min": 5, "rt_max": 4}]),
                "targets[0].rt_min",
            ),
            (
                json!([{"peak_label": "A", "mz_mean": 1, "rt_unit": "h"}]),
                "targets[0].rt_unit",
            ),
            (
                json!([{"peak_label": "A", "mz_mean": 1, "rt_unit": 60}]),
                "targets[0].rt_unit",
            ),
            (
                json!([{}, {}, {}, {"peak_label": "A", "mz_mean": 1, "rt_unit": "hours"}]),
                "targets[0].peak_label",
            ),
            (
                json!([{"peak_label": "A", "mz_mean": 1, "intensity_threshold": -1}]),
                "targets[0].intensity_threshold",
            ),
            (
                json!([{"peak_label": "A", "mz_mean": 1, "rt": [1]}]),
                "targets[0].rt",
            ),
        ];
        for (input, field) in cases {
            let e = json_err(input.clone());
            assert_eq!(e.field, field, "{input}: {}", e.message);
            assert!(!e.message.is_empty());
        }
        let e = json_err(json!([
            {"peak_label": "A", "mz_mean": 1}, {"peak_label": "B", "mz_mean": 1},
            {"peak_label": "C", "mz_mean": 1}, {"peak_label": "D", "mz_mean": 1, "rt_unit": "hours"}
        ]));
        assert_eq!(e.field, "targets[3].rt_unit");
        assert!(e.message.contains("hours"), "{}", e.message);
    }

    #[test]
    fn csv_errors_name_the_line() {
        let e = csv_err("peak_label,mz_mean,rt_unit\nA,100,s\nB,100,min\nC,100,s\nD,100,hours\n");
        assert_eq!(e.field, "targets.csv:line 5");
        assert!(
            e.message.contains("rt_unit") && e.message.contains("hours"),
            "{}",
            e.message
        );

        let e = csv_err("peak_label,mz_mean\nA,-1\n");
        assert_eq!(e.field, "targets.csv:line 2");
        assert!(e.message.contains("mz_mean"));

        // A quoted label spanning two lines: the next record starts on line 4.
        let e = csv_err("peak_label,mz_mean\n\"two\nlines\",1\nB,zero\n");
        assert_eq!(e.field, "targets.csv:line 4");

        let e = csv_err("label,mz\nA,1\n");
        assert_eq!(e.field, "targets.csv:line 1");
        assert!(e.message.contains("peak_label"));

        let e = csv_err("peak_label,mz_mean,rt_min,rt_max\nA,1,10,5\n");
        assert_eq!(e.field, "targets.csv:line 2");

        let e = parse_targets_csv(b"peak_label,mz_mean\nA\xff,1\n").expect_err("utf8");
        assert_eq!(e.field, "targets.csv:line 2");
        assert!(e.message.contains("UTF-8"));
    }

    #[test]
    fn csv_ignores_unknown_columns_empty_cells_and_blank_rows() {
        let csv = "\u{feff}extra,peak_label,mz_mean,mz_width,rt,rt_min,rt_max,rt_unit,intensity_threshold,target_filename,more\n\
                   x, A ,100,,,,,,,,y\n\
                   ,,,,,,,,,,\n\
                   \n\
                   z,B,200, 5 ,1.5, 1 , 2 ,min,nan,t.csv\n";
        let t = parse_targets_csv(csv.as_bytes()).expect("valid");
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].peak_label, " A ", "labels are kept exactly");
        assert_eq!(t[0].mz_width, 10.0);
        assert_eq!((t[0].rt_min, t[0].rt_max), (None, None));
        assert_eq!(t[0].target_filename, None);
        assert_eq!(t[1].mz_width, 5.0);
        assert_eq!(
            (t[1].rt_min, t[1].rt_max, t[1].rt),
            (Some(60.0), Some(120.0), Some(90.0))
        );
        assert_eq!(t[1].intensity_threshold, 0.0);
        assert_eq!(t[1].target_filename.as_deref(), Some("t.csv"));
        // Only a header: no targets, not an error.
        assert!(
            parse_targets_csv(b"peak_label,mz_mean\n")
                .expect("ok")
                .is_empty()
        );
    }

    #[test]
    fn csv_labels_with_quotes_question_marks_and_commas_round_trip() {
        let labels = [
            "2\"-DEOXY",
            "?-AMINO",
            "a, b",
            "\"quoted\"",
            "multi\nline",
            "ü µ",
        ];
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(["peak_label", "mz_mean"]).expect("write");
        for l in labels {
            w.write_record([l, "100"]).expect("write");
        }
        let bytes = w.into_inner().expect("bytes");
        let t = parse_targets_csv(&bytes).expect("valid");
        let got: Vec<&str> = t.iter().map(|t| t.peak_label.as_str()).collect();
        assert_eq!(got, labels);
    }
}
