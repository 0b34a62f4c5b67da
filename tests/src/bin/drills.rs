//! Fault drills under load (see `system_tests::drill`): two replicas of every release service,
//! a steady load of JD orders over both JD platforms, and during it SIGKILL of each service's
//! replicas, a RabbitMQ restart, a MariaDB restart, the fake JD down, a hanging supplier. Prints
//! a table per drill and exits non-zero on any loss, duplicate, wrong callback, unexplained dead
//! letter or order never accepted. Restarts the machine's RabbitMQ and MariaDB: run as root or
//! with sudo rights, on a machine where nothing else uses them.
//!
//!     scripts/drills.sh [--short] [--rate 15] [--orders 2400] [--fault-secs 20] [--replicas 2]
//!         [--drills gateway,fulfillment,notifier,agiso-sync,admin,rabbitmq,mariadb,jd,supplier]

use std::time::Duration;

use system_tests::drill::{self, Config, Kind};

fn usage() -> ! {
    eprintln!(
        "usage: drills [--short] [--rate N] [--orders N] [--fault-secs N] [--replicas N] \
         [--drills gateway,fulfillment,notifier,agiso-sync,admin,rabbitmq,mariadb,jd,supplier]"
    );
    std::process::exit(2);
}

fn config() -> Config {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut cfg = if args.iter().any(|a| a == "--short") {
        Config::short()
    } else {
        Config::full()
    };
    let mut it = args.iter().filter(|a| *a != "--short");
    while let Some(name) = it.next() {
        if name == "--drills" {
            let list = it.next().unwrap_or_else(|| usage());
            cfg.drills = list
                .split(',')
                .map(|d| Kind::parse(d.trim()).unwrap_or_else(|| usage()))
                .collect();
            continue;
        }
        let Some(value) = it.next().and_then(|v| v.parse::<u64>().ok()) else {
            usage()
        };
        match name.as_str() {
            "--rate" if value > 0 => cfg.rate = value,
            "--orders" => cfg.orders = value,
            "--fault-secs" if value > 0 => cfg.fault = Duration::from_secs(value),
            "--replicas" if value > 0 => cfg.replicas = value as usize,
            _ => usage(),
        }
    }
    cfg
}

#[tokio::main]
async fn main() {
    let cfg = config();
    eprintln!(
        "drills: {} orders/s, at least {} orders, {} replicas, faults of {} s: {}",
        cfg.rate,
        cfg.orders,
        cfg.replicas,
        cfg.fault.as_secs(),
        cfg.drills
            .iter()
            .map(|k| k.label())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let report = drill::run(&cfg).await;
    println!();
    report.print();
    println!();
    println!("{}", drill::legend(&cfg));
    for d in &report.dead_letters {
        println!("dead letter: {d}");
    }
    for n in &report.not_accepted {
        println!("not accepted: {n}");
    }
    println!(
        "{} orders sent, {} accepted; lost {}, duplicated {}, wrong {}, dead letters {}, not \
         accepted {}",
        report.sent,
        report.accepted,
        report.lost,
        report.duplicated,
        report.wrong,
        report.dead_letters.len(),
        report.not_accepted.len()
    );
    if !report.passed() {
        println!("FAILED");
        std::process::exit(1);
    }
    println!("all drills passed");
}
