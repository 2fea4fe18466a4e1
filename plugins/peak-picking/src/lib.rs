//! `peak-picking`: the MINT analysis plugin for LC-MS data (`spec/peak-picking.md`).
//!
//! It reads an mzML file (by path inside its data roots, or uploaded), summarises the run,
//! centroids profile spectra with `mzsignal`, extracts targets the way ms-mint 1.1.2 does, and
//! keeps the run as the experiment's analysis result (`{"latest": run, "runs": [...]}`).
//!
//! - [`analysis`]: the pure analysis core (no HTTP, no storage).
//! - [`plugin`]: [`PeakPickingPlugin`], its settings and run store.
//! - [`routes`]: the HTTP routes under `/api/peak-picking`.
#![forbid(unsafe_code)]

pub mod analysis;
pub mod plugin;
pub mod routes;

pub use plugin::{PeakPickingPlugin, PeakPickingSettings};
