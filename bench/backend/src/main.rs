//! `fairlead-bench-backend --listen ADDR [--threads N]`: serves the fixed responses of the
//! benchmark backend until killed. One thread by default: the backend must cost less CPU than
//! the proxies it sits behind, and on a small machine every thread it adds takes a core from them.

use fairlead_bench_backend::{serve, Responses};
use std::net::SocketAddr;
use std::sync::Arc;

fn main() {
    if let Err(err) = run() {
        eprintln!("fairlead-bench-backend: {err}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let mut listen: Option<SocketAddr> = None;
    let mut threads: usize = 1;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => {
                let value = args.next().ok_or("--listen needs an address")?;
                listen = Some(
                    value
                        .parse()
                        .map_err(|e| format!("invalid --listen {value:?}: {e}"))?,
                );
            }
            "--threads" => {
                let value = args.next().ok_or("--threads needs a number")?;
                threads = value
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| format!("invalid --threads {value:?}"))?;
            }
            "-h" | "--help" => {
                println!("usage: fairlead-bench-backend --listen ADDR [--threads N]");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let listen = listen.ok_or("--listen ADDR is required")?;
    let runtime = if threads == 1 {
        tokio::runtime::Builder::new_current_thread().enable_io().build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_io()
            .build()
    }
    .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        println!("listening on {listen}");
        serve(listener, Arc::new(Responses::default()))
            .await
            .map_err(|e| format!("accept failed: {e}"))
    })
}
