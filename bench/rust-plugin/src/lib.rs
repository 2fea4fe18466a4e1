//! `mint-bench`: the Rust contenders of `bench/run` (see `BENCHMARKS.md`).
//!
//! - [`plugin`]: [`BenchPlugin`], a plugin on `mint-sdk` with the routes of the Python bench
//!   plugin (`bench/python/bench_plugin.py`), served by the `mint-bench-plugin` binary.
//! - [`bare`]: the same ping handler on a bare axum router (no SDK layers), served by
//!   `mint-bench-axum`: the limit the SDK's overhead is measured against.
//! - [`extraction`]: timed targeted extraction with the peak-picking plugin's analysis core,
//!   printed as JSON by `mint-bench-extract` for the comparison with ms-mint.
//!
//! Nothing here is product code: it exists to be measured.
#![forbid(unsafe_code)]

pub mod bare;
pub mod extraction;
pub mod plugin;

pub use plugin::BenchPlugin;
