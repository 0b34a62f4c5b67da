//! The short fault drill of CI (`system_tests::drill::Config::short`): two replicas of every
//! (debug) service, a few orders per second over both JD platforms, and every drill kind in turn
//! — SIGKILL of each service's replicas, a RabbitMQ restart, a MariaDB restart, the fake JD down,
//! a hanging supplier — with shorter faults; every order checked afterwards. A test binary of its
//! own: cargo runs test binaries one after another, so nothing else uses the local broker and
//! database while this one restarts them (as root, or through `sudo -n`, which scripts/test.sh
//! keeps authorised). The full drill is `scripts/drills.sh`.

use system_tests::drill::{self, Config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_drill_loses_and_duplicates_nothing() {
    let cfg = Config {
        log_dir: std::env::temp_dir().join(format!("vg-drills-ci-{}", std::process::id())),
        ..Config::short()
    };
    let report = drill::run(&cfg).await;
    report.print();
    println!("{}", drill::legend(&cfg));
    assert!(
        report.accepted >= (cfg.orders as usize) * 9 / 10,
        "too few orders accepted: {} of {} sent",
        report.accepted,
        report.sent
    );
    // Every drill ran under load: orders were sent while each fault lasted.
    assert_eq!(report.table.len(), cfg.drills.len() + 1, "a row per drill");
    for row in &report.table[..cfg.drills.len()] {
        assert!(
            row[1].parse::<usize>().unwrap_or(0) > 0,
            "no order sent during the drill {}",
            row[0]
        );
    }
    assert_eq!(
        report.not_accepted,
        Vec::<String>::new(),
        "orders never accepted"
    );
    assert_eq!(
        report.dead_letters,
        Vec::<String>::new(),
        "unexplained dead letters"
    );
    assert_eq!(
        (report.lost, report.duplicated, report.wrong),
        (0, 0, 0),
        "(lost, duplicated, wrong) orders: see the table and the order lines above"
    );
}
