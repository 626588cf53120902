//! The fairlead binary: parses the command line and runs the chosen role.

use clap::Parser;

mod check;
mod cli;
mod demo;
mod echo;
mod kubernetes;
mod logging;
mod manifests;
mod serve;
mod source;
mod watch;

// The proxy allocates small, short-lived buffers and header maps for every request on every
// worker; mimalloc's per-thread free lists serve that pattern faster than glibc malloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    // A dry run needs no runtime and writes its report, not logs, to stdout.
    if let cli::Command::Check(args) = &cli.command {
        return match check::run(args) {
            Ok((report, ok)) => {
                print!("{report}");
                if ok {
                    std::process::ExitCode::SUCCESS
                } else {
                    std::process::ExitCode::from(check::PROBLEMS_FOUND)
                }
            }
            Err(err) => {
                eprintln!("fairlead check: {err}");
                std::process::ExitCode::from(check::CANNOT_RUN)
            }
        };
    }
    logging::init(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("fairlead: cannot start the async runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            cli::Command::Serve(args) => {
                let args = *args;
                match args.manifests {
                    Some(dir) => serve::run(dir, args.common).await,
                    None => kubernetes::run(args.kube, args.common).await,
                }
            }
            cli::Command::Demo(args) => demo::run(args).await,
            cli::Command::Echo(args) => echo::run(args).await,
            cli::Command::Check(_) => Ok(()),
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err:#}");
            eprintln!("fairlead: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
