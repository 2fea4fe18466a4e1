//! Centroiding of profile spectra (spec §3 step 4) with `mzsignal`'s [`PeakPicker`].
//!
//! Every **profile** spectrum of the requested MS level is peak-picked at a signal-to-noise
//! threshold. `mzsignal` can report a peak whose `signal_to_noise` is below the threshold it
//! was given (it clamps S/N to the peak's intensity *after* the threshold test), so picked
//! peaks are filtered again on the picker's own `signal_to_noise` field: every reported peak
//! has S/N ≥ threshold, none below. The picker `panic!`s on some degenerate input (e.g. a fitted
//! m/z below 1); such a spectrum is counted in `spectra_failed` instead of crashing.

use std::panic::{AssertUnwindSafe, catch_unwind};

use mzsignal::peak_picker::{PeakFitType, PeakPicker};
use serde::{Deserialize, Serialize};

use super::InputError;
use super::mzml::{DataMode, Run, Spectrum};

/// Number of most intense peaks reported in [`CentroidingReport::top_peaks`].
pub const TOP_PEAKS: usize = 5;

/// Centroiding parameters (`centroid` in the request).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CentroidParams {
    /// Minimum signal-to-noise ratio of a reported peak (dimensionless, > 0; default 3.0).
    pub signal_to_noise: f64,
    /// MS level whose profile spectra are centroided (≥ 1; default 1).
    pub ms_level: u8,
}

impl Default for CentroidParams {
    fn default() -> Self {
        Self {
            signal_to_noise: 3.0,
            ms_level: 1,
        }
    }
}

impl CentroidParams {
    /// Check the parameters: `signal_to_noise` finite and > 0 (field
    /// `centroid.signal_to_noise`), `ms_level` ≥ 1 (field `centroid.ms_level`).
    pub fn validate(&self) -> Result<(), InputError> {
        if !(self.signal_to_noise.is_finite() && self.signal_to_noise > 0.0) {
            return Err(InputError::new(
                "centroid.signal_to_noise",
                format!(
                    "must be a number greater than 0 (got {})",
                    self.signal_to_noise
                ),
            ));
        }
        if self.ms_level < 1 {
            return Err(InputError::new("centroid.ms_level", "must be 1 or greater"));
        }
        Ok(())
    }
}

/// One centroided peak.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PickedPeak {
    /// Fitted peak centre (m/z).
    pub mz: f64,
    /// Apex intensity (detector counts).
    pub intensity: f64,
    /// Full width at half maximum (m/z units; `mzsignal` caps it at 1).
    pub fwhm: f64,
    /// Signal-to-noise ratio as estimated by `mzsignal` (dimensionless).
    pub signal_to_noise: f64,
}

/// Result of centroiding, serialized into the run object as `centroiding`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CentroidingReport {
    /// MS level that was centroided.
    pub ms_level: u8,
    /// Signal-to-noise threshold used.
    pub signal_to_noise: f64,
    /// Profile spectra of that MS level that were peak-picked.
    pub spectra_processed: usize,
    /// Profile spectra the peak picker could not handle (degenerate data); not in the counts.
    pub spectra_failed: usize,
    /// Peaks found over all processed spectra.
    pub total_peaks: usize,
    /// Median number of peaks per processed spectrum; `null` when none was processed.
    pub median_peaks_per_spectrum: Option<f64>,
    /// Native id of the most intense processed spectrum (largest TIC); `null` when none.
    pub top_spectrum_id: Option<String>,
    /// Retention time of that spectrum in **seconds**; `null` when none.
    pub top_spectrum_rt_seconds: Option<f64>,
    /// Up to five most intense peaks of that spectrum, most intense first.
    pub top_peaks: Vec<PickedPeak>,
}

/// Peak-pick one spectrum with `mzsignal` at `signal_to_noise` (quadratic fit) and keep only
/// peaks whose own S/N is ≥ the threshold. Peaks are in m/z order.
///
/// Errors (as text) when the picker rejects or panics on the data.
pub fn pick_peaks(spectrum: &Spectrum, signal_to_noise: f64) -> Result<Vec<PickedPeak>, String> {
    let threshold = signal_to_noise as f32;
    let picker = PeakPicker::new(0.0, 0.0, threshold, PeakFitType::Quadratic);
    // mzsignal works on f32 intensities; file intensities are normally f32 already.
    let intensity: Vec<f32> = spectrum.intensity.iter().map(|&v| v as f32).collect();
    let mz = &spectrum.mz;
    let mut fitted = Vec::new();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        picker.discover_peaks(mz, &intensity, &mut fitted)
    }));
    match outcome {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Err(e.to_string()),
        Err(_) => return Err("the peak picker failed on this spectrum".to_string()),
    }
    let mut peaks: Vec<PickedPeak> = fitted
        .into_iter()
        .filter(|p| p.signal_to_noise >= threshold)
        .map(|p| PickedPeak {
            mz: p.mz,
            intensity: f64::from(p.intensity),
            fwhm: f64::from(p.full_width_at_half_max),
            signal_to_noise: f64::from(p.signal_to_noise),
        })
        .collect();
    // Fitted centres of neighbouring apexes can cross; report in m/z order.
    peaks.sort_by(|a, b| a.mz.total_cmp(&b.mz));
    Ok(peaks)
}

/// Centroid every profile spectrum of `params.ms_level` in `run`.
///
/// `params` should have passed [`CentroidParams::validate`]; an invalid threshold simply
/// yields whatever the picker makes of it. A run without profile spectra gives a report with
/// zero counts and `null`s.
pub fn centroid(run: &Run, params: &CentroidParams) -> CentroidingReport {
    let mut counts = Vec::new();
    let mut failed = 0;
    let mut total = 0;
    // (TIC, spectrum, its peaks) of the most intense spectrum so far.
    let mut top: Option<(f64, &Spectrum, Vec<PickedPeak>)> = None;
    for spectrum in run
        .spectra
        .iter()
        .filter(|s| s.mode == DataMode::Profile && s.ms_level == params.ms_level)
    {
        let peaks = match pick_peaks(spectrum, params.signal_to_noise) {
            Ok(p) => p,
            Err(e) => {
                tracing::debug!(spectrum = %spectrum.id, error = %e, "peak picking failed");
                failed += 1;
                continue;
            }
        };
        counts.push(peaks.len());
        total += peaks.len();
        let tic = spectrum.tic();
        if top.as_ref().is_none_or(|(best, _, _)| tic > *best) {
            top = Some((tic, spectrum, peaks));
        }
    }
    let (top_spectrum_id, top_spectrum_rt_seconds, top_peaks) = match top {
        Some((_, s, mut peaks)) => {
            peaks.sort_by(|a, b| b.intensity.total_cmp(&a.intensity));
            peaks.truncate(TOP_PEAKS);
            (Some(s.id.clone()), Some(s.rt_seconds), peaks)
        }
        None => (None, None, Vec::new()),
    };
    CentroidingReport {
        ms_level: params.ms_level,
        signal_to_noise: params.signal_to_noise,
        spectra_processed: counts.len(),
        spectra_failed: failed,
        total_peaks: total,
        median_peaks_per_spectrum: median(&mut counts),
        top_spectrum_id,
        top_spectrum_rt_seconds,
        top_peaks,
    }
}

fn median(counts: &mut [usize]) -> Option<f64> {
    if counts.is_empty() {
        return None;
    }
    counts.sort_unstable();
    let n = counts.len();
    Some(if n % 2 == 1 {
        counts[n / 2] as f64
    } else {
        (counts[n / 2 - 1] as f64 + counts[n / 2] as f64) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::mzml::load_run;
    use crate::analysis::mzml::tests::{EXAMPLES, SMALL, THREE, hilic_run, load, read};

    fn profile_spectra(run: &Run, level: u8) -> Vec<&Spectrum> {
        run.spectra
            .iter()
            .filter(|s| s.mode == DataMode::Profile && s.ms_level == level)
            .collect()
    }

    #[test]
    fn profile_spectra_give_peaks_all_at_or_above_the_threshold() {
        for path in [SMALL, THREE] {
            let run = load(path);
            let profiles = profile_spectra(&run, 1);
            assert!(!profiles.is_empty(), "{path}");
            let mut total = 0;
            for s in &profiles {
                let peaks = pick_peaks(s, 3.0).expect("picks");
                assert!(!peaks.is_empty(), "{path}: {} has no peaks", s.id);
                for p in &peaks {
                    assert!(
                        p.signal_to_noise >= 3.0,
                        "{path}: S/N {} < 3",
                        p.signal_to_noise
                    );
                    assert!(p.fwhm > 0.0 && p.fwhm <= 1.0);
                    assert!(p.mz >= s.mz[0] - 1.0 && p.mz <= s.mz[s.mz.len() - 1] + 1.0);
                }
                assert!(peaks.windows(2).all(|w| w[0].mz <= w[1].mz));
                total += peaks.len();
            }
            let report = centroid(&run, &CentroidParams::default());
            assert_eq!(report.spectra_processed, profiles.len(), "{path}");
            assert_eq!(report.spectra_failed, 0);
            assert_eq!(report.total_peaks, total);
            assert!(report.median_peaks_per_spectrum.expect("median") > 0.0);
        }
    }

    #[test]
    fn reported_peaks_are_the_pickers_own_peaks_at_or_above_threshold() {
        // mzsignal clamps S/N to the intensity after its threshold test, so its raw output
        // may hold peaks under the threshold; the reported ones are exactly those at or above.
        let run = load(SMALL);
        for s in profile_spectra(&run, 1) {
            let threshold = 3.0_f32;
            let picker = PeakPicker::new(0.0, 0.0, threshold, PeakFitType::Quadratic);
            let intensity: Vec<f32> = s.intensity.iter().map(|&v| v as f32).collect();
            let mut raw = Vec::new();
            picker
                .discover_peaks(&s.mz, &intensity, &mut raw)
                .expect("picks");
            let kept = pick_peaks(s, 3.0).expect("picks");
            let raw_above = raw
                .iter()
                .filter(|p| p.signal_to_noise >= threshold)
                .count();
            assert_eq!(kept.len(), raw_above);
            if raw_above < raw.len() {
                eprintln!(
                    "{}: picker returned {} peaks under S/N {threshold}",
                    s.id,
                    raw.len() - raw_above
                );
            }
        }
    }

    #[test]
    fn higher_threshold_gives_fewer_peaks() {
        for path in [SMALL, THREE] {
            let run = load(path);
            let low = centroid(&run, &CentroidParams::default());
            let high = centroid(
                &run,
                &CentroidParams {
                    signal_to_noise: 20.0,
                    ms_level: 1,
                },
            );
            assert!(
                high.total_peaks < low.total_peaks,
                "{path}: {} !< {}",
                high.total_peaks,
                low.total_peaks
            );
            assert_eq!(high.spectra_processed, low.spectra_processed);
            let spectra = profile_spectra(&run, 1);
            for s in spectra {
                let p20 = pick_peaks(s, 20.0).expect("picks");
                assert!(p20.iter().all(|p| p.signal_to_noise >= 20.0));
            }
        }
    }

    #[test]
    fn report_names_the_most_intense_spectrum_and_its_top_five_peaks() {
        let run = load(SMALL);
        let report = centroid(&run, &CentroidParams::default());
        let profiles = profile_spectra(&run, 1);
        let best = profiles
            .iter()
            .max_by(|a, b| a.tic().total_cmp(&b.tic()))
            .expect("profiles");
        assert_eq!(report.top_spectrum_id.as_deref(), Some(best.id.as_str()));
        assert_eq!(report.top_spectrum_rt_seconds, Some(best.rt_seconds));
        assert_eq!(report.top_peaks.len(), TOP_PEAKS);
        let mut all = pick_peaks(best, 3.0).expect("picks");
        all.sort_by(|a, b| b.intensity.total_cmp(&a.intensity));
        assert_eq!(report.top_peaks, all[..TOP_PEAKS]);
        assert!(
            report
                .top_peaks
                .windows(2)
                .all(|w| w[0].intensity >= w[1].intensity)
        );

        let json = serde_json::to_value(&report).expect("json");
        for key in ["mz", "intensity", "fwhm"] {
            assert!(json["top_peaks"][0][key].is_number(), "{key}");
        }
    }

    #[test]
    fn ms2_profile_level_and_centroid_runs_process_nothing() {
        // small.mzML's MS2 spectra are centroid; HILIC has no profile spectra at all.
        let run = load(SMALL);
        let report = centroid(
            &run,
            &CentroidParams {
                signal_to_noise: 3.0,
                ms_level: 2,
            },
        );
        assert_eq!(report.spectra_processed, 0);
        assert_eq!(report.total_peaks, 0);
        assert_eq!(report.median_peaks_per_spectrum, None);
        assert_eq!(report.top_spectrum_id, None);
        assert!(report.top_peaks.is_empty());

        let report = centroid(hilic_run(), &CentroidParams::default());
        assert_eq!(report.spectra_processed, 0);
        let json = serde_json::to_value(&report).expect("json");
        assert!(json["median_peaks_per_spectrum"].is_null());
    }

    #[test]
    fn single_profile_spectrum_of_a_maldi_file_is_centroided() {
        let path = format!("{EXAMPLES}/peakpicker_tutorial_2.mzML");
        let run = load_run(&read(&path), "file").expect("loads");
        // Older OpenMS file: if the data mode reads as unknown nothing is processed; if
        // profile, peaks must satisfy the threshold.
        let report = centroid(&run, &CentroidParams::default());
        let profiles = profile_spectra(&run, 1).len();
        assert_eq!(report.spectra_processed + report.spectra_failed, profiles);
        assert!(report.top_peaks.iter().all(|p| p.signal_to_noise >= 3.0));
    }

    #[test]
    fn params_validate_and_deserialize_with_defaults() {
        let p: CentroidParams = serde_json::from_str("{}").expect("defaults");
        assert_eq!(p, CentroidParams::default());
        assert_eq!(p.signal_to_noise, 3.0);
        assert_eq!(p.ms_level, 1);
        let p: CentroidParams = serde_json::from_str(r#"{"signal_to_noise": 5}"#).expect("partial");
        assert_eq!((p.signal_to_noise, p.ms_level), (5.0, 1));
        assert!(p.validate().is_ok());

        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let e = CentroidParams {
                signal_to_noise: bad,
                ms_level: 1,
            }
            .validate()
            .expect_err("invalid");
            assert_eq!(e.field, "centroid.signal_to_noise");
        }
        let e = CentroidParams {
            signal_to_noise: 3.0,
            ms_level: 0,
        }
        .validate()
        .expect_err("invalid");
        assert_eq!(e.field, "centroid.ms_level");
    }

    #[test]
    fn degenerate_profile_spectra_do_not_panic() {
        let base = Spectrum {
            index: 0,
            id: "x".into(),
            ms_level: 1,
            rt_seconds: 0.0,
            mode: DataMode::Profile,
            mz: vec![],
            intensity: vec![],
        };
        let cases = [
            (vec![], vec![]),
            (vec![100.0], vec![5.0]),
            (vec![100.0, 100.1], vec![5.0, 1.0]),
            // m/z below 1 makes mzsignal's fit panic.
            (
                vec![0.1, 0.2, 0.3, 0.4, 0.5],
                vec![0.0, 1.0, 100.0, 1.0, 0.0],
            ),
            (vec![100.0, 100.01, 100.02], vec![0.0, 0.0, 0.0]),
        ];
        for (mz, intensity) in cases {
            let s = Spectrum {
                mz,
                intensity,
                ..base.clone()
            };
            let run = Run {
                spectra: vec![s.clone()],
                skipped_spectra: 0,
            };
            let report = centroid(&run, &CentroidParams::default());
            assert_eq!(report.spectra_processed + report.spectra_failed, 1);
            if let Ok(peaks) = pick_peaks(&s, 3.0) {
                assert!(peaks.iter().all(|p| p.signal_to_noise >= 3.0));
            }
        }
    }

    #[test]
    fn median_handles_odd_and_even_counts() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [3]), Some(3.0));
        assert_eq!(median(&mut [5, 1, 3]), Some(3.0));
        assert_eq!(median(&mut [4, 1, 3, 2]), Some(2.5));
    }
}
