//! The timed extraction of workload P5 on the repository's example run: it reports every
//! repeat and the areas ms-mint 1.1.2 recorded for the same targets.

use std::path::{Path, PathBuf};

use mint_bench::extraction::{ExtractionError, time_extraction};
use mint_sdk::serde_json::{self, Value};

fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}

#[test]
fn extraction_reports_each_repeat_and_the_msmint_areas() {
    let timing = time_extraction(
        &repo_file("examples/data/HILICNeg15_StdH1.mzML"),
        &repo_file("examples/data/HILICNeg15_StdH1_targets.csv"),
        2,
    )
    .expect("extraction runs");
    assert_eq!(timing.runs_seconds.len(), 2);
    assert!(timing.runs_seconds.contains(&timing.wall_time_seconds));

    let fixture: Value = serde_json::from_slice(
        &std::fs::read(repo_file(
            "plugins/peak-picking/tests/fixtures/msmint-1.1.2-HILICNeg15_StdH1.json",
        ))
        .expect("fixture"),
    )
    .expect("fixture is JSON");
    let expected: Vec<(String, f64)> = fixture["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            let label = r["peak_label"].as_str().expect("label").to_string();
            (label, r["peak_area"].as_f64().expect("area"))
        })
        .collect();
    let got: Vec<(String, f64)> = timing
        .results
        .iter()
        .map(|r| (r.peak_label.clone(), r.peak_area))
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn zero_repeats_is_refused() {
    let err = time_extraction(Path::new("unused.mzML"), Path::new("unused.csv"), 0)
        .expect_err("no repeats");
    assert!(matches!(err, ExtractionError::NoRepeats));
}

#[test]
fn a_missing_mzml_names_the_file() {
    let err = time_extraction(
        Path::new("/nonexistent/run.mzML"),
        &repo_file("examples/data/HILICNeg15_StdH1_targets.csv"),
        1,
    )
    .expect_err("missing file");
    assert!(err.to_string().contains("/nonexistent/run.mzML"), "{err}");
}
