//! Exports the target triple this crate is compiled for as `MINT_HOST_TRIPLE`: the triple an
//! installed bundle must carry a binary for (`spec/cli.md` §2.3). Cargo always sets `TARGET`
//! for build scripts; it is the full triple (`x86_64-unknown-linux-gnu`), which
//! `std::env::consts` cannot give (it has no vendor or libc).

fn main() {
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".into());
    println!("cargo:rustc-env=MINT_HOST_TRIPLE={target}");
    println!("cargo:rerun-if-changed=build.rs");
}
