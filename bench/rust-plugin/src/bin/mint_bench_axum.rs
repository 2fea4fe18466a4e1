//! `mint-bench-axum`: serves the bench ping handler on bare axum
//! (`mint-bench-axum --port 8004`), the limit the SDK plugin is compared with.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;

/// Serve `GET /api/bench/ping` on a bare axum router.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: std::net::IpAddr,
    /// Port to listen on.
    #[arg(long, default_value_t = 8004)]
    port: u16,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let addr = SocketAddr::new(args.host, args.port);
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {addr}: {e}");
            return ExitCode::from(1);
        }
    };
    match axum::serve(listener, mint_bench::bare::router()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
