//! Timed targeted extraction (workload P5), measured the way `record_msmint.py` measures
//! ms-mint's `Mint.run`: the target list is parsed once, then each repeat reads the mzML file
//! from disk, parses it and extracts every target; the best wall time of the repeats counts.

use std::path::{Path, PathBuf};
use std::time::Instant;

use peak_picking::analysis::{self, InputError, TargetResult};
use serde::Serialize;

/// What one benchmark run of the extraction measured.
#[derive(Debug, Serialize)]
pub struct ExtractionTiming {
    /// Always `"mint-rs peak-picking"`.
    pub tool: &'static str,
    /// What the times include.
    pub timed: &'static str,
    /// Best wall time of the repeats, seconds.
    pub wall_time_seconds: f64,
    /// Every repeat's wall time, seconds, in run order.
    pub runs_seconds: Vec<f64>,
    /// Per target, in the target file's order: label and area (the fields compared with
    /// ms-mint).
    pub results: Vec<TargetArea>,
}

/// One target's label and `peak_area` (sum of the matching MS1 intensities).
#[derive(Debug, Serialize, PartialEq)]
pub struct TargetArea {
    /// The target's `peak_label`.
    pub peak_label: String,
    /// Its `peak_area`.
    pub peak_area: f64,
}

/// Why the extraction could not be timed.
#[derive(Debug, thiserror::Error)]
pub enum ExtractionError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The mzML or the target list is not valid input.
    #[error("invalid input: {0}")]
    Input(#[from] InputError),
    /// Zero repeats were asked for.
    #[error("repeats must be at least 1")]
    NoRepeats,
}

fn read(path: &Path) -> Result<Vec<u8>, ExtractionError> {
    std::fs::read(path).map_err(|source| ExtractionError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Extracts the targets of the CSV file `targets` from the mzML file `mzml` `repeats` times
/// and reports the best wall time and the areas of the last repeat.
///
/// Errors: unreadable files, invalid mzML or targets, `repeats == 0`.
pub fn time_extraction(
    mzml: &Path,
    targets: &Path,
    repeats: usize,
) -> Result<ExtractionTiming, ExtractionError> {
    if repeats == 0 {
        return Err(ExtractionError::NoRepeats);
    }
    let targets = analysis::parse_targets_csv(&read(targets)?)?;
    let mut runs_seconds = Vec::with_capacity(repeats);
    let mut results: Vec<TargetResult> = Vec::new();
    for _ in 0..repeats {
        let started = Instant::now();
        let bytes = read(mzml)?;
        let run = analysis::load_run(&bytes, "file")?;
        results = analysis::extract(&run, &targets);
        runs_seconds.push(started.elapsed().as_secs_f64());
    }
    let wall_time_seconds = runs_seconds.iter().copied().fold(f64::INFINITY, f64::min);
    Ok(ExtractionTiming {
        tool: "mint-rs peak-picking",
        timed: "std::fs::read of the mzML + load_run (parse) + extract (all targets); targets parsed once before",
        wall_time_seconds,
        runs_seconds,
        results: results
            .into_iter()
            .map(|r| TargetArea {
                peak_label: r.peak_label,
                peak_area: r.peak_area,
            })
            .collect(),
    })
}
