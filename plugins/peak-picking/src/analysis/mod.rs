//! Analysis core of the peak-picking plugin: everything that turns the bytes of an mzML file
//! and a target list into a summary, a centroiding report and ms-mint compatible target
//! metrics. Nothing here knows about HTTP, storage or the SDK.
//!
//! Pipeline (spec `peak-picking.md` §3 "Processing", steps 1–5):
//!
//! 1. [`mzml::load_run`] detects gzip, parses mzML (indexed or plain) with `mzdata`, converts
//!    retention times to **seconds** and sorts the spectra by retention time.
//! 2. [`summary::summarize`] counts spectra, MS levels and data modes, the RT range and the TIC.
//! 3. [`centroid::centroid`] peak-picks the profile spectra of one MS level with `mzsignal`.
//! 4. [`targets::validate_targets`] / [`targets::parse_targets_csv`] turn JSON or CSV targets
//!    into validated [`targets::Target`]s (RT in seconds, m/z, widths in ppm).
//! 5. [`extract::extract`] integrates every target over the MS1 spectra like ms-mint 1.1.2, and
//!    [`csv_out::results_csv`] writes the result table.
//!
//! Units throughout: retention time in seconds, m/z in thomson (m/z units), widths and mass
//! differences in ppm, intensities in the file's (detector count) units.
//!
//! Every problem with the input is an [`InputError`] whose `field` names the input that caused
//! it (`file`/`path`, `targets[3].rt_unit`, `targets.csv:line 5`, `centroid.signal_to_noise`).

pub mod centroid;
pub mod csv_out;
pub mod extract;
pub mod mzml;
pub mod summary;
pub mod targets;

use std::fmt;

pub use centroid::{CentroidParams, CentroidingReport, PickedPeak, centroid, pick_peaks};
pub use csv_out::{RESULTS_CSV_HEADER, results_csv};
pub use extract::{Eic, TargetResult, extract};
pub use mzml::{DataMode, Run, Spectrum, load_run};
pub use summary::{DataModeCounts, Summary, summarize};
pub use targets::{Target, TargetInput, parse_targets_csv, validate_targets};

/// A problem with the user's input (file, targets or parameters), reported as a 400
/// `VALIDATION_ERROR` whose `details.field` is [`InputError::field`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    /// The input the problem is in, as spec §4 names it: `file` or `path` (whatever the caller
    /// passed to [`load_run`]), `targets[3].rt_unit` (JSON target, 0-based index),
    /// `targets.csv:line 5` (CSV row, line number as in the file, header = line 1),
    /// `centroid.signal_to_noise`, `centroid.ms_level`.
    pub field: String,
    /// A message a lab user understands, without the field name.
    pub message: String,
}

impl InputError {
    /// Build an error for `field` with `message`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for InputError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_error_displays_field_and_message() {
        let e = InputError::new("targets[3].rt_unit", "must be \"s\" or \"min\"");
        assert_eq!(
            e.to_string(),
            "targets[3].rt_unit: must be \"s\" or \"min\""
        );
        let boxed: Box<dyn std::error::Error> = Box::new(e);
        assert!(boxed.to_string().starts_with("targets[3]"));
    }
}
