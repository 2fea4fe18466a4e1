//! Run summary (spec §3 step 3): number of spectra, count per MS level, retention-time range
//! in seconds, total ion current and data-mode counts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::mzml::{DataMode, Run};

/// Number of spectra per data mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataModeCounts {
    /// Spectra marked `profile spectrum` (MS:1000128).
    pub profile: usize,
    /// Spectra marked `centroid spectrum` (MS:1000127).
    pub centroid: usize,
    /// Spectra whose data mode the file does not state.
    pub unknown: usize,
}

/// Summary of a [`Run`], serialized into the run object as `summary`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Number of readable spectra (all MS levels).
    pub spectra: usize,
    /// Spectra per MS level; serialized as a JSON object with string keys (`{"1": 14, "2": 34}`),
    /// ordered by level.
    pub ms_levels: BTreeMap<u8, usize>,
    /// `[first, last]` retention time in **seconds**, `null` for an empty run.
    pub rt_range_seconds: Option<[f64; 2]>,
    /// Sum of all intensities of all readable spectra (detector counts).
    pub tic_total: f64,
    /// Spectra per data mode.
    pub data_modes: DataModeCounts,
    /// Spectra in the file that were left out (no MS level or no m/z / intensity array).
    pub spectra_skipped: usize,
}

/// Summarize a run. O(number of points) for the TIC, otherwise O(number of spectra).
pub fn summarize(run: &Run) -> Summary {
    let mut ms_levels = BTreeMap::new();
    let mut data_modes = DataModeCounts::default();
    let mut tic_total = 0.0;
    let mut rt_range: Option<[f64; 2]> = None;
    for s in &run.spectra {
        *ms_levels.entry(s.ms_level).or_insert(0) += 1;
        match s.mode {
            DataMode::Profile => data_modes.profile += 1,
            DataMode::Centroid => data_modes.centroid += 1,
            DataMode::Unknown => data_modes.unknown += 1,
        }
        tic_total += s.tic();
        rt_range = Some(match rt_range {
            None => [s.rt_seconds, s.rt_seconds],
            Some([lo, hi]) => [lo.min(s.rt_seconds), hi.max(s.rt_seconds)],
        });
    }
    Summary {
        spectra: run.spectra.len(),
        ms_levels,
        rt_range_seconds: rt_range,
        tic_total,
        data_modes,
        spectra_skipped: run.skipped_spectra,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::mzml::tests::{SMALL, THREE, hilic_run, load};

    #[test]
    fn small_file_summary_counts_levels_modes_and_rt_range() {
        let run = load(SMALL);
        let s = summarize(&run);
        assert_eq!(s.spectra, 48);
        assert_eq!(s.ms_levels.get(&1), Some(&14));
        assert_eq!(s.ms_levels.get(&2), Some(&34));
        assert_eq!(
            s.data_modes,
            DataModeCounts {
                profile: 14,
                centroid: 34,
                unknown: 0
            }
        );
        let [lo, hi] = s.rt_range_seconds.expect("range");
        assert_eq!(lo, run.spectra[0].rt_seconds);
        assert_eq!(hi, run.spectra[47].rt_seconds);
        assert!(lo < hi);
        let tic: f64 = run.spectra.iter().flat_map(|s| s.intensity.iter()).sum();
        assert!(
            (s.tic_total - tic).abs() <= 1e-9 * tic,
            "{} vs {tic}",
            s.tic_total
        );
        assert!(s.tic_total > 0.0);
    }

    #[test]
    fn summary_serializes_levels_with_string_keys() {
        let s = summarize(&load(THREE));
        let json = serde_json::to_value(&s).expect("serializes");
        assert_eq!(json["spectra"], 3);
        assert!(json["ms_levels"].is_object());
        let total: u64 = json["ms_levels"]
            .as_object()
            .expect("object")
            .values()
            .filter_map(|v| v.as_u64())
            .sum();
        assert_eq!(total, 3);
        assert_eq!(json["data_modes"]["profile"], 3);
        assert!(json["rt_range_seconds"].is_array());
        let keys: Vec<&str> = json
            .as_object()
            .expect("obj")
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(
            keys,
            [
                "spectra",
                "ms_levels",
                "rt_range_seconds",
                "tic_total",
                "data_modes",
                "spectra_skipped"
            ]
        );
    }

    #[test]
    fn hilic_summary_spans_the_twelve_minute_run() {
        let s = summarize(hilic_run());
        assert_eq!(s.spectra, 1199);
        assert_eq!(s.ms_levels.len(), 1);
        assert_eq!(s.data_modes.centroid, 1199);
        let [lo, hi] = s.rt_range_seconds.expect("range");
        assert_eq!(lo, 0.203238);
        assert_eq!(hi, hilic_run().spectra[1198].rt_seconds);
        assert!(hi > 700.0 && hi < 730.0, "{hi}");
    }

    #[test]
    fn empty_run_has_null_rt_range() {
        let s = summarize(&Run::default());
        assert_eq!(s.spectra, 0);
        assert_eq!(s.rt_range_seconds, None);
        assert_eq!(
            serde_json::to_value(&s).expect("json")["rt_range_seconds"],
            serde_json::Value::Null
        );
    }
}
