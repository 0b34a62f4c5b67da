//! `jd-sim`: the JD simulator command line. Arguments in `args`; sending, printing and
//! listening in `run`; building and checking in the `jd_sim` library.

mod args;
mod run;

use args::{Cli, Command, GeneralCommand};
use clap::Parser;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let cli = Cli::parse();
    let json = cli.json;
    let outcome = match cli.command {
        Command::General(GeneralCommand::Begin(a)) => run::general_begin(a, json).await,
        Command::General(GeneralCommand::Find(a)) => run::general_find(a, json).await,
        Command::Game(g) => {
            let (call, a) = g.split();
            run::game(call, a, json).await
        }
        Command::Listen(a) => run::listen(a, json).await,
    };
    std::process::exit(match outcome {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(run::Failure::Usage(msg)) => {
            eprintln!("jd-sim: 用法错误 (usage error): {msg}");
            2
        }
        Err(run::Failure::Other(msg)) => {
            eprintln!("jd-sim: ✗ {msg}");
            1
        }
    });
}
