//! The result table as CSV (`GET .../result.csv`, spec §3): one row per target, RFC 4180
//! quoting (written by the `csv` crate, CRLF line ends), an empty cell for a null number.
//! RT columns are seconds, m/z columns m/z, `mz_width` and mass differences ppm.

use super::extract::TargetResult;

/// Header of [`results_csv`], exactly as the spec gives it.
pub const RESULTS_CSV_HEADER: [&str; 16] = [
    "peak_label",
    "mz_mean",
    "mz_width",
    "rt_min",
    "rt_max",
    "peak_area",
    "peak_area_top3",
    "peak_max",
    "peak_min",
    "peak_mean",
    "peak_median",
    "peak_rt_of_max",
    "peak_n_datapoints",
    "peak_mass_diff_25pc",
    "peak_mass_diff_50pc",
    "peak_mass_diff_75pc",
];

/// Write `results` as CSV text (header + one row per target). Numbers use Rust's shortest
/// round-trip formatting (`12345` for an integral value), `None` is an empty cell.
pub fn results_csv(results: &[TargetResult]) -> String {
    match write(results) {
        Ok(text) => text,
        Err(e) => {
            // Writing to memory cannot fail; keep the header so the response stays valid CSV.
            tracing::error!(error = %e, "writing the result CSV failed");
            format!("{}\r\n", RESULTS_CSV_HEADER.join(","))
        }
    }
}

fn write(results: &[TargetResult]) -> Result<String, Box<dyn std::error::Error>> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    w.write_record(RESULTS_CSV_HEADER)?;
    let num = |v: f64| format!("{v}");
    let opt = |v: Option<f64>| v.map(num).unwrap_or_default();
    for r in results {
        w.write_record([
            r.peak_label.clone(),
            num(r.mz_mean),
            num(r.mz_width),
            opt(r.rt_min),
            opt(r.rt_max),
            num(r.peak_area),
            num(r.peak_area_top3),
            num(r.peak_max),
            opt(r.peak_min),
            opt(r.peak_mean),
            opt(r.peak_median),
            opt(r.peak_rt_of_max),
            r.peak_n_datapoints.to_string(),
            opt(r.peak_mass_diff_25pc),
            opt(r.peak_mass_diff_50pc),
            opt(r.peak_mass_diff_75pc),
        ])?;
    }
    let bytes = w.into_inner().map_err(|e| e.to_string())?;
    Ok(String::from_utf8(bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::extract::extract;
    use crate::analysis::mzml::tests::hilic_run;
    use crate::analysis::targets::tests::hilic_targets;
    use crate::analysis::targets::{TargetInput, parse_targets_csv, validate_targets};
    use serde_json::json;

    fn parse(text: &str) -> (csv::StringRecord, Vec<csv::StringRecord>) {
        let mut r = csv::Reader::from_reader(text.as_bytes());
        let header = r.headers().expect("header").clone();
        let rows = r.records().collect::<Result<Vec<_>, _>>().expect("rows");
        (header, rows)
    }

    #[test]
    fn header_is_exactly_the_spec_header() {
        let text = results_csv(&[]);
        assert_eq!(
            text,
            "peak_label,mz_mean,mz_width,rt_min,rt_max,peak_area,peak_area_top3,peak_max,peak_min,peak_mean,peak_median,peak_rt_of_max,peak_n_datapoints,peak_mass_diff_25pc,peak_mass_diff_50pc,peak_mass_diff_75pc\r\n"
        );
    }

    #[test]
    fn labels_with_quotes_question_marks_and_commas_survive_json_to_csv_to_parser() {
        let labels = [
            "2\"-DEOXYADENOSINE",
            "?-AMINOBUTYRIC ACID",
            "a, b, c",
            "\"fully quoted\"",
            "semi;colon\ttab",
            "line\nbreak",
            " padded ",
            "=1+2",
            "ü, µ, 漢",
        ];
        let body = json!(
            labels
                .iter()
                .map(|l| json!({"peak_label": l, "mz_mean": 250.094559}))
                .collect::<Vec<_>>()
        );
        // JSON text → TargetInput → Target → result → CSV → csv parser.
        let inputs: Vec<TargetInput> = serde_json::from_str(&body.to_string()).expect("json");
        let targets = validate_targets(inputs).expect("valid");
        let results = extract(hilic_run(), &targets);
        let text = results_csv(&results);
        let (header, rows) = parse(&text);
        assert_eq!(header.iter().collect::<Vec<_>>(), RESULTS_CSV_HEADER);
        let got: Vec<&str> = rows.iter().map(|r| r.get(0).expect("label")).collect();
        assert_eq!(got, labels);
        // The same CSV is also a valid target list for the CSV reader.
        let again = parse_targets_csv(text.as_bytes()).expect("re-read as targets");
        let got: Vec<&str> = again.iter().map(|t| t.peak_label.as_str()).collect();
        assert_eq!(got, labels);
    }

    #[test]
    fn rows_carry_the_numbers_and_empty_cells_for_nulls() {
        let mut targets = hilic_targets();
        targets.push(crate::analysis::targets::Target {
            peak_label: "absent".into(),
            mz_mean: 999.0,
            mz_width: 1.0,
            rt_min: None,
            rt_max: None,
            rt_unit: "s".into(),
            intensity_threshold: 0.0,
            rt: None,
            target_filename: None,
        });
        let results = extract(hilic_run(), &targets);
        let (_, rows) = parse(&results_csv(&results));
        assert_eq!(rows.len(), 7);
        for (row, r) in rows.iter().zip(&results) {
            assert_eq!(row.len(), 16);
            assert_eq!(row[0], r.peak_label);
            assert_eq!(row[1].parse::<f64>().expect("mz"), r.mz_mean);
            assert_eq!(row[5].parse::<f64>().expect("area"), r.peak_area);
            assert_eq!(row[12].parse::<usize>().expect("n"), r.peak_n_datapoints);
            assert_eq!(
                row[11].parse::<f64>().ok(),
                r.peak_rt_of_max,
                "RT of max in seconds"
            );
        }
        let absent = &rows[6];
        assert_eq!(&absent[3], "");
        assert_eq!(&absent[4], "");
        assert_eq!(&absent[5], "0");
        assert_eq!(&absent[6], "0");
        assert_eq!(&absent[7], "0");
        for i in [8, 9, 10, 11, 13, 14, 15] {
            assert_eq!(&absent[i], "", "column {}", RESULTS_CSV_HEADER[i]);
        }
        assert_eq!(&absent[12], "0");
    }
}
