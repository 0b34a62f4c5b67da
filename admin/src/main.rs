use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = admin::cli::Cli::parse();
    match cli.command {
        None | Some(admin::cli::Command::Serve) => {
            common::service::run_main(admin::SERVICE, admin::Config::from_env, admin::run)
        }
        Some(command) => admin::cli::run(command),
    }
}
