//! Targeted extraction (spec §3 step 5), computed the way ms-mint 1.1.2 does
//! (`ms_mint.processing.extract_ms1_properties` over `slice_ms1_array`).
//!
//! Per target, over the **MS1** spectra, a point counts when
//! `|m/z − mz_mean| ≤ mz_width · mz_mean · 1e-6`, `rt_min ≤ RT ≤ rt_max` (closed, seconds;
//! an absent bound is open) and its intensity passes `intensity_threshold`.
//!
//! **Intensities are truncated to integers** before anything is computed, because ms-mint
//! 1.1.2 reads mzML intensities with `astype(int)` (truncation toward zero) and its
//! `peak_area`, `peak_max`, ... are sums and extremes of those integers; exact agreement with
//! ms-mint (spec checklist) needs the same. The threshold is applied to the truncated value too
//! (ms-mint does the same), and a negative intensity never counts (spec), even if it truncates
//! to 0. m/z and RT are used as the file gives them (ms-mint rounds both to 32-bit floats; this
//! can only matter for a point within ~0.06 ppm / ~0.00003 s of a window edge).
//!
//! Cost: for each target, a binary search for the RT window over the MS1 spectra and, per
//! spectrum in it, a binary search for the m/z window (spectra are m/z-sorted by
//! [`load_run`](super::mzml::load_run)): O(targets × scans-in-window × log points), never a
//! scan of all points per target. Arrays are borrowed, not cloned.

use serde::{Deserialize, Serialize};

use super::mzml::{Run, Spectrum};
use super::targets::Target;

/// Extracted ion chromatogram of one target: per MS1 scan with at least one matching point,
/// its RT (**seconds**) and the maximum (truncated) intensity inside the window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Eic {
    /// Scan retention times in seconds, ascending.
    pub rt: Vec<f64>,
    /// Maximum matching intensity of each scan (detector counts, truncated to an integer).
    pub intensity: Vec<f64>,
}

/// Peak metrics of one target; JSON field order as listed. Intensities are detector counts
/// truncated to integers (see the module docs), RTs are seconds, mass differences ppm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetResult {
    /// Echo of [`Target::peak_label`].
    pub peak_label: String,
    /// Echo of [`Target::mz_mean`] (m/z).
    pub mz_mean: f64,
    /// Echo of [`Target::mz_width`] (ppm).
    pub mz_width: f64,
    /// Echo of [`Target::rt_min`] (seconds), `null` = unbounded.
    pub rt_min: Option<f64>,
    /// Echo of [`Target::rt_max`] (seconds), `null` = unbounded.
    pub rt_max: Option<f64>,
    /// Echo of [`Target::rt`] (seconds).
    pub rt: Option<f64>,
    /// Echo of [`Target::target_filename`].
    pub target_filename: Option<String>,
    /// Sum of the matching intensities; 0 when nothing matches.
    pub peak_area: f64,
    /// ms-mint's / El-MAVEN's "area top 3": on the per-RT trace (RT rounded to 0.01 s, maximum
    /// intensity per RT), the apex plus the neighbour on each side that exists, summed and
    /// floor-divided by 3 (even when fewer than 3 points exist); 0 when nothing matches.
    pub peak_area_top3: f64,
    /// Largest matching intensity; 0 when nothing matches.
    pub peak_max: f64,
    /// Smallest matching intensity; `null` when nothing matches.
    pub peak_min: Option<f64>,
    /// Mean matching intensity; `null` when nothing matches.
    pub peak_mean: Option<f64>,
    /// Median matching intensity (mean of the two middle values for an even count).
    pub peak_median: Option<f64>,
    /// RT (seconds) of the first point with the largest intensity.
    pub peak_rt_of_max: Option<f64>,
    /// Number of matching points.
    pub peak_n_datapoints: usize,
    /// 25th percentile of the matching points' (m/z − mz_mean) in ppm of mz_mean (linear
    /// interpolation, as numpy's default).
    pub peak_mass_diff_25pc: Option<f64>,
    /// Median of (m/z − mz_mean) in ppm.
    pub peak_mass_diff_50pc: Option<f64>,
    /// 75th percentile of (m/z − mz_mean) in ppm.
    pub peak_mass_diff_75pc: Option<f64>,
    /// The target's extracted ion chromatogram (absent in stored history entries, which drop
    /// it; deserializes as empty then).
    #[serde(default)]
    pub eic: Eic,
}

/// Extract every target from the MS1 spectra of `run`, in target order.
///
/// `run.spectra` is expected in RT order, as [`load_run`](super::mzml::load_run) returns it;
/// a run in another order is sorted (by reference) first. Memory is O(points of one target),
/// reused across targets.
pub fn extract(run: &Run, targets: &[Target]) -> Vec<TargetResult> {
    let mut ms1: Vec<&Spectrum> = run.spectra.iter().filter(|s| s.ms_level == 1).collect();
    if !ms1.is_sorted_by(|a, b| a.rt_seconds <= b.rt_seconds) {
        ms1.sort_by(|a, b| a.rt_seconds.total_cmp(&b.rt_seconds));
    }
    let mut scratch = Scratch::default();
    targets
        .iter()
        .map(|t| extract_one(&ms1, t, &mut scratch))
        .collect()
}

/// Buffers reused from target to target.
#[derive(Default)]
struct Scratch {
    rts: Vec<f64>,
    mzs: Vec<f64>,
    values: Vec<f64>,
    sorted: Vec<f64>,
}

fn extract_one(ms1: &[&Spectrum], t: &Target, scratch: &mut Scratch) -> TargetResult {
    let Scratch {
        rts,
        mzs,
        values,
        sorted,
    } = scratch;
    rts.clear();
    mzs.clear();
    values.clear();
    let mut eic = Eic::default();

    // Same expression order as ms-mint's `delta_mass = mz_width * mz_mean * 1e-6`.
    let delta = t.mz_width * t.mz_mean * 1e-6;
    let mean = t.mz_mean;
    let inside = |m: f64| (m - mean).abs() <= delta;
    let first = t
        .rt_min
        .map_or(0, |lo| ms1.partition_point(|s| s.rt_seconds < lo));
    let last = t
        .rt_max
        .map_or(ms1.len(), |hi| ms1.partition_point(|s| s.rt_seconds <= hi));
    for s in ms1.get(first..last).unwrap_or(&[]) {
        // Points below the window form a prefix (m < mean and mean − m > delta).
        let start = s.mz.partition_point(|&m| m < mean && !inside(m));
        let mut scan_max: Option<f64> = None;
        for (&m, &raw) in s.mz[start..].iter().zip(&s.intensity[start..]) {
            if !inside(m) {
                if m > mean {
                    break;
                }
                continue;
            }
            let value = raw.trunc();
            if raw < 0.0 || value < t.intensity_threshold {
                continue;
            }
            rts.push(s.rt_seconds);
            mzs.push(m);
            values.push(value);
            scan_max = Some(scan_max.map_or(value, |v: f64| v.max(value)));
        }
        if let Some(v) = scan_max {
            eic.rt.push(s.rt_seconds);
            eic.intensity.push(v);
        }
    }

    let mut result = TargetResult {
        peak_label: t.peak_label.clone(),
        mz_mean: t.mz_mean,
        mz_width: t.mz_width,
        rt_min: t.rt_min,
        rt_max: t.rt_max,
        rt: t.rt,
        target_filename: t.target_filename.clone(),
        peak_area: 0.0,
        peak_area_top3: 0.0,
        peak_max: 0.0,
        peak_min: None,
        peak_mean: None,
        peak_median: None,
        peak_rt_of_max: None,
        peak_n_datapoints: values.len(),
        peak_mass_diff_25pc: None,
        peak_mass_diff_50pc: None,
        peak_mass_diff_75pc: None,
        eic: Eic::default(),
    };
    if values.is_empty() {
        return result;
    }

    let n = values.len();
    let area: f64 = values.iter().sum();
    let (mut imax, mut vmax, mut vmin) = (0, values[0], values[0]);
    for (i, &v) in values.iter().enumerate() {
        if v > vmax {
            imax = i;
            vmax = v;
        }
        vmin = vmin.min(v);
    }
    sorted.clear();
    sorted.extend_from_slice(values);
    sorted.sort_by(f64::total_cmp);
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    };
    sorted.clear();
    sorted.extend_from_slice(mzs);
    sorted.sort_by(f64::total_cmp);
    let ppm = |q: f64| (quantile_linear(sorted, q) - mean) / (1e-6 * mean);

    result.peak_area = area;
    result.peak_area_top3 = area_top3(&eic);
    result.peak_max = vmax;
    result.peak_min = Some(vmin);
    result.peak_mean = Some(area / n as f64);
    result.peak_median = Some(median);
    result.peak_rt_of_max = Some(rts[imax]);
    result.peak_mass_diff_25pc = Some(ppm(0.25));
    result.peak_mass_diff_50pc = Some(ppm(0.5));
    result.peak_mass_diff_75pc = Some(ppm(0.75));
    result.eic = eic;
    result
}

/// ms-mint's `peak_area_top3` from the per-scan maxima (`eic`, RT ascending): group by RT
/// rounded to 0.01 s (numpy rounding: half to even of `rt·100`) keeping the maximum, take the
/// first maximum of that trace and its existing neighbours, sum, floor-divide by 3.
fn area_top3(eic: &Eic) -> f64 {
    let mut trace: Vec<(f64, f64)> = Vec::with_capacity(eic.rt.len());
    for (&rt, &v) in eic.rt.iter().zip(&eic.intensity) {
        let key = (rt * 100.0).round_ties_even() / 100.0;
        match trace.last_mut() {
            Some((k, best)) if *k == key => *best = best.max(v),
            _ => trace.push((key, v)),
        }
    }
    let Some(apex) = trace
        .iter()
        .enumerate()
        .fold(
            None,
            |best: Option<(usize, f64)>, (i, &(_, v))| match best {
                Some((_, b)) if b >= v => best,
                _ => Some((i, v)),
            },
        )
        .map(|(i, _)| i)
    else {
        return 0.0;
    };
    let lo = apex.saturating_sub(1);
    let hi = (apex + 2).min(trace.len());
    let sum: f64 = trace[lo..hi].iter().map(|&(_, v)| v).sum();
    python_floor_div(sum, 3.0)
}

/// Python's float `//` (CPython `float_floor_div`), so results match ms-mint bit for bit.
fn python_floor_div(a: f64, b: f64) -> f64 {
    let m = a % b;
    let mut div = (a - m) / b;
    if m != 0.0 && ((b < 0.0) != (m < 0.0)) {
        div -= 1.0;
    }
    if div != 0.0 {
        let mut floordiv = div.floor();
        if div - floordiv > 0.5 {
            floordiv += 1.0;
        }
        floordiv
    } else {
        0.0_f64.copysign(a / b)
    }
}

/// numpy's default (`linear`) quantile of an ascending, non-empty slice, including numpy's
/// `_lerp` formulation (interpolating from the upper value when the fraction is ≥ 0.5).
fn quantile_linear(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    if n == 1 {
        return sorted[0];
    }
    let virtual_index = q * (n - 1) as f64;
    let below = virtual_index.floor();
    let gamma = virtual_index - below;
    let i = (below as usize).min(n - 1);
    let a = sorted[i];
    let b = sorted[(i + 1).min(n - 1)];
    let diff = b - a;
    if gamma >= 0.5 {
        b - diff * (1.0 - gamma)
    } else {
        a + diff * gamma
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::mzml::tests::{HILIC, hilic_run, load};
    use crate::analysis::mzml::{DataMode, load_run};
    use crate::analysis::targets::tests::hilic_targets;
    use crate::analysis::targets::{TargetInput, validate_targets};
    use serde_json::{Value, json};

    const FIXTURE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/msmint-1.1.2-HILICNeg15_StdH1.json"
    );

    fn target(label: &str, mz: f64, ppm: f64, rt: Option<(f64, f64)>) -> Target {
        Target {
            peak_label: label.into(),
            mz_mean: mz,
            mz_width: ppm,
            rt_min: rt.map(|r| r.0),
            rt_max: rt.map(|r| r.1),
            rt_unit: "s".into(),
            intensity_threshold: 0.0,
            rt: None,
            target_filename: None,
        }
    }

    /// Brute force over every point, for cross-checking the binary searches.
    fn brute_force(run: &Run, t: &Target) -> (usize, f64, f64) {
        let delta = t.mz_width * t.mz_mean * 1e-6;
        let (mut n, mut area, mut max) = (0, 0.0, 0.0_f64);
        for s in run.spectra.iter().filter(|s| s.ms_level == 1) {
            if t.rt_min.is_some_and(|lo| s.rt_seconds < lo)
                || t.rt_max.is_some_and(|hi| s.rt_seconds > hi)
            {
                continue;
            }
            for (&m, &i) in s.mz.iter().zip(&s.intensity) {
                if (m - t.mz_mean).abs() <= delta && i >= 0.0 && i.trunc() >= t.intensity_threshold
                {
                    n += 1;
                    area += i.trunc();
                    max = max.max(i.trunc());
                }
            }
        }
        (n, area, max)
    }

    #[test]
    fn hilic_targets_find_their_peaks_near_the_expected_rt() {
        let run = hilic_run();
        let targets = hilic_targets();
        let results = extract(run, &targets);
        assert_eq!(results.len(), 6);
        for (r, t) in results.iter().zip(&targets) {
            assert_eq!(r.peak_label, t.peak_label);
            assert!(r.peak_n_datapoints > 0, "{}: nothing found", r.peak_label);
            assert!(r.peak_area > 0.0);
            let (n, area, max) = brute_force(run, t);
            assert_eq!(
                (r.peak_n_datapoints, r.peak_area, r.peak_max),
                (n, area, max),
                "{}",
                r.peak_label
            );
            let apex = r.peak_rt_of_max.expect("apex");
            assert!(apex >= t.rt_min.expect("rt_min") && apex <= t.rt_max.expect("rt_max"));
            // Mass errors within the ±10 ppm window.
            for q in [
                r.peak_mass_diff_25pc,
                r.peak_mass_diff_50pc,
                r.peak_mass_diff_75pc,
            ] {
                let q = q.expect("quantile");
                assert!(q.abs() <= 10.0, "{}: {q} ppm", r.peak_label);
            }
            assert!(r.peak_mass_diff_25pc <= r.peak_mass_diff_50pc);
            assert!(r.peak_mass_diff_50pc <= r.peak_mass_diff_75pc);
            // EIC: one entry per scan, maximum equals peak_max, RTs ascending.
            assert_eq!(r.eic.rt.len(), r.eic.intensity.len());
            assert!(!r.eic.rt.is_empty() && r.eic.rt.len() <= r.peak_n_datapoints);
            assert!(r.eic.rt.windows(2).all(|w| w[0] < w[1]));
            assert_eq!(
                r.eic.intensity.iter().copied().fold(0.0, f64::max),
                r.peak_max
            );
            let (min, mean, median) = (
                r.peak_min.expect("min"),
                r.peak_mean.expect("mean"),
                r.peak_median.expect("median"),
            );
            assert!(min <= median && median <= r.peak_max && min <= mean && mean <= r.peak_max);
            assert!(r.peak_area_top3 > 0.0 && r.peak_area_top3 <= r.peak_max);
            assert_eq!(r.peak_area_top3, r.peak_area_top3.trunc());
        }
        // The README notes adenosine, AMP and dihydroorotate apexes within ~5 s of `rt`.
        for label in ["ADENOSINE", "ADENOSINE 5-MONOPHOSPHATE"] {
            let (r, t) = results
                .iter()
                .zip(&targets)
                .find(|(r, _)| r.peak_label == label)
                .expect(label);
            let apex = r.peak_rt_of_max.expect("apex");
            assert!(
                (apex - t.rt.expect("rt")).abs() < 6.0,
                "{label}: apex {apex} vs rt {:?}",
                t.rt
            );
        }
    }

    #[test]
    fn target_without_matching_points_gives_zero_area_and_nulls() {
        let run = hilic_run();
        let results = extract(
            run,
            &[
                target("nothing", 1234.5678, 1.0, None),
                target("empty rt", 250.094559, 10.0, Some((-10.0, -5.0))),
            ],
        );
        for r in &results {
            assert_eq!(r.peak_area, 0.0);
            assert_eq!(r.peak_area_top3, 0.0);
            assert_eq!(r.peak_max, 0.0);
            assert_eq!(r.peak_n_datapoints, 0);
            assert_eq!(r.peak_min, None);
            assert_eq!(r.peak_mean, None);
            assert_eq!(r.peak_median, None);
            assert_eq!(r.peak_rt_of_max, None);
            assert_eq!(r.peak_mass_diff_50pc, None);
            assert!(r.eic.rt.is_empty() && r.eic.intensity.is_empty());
            let json = serde_json::to_value(r).expect("json");
            assert_eq!(json["peak_min"], Value::Null);
            assert_eq!(json["peak_area"], 0.0);
        }
        assert!(extract(run, &[]).is_empty());
    }

    #[test]
    fn rt_bounds_are_closed_and_optional() {
        let run = hilic_run();
        let full = &extract(run, &[target("A", 250.094559, 10.0, None)])[0];
        let apex = full.peak_rt_of_max.expect("apex");
        // A window that is exactly the apex scan's RT keeps that scan.
        let only = &extract(run, &[target("A", 250.094559, 10.0, Some((apex, apex)))])[0];
        assert_eq!(only.peak_max, full.peak_max);
        assert_eq!(only.eic.rt, vec![apex]);
        // Open on one side.
        let mut left = target("A", 250.094559, 10.0, None);
        left.rt_max = Some(apex);
        let mut right = target("A", 250.094559, 10.0, None);
        right.rt_min = Some(apex);
        let (l, r) = (&extract(run, &[left])[0], &extract(run, &[right])[0]);
        assert_eq!(
            l.peak_n_datapoints + r.peak_n_datapoints,
            full.peak_n_datapoints + only.peak_n_datapoints
        );
    }

    #[test]
    fn mz_window_is_inclusive_at_both_edges() {
        let s = Spectrum {
            index: 0,
            id: "s".into(),
            ms_level: 1,
            rt_seconds: 1.0,
            mode: DataMode::Centroid,
            mz: vec![99.9989, 99.999, 100.0, 100.001, 100.0011],
            intensity: vec![1.0, 2.0, 3.0, 4.0, 5.0],
        };
        // delta = 10 * 100 * 1e-6 = 0.001 (up to rounding).
        let delta = 10.0 * 100.0 * 1e-6;
        let run = Run {
            spectra: vec![s.clone()],
            skipped_spectra: 0,
        };
        let r = &extract(&run, &[target("x", 100.0, 10.0, None)])[0];
        let expected: Vec<f64> =
            s.mz.iter()
                .zip(&s.intensity)
                .filter(|(m, _)| (**m - 100.0).abs() <= delta)
                .map(|(_, i)| *i)
                .collect();
        assert_eq!(r.peak_n_datapoints, expected.len());
        assert_eq!(r.peak_area, expected.iter().sum::<f64>());
        assert!(r.peak_n_datapoints >= 1);
    }

    #[test]
    fn intensities_are_truncated_and_negative_or_below_threshold_points_never_count() {
        let s = |rt: f64, ints: Vec<f64>| Spectrum {
            index: 0,
            id: format!("{rt}"),
            ms_level: 1,
            rt_seconds: rt,
            mode: DataMode::Centroid,
            mz: vec![100.0; ints.len()],
            intensity: ints,
        };
        let run = Run {
            spectra: vec![
                s(1.0, vec![10.9, -0.5]),
                s(2.0, vec![99.99, 5.2]),
                s(3.0, vec![0.4]),
            ],
            skipped_spectra: 0,
        };
        let r = &extract(&run, &[target("x", 100.0, 10.0, None)])[0];
        assert_eq!(r.peak_n_datapoints, 4, "10.9, 99.99, 5.2, 0.4 (not -0.5)");
        assert_eq!(r.peak_area, 10.0 + 99.0 + 5.0 + 0.0);
        assert_eq!(r.peak_max, 99.0);
        assert_eq!(r.peak_min, Some(0.0));
        assert_eq!(r.peak_rt_of_max, Some(2.0));
        assert_eq!(r.eic.rt, vec![1.0, 2.0, 3.0]);
        assert_eq!(r.eic.intensity, vec![10.0, 99.0, 0.0]);
        // top3 = (10 + 99 + 0) // 3
        assert_eq!(r.peak_area_top3, 36.0);
        let mut t = target("x", 100.0, 10.0, None);
        t.intensity_threshold = 10.0;
        let r = &extract(&run, &[t])[0];
        assert_eq!(r.peak_n_datapoints, 2);
        assert_eq!(r.peak_area, 109.0);
    }

    #[test]
    fn ms2_spectra_are_ignored() {
        let run = load(crate::analysis::mzml::tests::SMALL);
        // Target the most intense point of the first MS2 spectrum, in a run of just that
        // spectrum: nothing as MS2, found once relabelled as MS1.
        let ms2 = run
            .spectra
            .iter()
            .find(|s| s.ms_level == 2)
            .expect("ms2")
            .clone();
        let k = (0..ms2.mz.len())
            .max_by(|&a, &b| ms2.intensity[a].total_cmp(&ms2.intensity[b]))
            .expect("points");
        let t = target("ms2 only", ms2.mz[k], 1.0, None);
        let only_ms2 = Run {
            spectra: vec![ms2.clone()],
            skipped_spectra: 0,
        };
        assert_eq!(
            extract(&only_ms2, std::slice::from_ref(&t))[0].peak_n_datapoints,
            0
        );
        let as_ms1 = Run {
            spectra: vec![Spectrum {
                ms_level: 1,
                ..ms2.clone()
            }],
            skipped_spectra: 0,
        };
        let r = &extract(&as_ms1, &[t])[0];
        assert!(r.peak_n_datapoints >= 1);
        assert_eq!(r.peak_max, ms2.intensity[k].trunc());
    }

    #[test]
    fn spectra_out_of_order_give_the_same_result_as_sorted() {
        let run = hilic_run();
        let targets = hilic_targets();
        let expected = extract(run, &targets);
        // Permute the in-memory run (reverse + interleave).
        let mut shuffled = run.clone();
        shuffled.spectra.reverse();
        let n = shuffled.spectra.len();
        for i in (0..n).step_by(7) {
            shuffled.spectra.swap(i, (i * 13) % n);
        }
        assert_eq!(extract(&shuffled, &targets), expected);

        // And a file whose <spectrum> elements are in reverse order.
        let xml = String::from_utf8(std::fs::read(HILIC).expect("read")).expect("utf8");
        let start = xml.find("<spectrum ").expect("first");
        let end = xml.find("</spectrumList>").expect("end");
        let mut blocks: Vec<&str> = xml[start..end]
            .split_inclusive("</spectrum>")
            .filter(|b| b.contains("<spectrum "))
            .collect();
        blocks.reverse();
        let reversed = format!("{}{}\n{}", &xml[..start], blocks.concat(), &xml[end..]);
        let reread = load_run(reversed.as_bytes(), "file").expect("loads");
        assert_eq!(extract(&reread, &targets), expected);
    }

    #[test]
    fn rt_in_minutes_and_ms_in_the_file_give_the_same_areas() {
        // Rewrite the file's scan start times to minutes and to milliseconds.
        let xml = String::from_utf8(std::fs::read(HILIC).expect("read")).expect("utf8");
        let targets = hilic_targets();
        let expected = extract(hilic_run(), &targets);
        for (unit, acc, name, scale) in [
            ("min", "UO:0000031", "minute", 1.0 / 60.0),
            ("ms", "UO:0000028", "millisecond", 1000.0),
        ] {
            let mut out = String::with_capacity(xml.len() + 100_000);
            let mut rest = xml.as_str();
            while let Some(at) = rest.find("name=\"scan start time\" value=\"") {
                let v0 = at + "name=\"scan start time\" value=\"".len();
                let v1 = v0 + rest[v0..].find('"').expect("quote");
                let value: f64 = rest[v0..v1].parse().expect("number");
                out.push_str(&rest[..v0]);
                out.push_str(&format!("{}", value * scale));
                let tail = &rest[v1..];
                let tag_end = tail.find("/>").expect("end");
                let rewritten = tail[..tag_end]
                    .replace("UO:0000010", acc)
                    .replace("unitName=\"second\"", &format!("unitName=\"{name}\""));
                out.push_str(&rewritten);
                rest = &tail[tag_end..];
            }
            out.push_str(rest);
            let run = load_run(out.as_bytes(), "file").expect(unit);
            let got = extract(&run, &targets);
            for (g, e) in got.iter().zip(&expected) {
                assert_eq!(g.peak_area, e.peak_area, "{unit}: {}", e.peak_label);
                assert_eq!(g.peak_max, e.peak_max, "{unit}");
                assert_eq!(g.peak_n_datapoints, e.peak_n_datapoints, "{unit}");
                assert_eq!(g.peak_area_top3, e.peak_area_top3, "{unit}");
                let (a, b) = (g.peak_rt_of_max.expect("rt"), e.peak_rt_of_max.expect("rt"));
                assert!((a - b).abs() < 1e-9, "{unit}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn json_targets_in_minutes_select_the_same_points_as_seconds() {
        let run = hilic_run();
        let secs = validate_targets(
            serde_json::from_value::<Vec<TargetInput>>(json!([
                {"peak_label": "AMP", "mz_mean": 346.055725, "rt_min": 540, "rt_max": 570}
            ]))
            .expect("json"),
        )
        .expect("valid");
        let mins = validate_targets(serde_json::from_value::<Vec<TargetInput>>(json!([
            {"peak_label": "AMP", "mz_mean": 346.055725, "rt_min": 9, "rt_max": 9.5, "rt_unit": "min"}
        ])).expect("json")).expect("valid");
        assert_eq!(extract(run, &secs), extract(run, &mins));
    }

    #[test]
    fn numpy_style_quantiles_and_python_floor_division() {
        // numpy.quantile([1, 2, 3, 4], [.25, .5, .75]) == [1.75, 2.5, 3.25]
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(
            [
                quantile_linear(&v, 0.25),
                quantile_linear(&v, 0.5),
                quantile_linear(&v, 0.75)
            ],
            [1.75, 2.5, 3.25]
        );
        assert_eq!(quantile_linear(&[7.0], 0.25), 7.0);
        assert_eq!(quantile_linear(&[1.0, 3.0], 0.5), 2.0);
        assert_eq!(python_floor_div(10.0, 3.0), 3.0);
        assert_eq!(python_floor_div(9.0, 3.0), 3.0);
        assert_eq!(python_floor_div(0.0, 3.0), 0.0);
        assert_eq!(python_floor_div(-1.0, 3.0), -1.0);
        assert_eq!(python_floor_div(1e15 + 2.0, 3.0), 333_333_333_333_334.0);
    }

    #[test]
    fn top3_uses_the_apex_and_its_existing_neighbours() {
        let eic = |rt: Vec<f64>, v: Vec<f64>| Eic { rt, intensity: v };
        assert_eq!(area_top3(&eic(vec![], vec![])), 0.0);
        assert_eq!(area_top3(&eic(vec![1.0], vec![10.0])), 3.0); // 10 // 3
        assert_eq!(area_top3(&eic(vec![1.0, 2.0], vec![10.0, 20.0])), 10.0); // 30 // 3
        assert_eq!(
            area_top3(&eic(vec![1.0, 2.0, 3.0, 4.0], vec![1.0, 20.0, 5.0, 100.0])),
            35.0
        ); // (5+100)//3
        // First maximum wins; RTs that round to the same 0.01 s merge (max).
        assert_eq!(
            area_top3(&eic(vec![1.0, 2.0, 3.0, 4.0], vec![9.0, 30.0, 0.0, 30.0])),
            13.0
        ); // (9+30+0)//3
        assert_eq!(
            area_top3(&eic(vec![1.0, 1.001, 2.0], vec![5.0, 7.0, 2.0])),
            3.0
        ); // (7+2)//3
    }

    /// Compare with ms-mint 1.1.2's own output on the same file and targets (recorded by
    /// `tests/fixtures/record_msmint.sh`). Exact on area, max and point count, RT of max within
    /// 0.01 s; other columns' differences are printed.
    #[test]
    fn hilic_matches_msmint_1_1_2_fixture() {
        let text = std::fs::read_to_string(FIXTURE).unwrap_or_else(|e| {
            panic!("ms-mint fixture {FIXTURE} is missing ({e}); record it with tests/fixtures/record_msmint.sh")
        });
        let fixture: Value = serde_json::from_str(&text).expect("fixture is JSON");
        let expected = fixture["results"].as_array().expect("results array");
        let targets = hilic_targets();
        let results = extract(hilic_run(), &targets);
        assert_eq!(
            expected.len(),
            targets.len(),
            "fixture has one row per target"
        );
        let num = |v: &Value, k: &str| -> Option<f64> { v.get(k).and_then(Value::as_f64) };
        for r in &results {
            let e = expected
                .iter()
                .find(|e| e["peak_label"].as_str() == Some(r.peak_label.as_str()))
                .unwrap_or_else(|| panic!("{} missing from fixture", r.peak_label));
            assert_eq!(
                Some(r.peak_area),
                num(e, "peak_area"),
                "{} peak_area",
                r.peak_label
            );
            assert_eq!(
                Some(r.peak_max),
                num(e, "peak_max"),
                "{} peak_max",
                r.peak_label
            );
            assert_eq!(
                Some(r.peak_n_datapoints as f64),
                num(e, "peak_n_datapoints"),
                "{} peak_n_datapoints",
                r.peak_label
            );
            let rt = num(e, "peak_rt_of_max").expect("fixture rt of max");
            let ours = r.peak_rt_of_max.expect("rt of max");
            assert!(
                (ours - rt).abs() <= 0.01,
                "{} peak_rt_of_max {ours} vs {rt}",
                r.peak_label
            );

            let ours = serde_json::to_value(r).expect("json");
            for k in [
                "peak_area_top3",
                "peak_min",
                "peak_mean",
                "peak_median",
                "peak_mass_diff_25pc",
                "peak_mass_diff_50pc",
                "peak_mass_diff_75pc",
            ] {
                match (num(&ours, k), num(e, k)) {
                    (Some(a), Some(b)) if a == b => {}
                    (a, b) => eprintln!("{}: {k} ours {a:?} ms-mint {b:?}", r.peak_label),
                }
            }
        }
    }
}
