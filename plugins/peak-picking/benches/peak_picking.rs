//! Benchmarks of the peak-picking plugin (issue: foundation):
//! - targeted extraction of the 6 HILICNeg15_StdH1 targets: whole run (read + extract) and
//!   extraction alone on the loaded run;
//! - centroiding time per profile spectrum (small.mzML, MS1, S/N ≥ 3);
//! - requests of a trivial route (`_mint/runtime`) through the full SDK app, in process.
//!
//! Run: `cargo bench -p peak-picking` (criterion prints time per iteration; requests/s = 1 / time).

use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use criterion::{Criterion, criterion_group, criterion_main};
use mint_sdk::{StandaloneOptions, create_standalone_app};
use peak_picking::PeakPickingPlugin;
use peak_picking::analysis::{self, DataMode};
use tower::ServiceExt;

fn example(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/data")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn extraction(c: &mut Criterion) {
    let mzml = example("HILICNeg15_StdH1.mzML");
    let targets =
        analysis::parse_targets_csv(&example("HILICNeg15_StdH1_targets.csv")).expect("targets");
    let mut group = c.benchmark_group("targeted_extraction_hilic");
    group.sample_size(20);
    group.bench_function("read_and_extract_6_targets", |b| {
        b.iter(|| {
            let run = analysis::load_run(&mzml, "file").expect("run");
            analysis::extract(&run, &targets)
        })
    });
    let run = analysis::load_run(&mzml, "file").expect("run");
    group.bench_function("extract_6_targets_loaded", |b| {
        b.iter(|| analysis::extract(&run, &targets))
    });
    group.finish();
}

fn centroiding(c: &mut Criterion) {
    let run = analysis::load_run(&example("small.mzML"), "file").expect("run");
    let spectrum = run
        .spectra
        .iter()
        .find(|s| s.ms_level == 1 && s.mode == DataMode::Profile)
        .expect("a profile MS1 spectrum");
    c.bench_function("centroid_one_profile_spectrum_small_mzml", |b| {
        b.iter(|| analysis::pick_peaks(spectrum, 3.0).expect("peaks"))
    });
}

fn trivial_route(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let router = create_standalone_app(
        Arc::new(PeakPickingPlugin::new()),
        StandaloneOptions::default(),
    )
    .expect("app")
    .router();
    c.bench_function("trivial_route_in_process", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let req = Request::get("/api/peak-picking/_mint/runtime")
                    .body(Body::empty())
                    .expect("request");
                let resp = router.clone().oneshot(req).await.expect("response");
                assert!(resp.status().is_success());
            })
        })
    });
}

criterion_group!(benches, extraction, centroiding, trivial_route);
criterion_main!(benches);
