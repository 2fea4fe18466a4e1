//! `mint-test-plugin`: serves a dummy plugin spec written by
//! `mint_sdk::testing::write_standalone_plugin_module` (`spec/app-testing-export.md` §4.4).
//!
//! `mint-test-plugin --spec <file> [--host H] [--port P]` (flags beat `MINT_PLUGIN_HOST` /
//! `MINT_PLUGIN_PORT`; defaults `127.0.0.1:8003`; port 0 picks a free one). Prints
//! `mint-test-plugin listening on http://<addr>` on stdout once it accepts connections. Exit
//! codes: 0 after Ctrl-C/SIGTERM, 1 on failure (the error's message on stderr, e.g.
//! `intentional immediate exit`), 2 on a usage error.
#![forbid(unsafe_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use mint_sdk::testing::SpecServer;

#[derive(Debug, Parser)]
#[command(about = "Serve a MINT test plugin spec (plugin_pkg/<module>.json)")]
struct Args {
    /// The spec file written by write_standalone_plugin_module.
    #[arg(long)]
    spec: PathBuf,
    /// Address to listen on.
    #[arg(long, env = "MINT_PLUGIN_HOST", default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on (0: any free port).
    #[arg(long, env = "MINT_PLUGIN_PORT", default_value_t = 8003)]
    port: u16,
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        let server = SpecServer::bind(&args.spec, &args.host, args.port).await?;
        let addr = server.local_addr()?;
        let mut out = std::io::stdout();
        let _ = writeln!(out, "mint-test-plugin listening on http://{addr}");
        let _ = out.flush();
        server.serve().await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}
