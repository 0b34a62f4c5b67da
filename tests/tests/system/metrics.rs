//! The services' metrics as monitoring reads them: an order driven through gateway, fulfillment
//! and notifier shows up in the JD answer codes, the callback attempts by outcome, the orders by
//! status, the queues' lag and the available cards; and every metric the Grafana dashboard
//! (`deploy/grafana/dashboards/vgoods.json`) and the alert rules (`deploy/alerts.yml`) query is
//! one the running services export.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::domain::Platform;
use system_tests::fake_jd::{self, Jd, MD5_KEY, VENDOR, card_product, general_shop};
use system_tests::jd_client::{self, BeginInput};
use system_tests::{Proc, SERVICES, Stage};

/// The samples of one page: (name, labels, value).
fn samples(page: &str) -> Vec<(String, BTreeMap<String, String>, f64)> {
    page.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let value: f64 = value.trim().parse().ok()?;
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.strip_suffix('}')?),
                None => (series, ""),
            };
            let labels = labels
                .split("\",")
                .filter(|p| !p.is_empty())
                .filter_map(|p| {
                    let (k, v) = p.split_once("=\"")?;
                    Some((k.trim().to_owned(), v.trim_end_matches('"').to_owned()))
                })
                .collect();
            Some((name.to_owned(), labels, value))
        })
        .collect()
}

/// The sum of the samples of `name` whose labels include `labels`; `None` when there is none.
fn value(page: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let matching: Vec<f64> = samples(page)
        .into_iter()
        .filter(|(n, l, _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, _, v)| v)
        .collect();
    (!matching.is_empty()).then(|| matching.iter().sum())
}

async fn page(p: &Proc) -> String {
    reqwest::get(p.metrics_url())
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics text")
}

/// Polls `p`'s `/metrics` until `ok` holds for it, or panics with the last page.
async fn wait_page(p: &Proc, within: Duration, what: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = tokio::time::Instant::now() + within;
    let mut last = String::new();
    while tokio::time::Instant::now() < deadline {
        if let Ok(r) = reqwest::get(p.metrics_url()).await
            && let Ok(text) = r.text().await
        {
            if ok(&text) {
                return text;
            }
            last = text;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("{what} not seen within {within:?}; last /metrics:\n{last}");
}

/// A signed 通用交易 beginDistill for one card of `sku`, the callback to `notify_url`.
fn begin_distill(no: &str, sku: &str, notify_url: &str, key: &str) -> Vec<(String, String)> {
    jd_client::begin_distill(
        &BeginInput {
            jd_order_no: no.parse().expect("a numeric JD order number"),
            vendor_id: VENDOR,
            ware_no: sku,
            quantity: 1,
            total_price_fen: 1000,
            notify_url,
            produce_account: None,
            pay_time: "20240101120000",
            timestamp: "20240101120000",
        },
        key,
    )
}

/// POSTs a form to the gateway's beginDistill: the answer's (code, produceStatus).
async fn post_distill(gateway: &Proc, form: Vec<(String, String)>) -> (String, String) {
    let (_, body) = jd_client::post(
        &reqwest::Client::new(),
        &gateway.url(""),
        jd_client::BEGIN_PATH,
        &form,
    )
    .await
    .expect("beginDistill");
    let answer: serde_json::Value = serde_json::from_slice(&body).expect("a JSON answer");
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    (text(&answer["code"]), text(&answer["produceStatus"]))
}

#[tokio::test]
async fn an_order_moves_the_metrics_of_every_service() {
    let stage = Stage::new().await;
    let pool = &stage.pool;
    general_shop(pool, "general").await;
    let product = card_product(pool, "metered", 3, Platform::JdGeneral).await;
    let product_id = product.to_string();
    let stock = [("product_id", product_id.as_str()), ("product", "metered")];
    // A message the relay will not publish for a day, written two minutes ago: the queue lag.
    sqlx::query(
        "INSERT INTO outbox (event_id, routing_key, payload, available_at, created_at)
         VALUES (UUID(), 'test.stale', '{}', NOW(3) + INTERVAL 1 DAY, NOW(3) - INTERVAL 120 SECOND)",
    )
    .execute(pool)
    .await
    .unwrap();

    let mut admin = Proc::spawn("admin", &stage.env());
    admin.wait_ready(Duration::from_secs(60)).await;
    wait_page(
        &admin,
        Duration::from_secs(30),
        "the gauges before the order",
        |m| {
            value(m, "cards_available", &stock) == Some(3.0)
                && value(m, "outbox_oldest_age_seconds", &[]).is_some_and(|age| age >= 120.0)
                && value(
                    m,
                    "orders_by_status",
                    &[("platform", "jd_general"), ("status", "succeeded")],
                ) == Some(0.0)
                && value(m, "mq_queue_messages", &[("queue", "fulfillment.orders")]) == Some(0.0)
                && value(m, "mq_queue_messages", &[("queue", "dead-letters")]) == Some(0.0)
        },
    )
    .await;
    sqlx::query("DELETE FROM outbox WHERE routing_key = 'test.stale'")
        .execute(pool)
        .await
        .unwrap();

    // JD refuses the first callback (HTTP 500) and takes the second.
    let jd = Jd::start(1, "0").await;
    let mut gateway = Proc::spawn("gateway", &stage.env());
    let mut fulfillment = Proc::spawn("fulfillment", &stage.env());
    let notifier = fake_jd::notifier(&stage, &[("NOTIFY_SCHEDULE", "200ms,200ms,200ms")]).await;
    gateway.wait_ready(Duration::from_secs(60)).await;
    fulfillment.wait_ready(Duration::from_secs(60)).await;

    let accepted = post_distill(
        &gateway,
        begin_distill("880001", "sku-metered", &jd.url, MD5_KEY),
    )
    .await;
    assert_eq!(accepted, ("JDO_201".to_owned(), "3".to_owned()));
    let refused = post_distill(
        &gateway,
        begin_distill("880002", "sku-metered", &jd.url, "not-the-key"),
    )
    .await;
    assert_ne!(refused.0, "JDO_201", "a wrong signature is refused");

    let order_id: u64 =
        sqlx::query_scalar("SELECT id FROM orders WHERE platform_order_no = '880001'")
            .fetch_one(pool)
            .await
            .unwrap();
    fake_jd::wait_status(pool, order_id, "delivered", Duration::from_secs(60)).await;
    assert!(jd.hits().len() >= 2, "refused once, then delivered");

    // gateway: requests by endpoint and JD answer code; latency by route.
    let g = page(&gateway).await;
    let answered = |code: &str, status: &str| {
        value(
            &g,
            "gateway_requests_total",
            &[
                ("endpoint", "beginDistill"),
                ("code", code),
                ("produce_status", status),
            ],
        )
    };
    assert_eq!(answered("JDO_201", "3"), Some(1.0), "{g}");
    assert_eq!(answered(&refused.0, &refused.1), Some(1.0), "{g}");
    assert_eq!(
        value(
            &g,
            "http_request_duration_seconds_count",
            &[("route", "/api/jd/general/beginDistill"), ("status", "200")]
        ),
        Some(2.0),
        "{g}"
    );

    // notifier: the refused callback, then the delivered one (counted once the attempt's record
    // has committed, a moment after the order reads delivered).
    let delivered_counted = |m: &str| {
        value(
            m,
            "callback_attempts_total",
            &[("target", "jd_general"), ("outcome", "delivered")],
        ) == Some(1.0)
    };
    let n = wait_page(
        &notifier,
        Duration::from_secs(30),
        "the delivered callback attempt",
        delivered_counted,
    )
    .await;
    let attempts = |outcome: &str| {
        value(
            &n,
            "callback_attempts_total",
            &[("target", "jd_general"), ("outcome", outcome)],
        )
    };
    assert_eq!(attempts("retry"), Some(1.0), "{n}");
    assert_eq!(attempts("delivered"), Some(1.0), "{n}");
    assert_eq!(attempts("giving_up"), Some(0.0), "{n}");
    assert_eq!(
        value(
            &n,
            "callback_attempts_total",
            &[("target", "jd_game"), ("outcome", "delivered")]
        ),
        Some(0.0),
        "{n}"
    );

    // admin: the order succeeded today, one card fewer, nothing waiting anywhere. Finished orders
    // count for their Beijing day only: a run that crosses Beijing midnight no longer sees it.
    let day = common::domain::beijing_today();
    wait_page(
        &admin,
        Duration::from_secs(60),
        "the gauges after the order",
        |m| {
            let today = common::domain::beijing_today() == day;
            (!today
                || value(
                    m,
                    "orders_by_status",
                    &[("platform", "jd_general"), ("status", "succeeded")],
                ) == Some(1.0)
                    && value(m, "orders_by_status", &[("platform", "jd_general")]) == Some(1.0))
                && value(m, "cards_available", &stock) == Some(2.0)
                && value(m, "outbox_oldest_age_seconds", &[]) == Some(0.0)
                && value(m, "callbacks_pending", &[]) == Some(0.0)
                && value(m, "mq_queue_messages", &[("queue", "notifier.callbacks")]) == Some(0.0)
        },
    )
    .await;

    for mut p in [gateway, fulfillment, notifier, admin] {
        p.terminate().await;
    }
    stage.cleanup().await;
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// The metric names a PromQL expression reads: identifiers that are not functions, keywords,
/// label names (in `{…}` or a `by`/`without`/`on`/`ignoring` list), strings or durations.
fn metric_names(expr: &str) -> BTreeSet<String> {
    // Operators, and the aggregations (which may have their `by (…)` before the parenthesis).
    const KEYWORDS: [&str; 21] = [
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "inf",
        "nan",
        "atan2",
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
        "limitk",
    ];
    const GROUPING: [&str; 6] = [
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ];
    let chars: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    // Skips from an opening bracket to its match (strings inside skipped whole).
    let skip_to_close = |mut i: usize, open: char, close: char| -> usize {
        let mut depth = 0;
        while i < chars.len() {
            match chars[i] {
                '"' | '\'' | '`' => {
                    let q = chars[i];
                    i += 1;
                    while i < chars.len() && chars[i] != q {
                        i += if chars[i] == '\\' { 2 } else { 1 };
                    }
                }
                c if c == open => depth += 1,
                c if c == close => {
                    depth -= 1;
                    if depth == 0 {
                        return i + 1;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        i
    };
    while i < chars.len() {
        let c = chars[i];
        if c == '{' {
            i = skip_to_close(i, '{', '}');
        } else if c == '[' {
            i = skip_to_close(i, '[', ']');
        } else if c == '"' || c == '\'' || c == '`' {
            let mut j = i + 1;
            while j < chars.len() && chars[j] != c {
                j += if chars[j] == '\\' { 2 } else { 1 };
            }
            i = j + 1;
        } else if c.is_ascii_digit() || c == '.' {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let mut next = i;
            while next < chars.len() && chars[next].is_whitespace() {
                next += 1;
            }
            let call = chars.get(next) == Some(&'(');
            if GROUPING.contains(&word.as_str()) {
                if call {
                    i = skip_to_close(next, '(', ')');
                }
            } else if !call && !KEYWORDS.contains(&word.to_ascii_lowercase().as_str()) {
                names.insert(word);
            }
        } else {
            i += 1;
        }
    }
    names
}

#[test]
fn metric_names_are_read_from_promql() {
    let names = metric_names(
        r#"histogram_quantile(0.99, sum by (le, route) (rate(http_request_duration_seconds_bucket{route=~"/a|/b", x="y{z}"}[5m]))) / max without (instance) (orders_by_status{status="succeeded"}) > 0 or vector(0) and on(job) up == 1e3"#,
    );
    let expected: BTreeSet<String> = [
        "http_request_duration_seconds_bucket",
        "orders_by_status",
        "up",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(names, expected);
}

/// Every expression of the dashboard's panels (rows' panels included).
fn dashboard_exprs(panels: &serde_json::Value, out: &mut Vec<String>) {
    for panel in panels.as_array().into_iter().flatten() {
        for t in panel["targets"].as_array().into_iter().flatten() {
            if let Some(e) = t["expr"].as_str() {
                out.push(e.to_owned());
            }
        }
        dashboard_exprs(&panel["panels"], out);
    }
}

/// The series names a `/metrics` page exports, announced ones (`# TYPE`) included.
fn exported_names(page: &str, into: &mut BTreeSet<String>) {
    for line in page.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            let (Some(name), Some(kind)) = (parts.next(), parts.next()) else {
                continue;
            };
            into.insert(name.to_owned());
            if kind == "histogram" || kind == "summary" {
                for suffix in ["_bucket", "_sum", "_count"] {
                    into.insert(format!("{name}{suffix}"));
                }
            }
        } else if !line.starts_with('#') {
            let name = line.split(['{', ' ']).next().unwrap_or_default();
            if !name.is_empty() {
                into.insert(name.to_owned());
            }
        }
    }
}

#[tokio::test]
async fn the_dashboard_and_the_alerts_read_only_exported_metrics() {
    let root = repo_root();
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("deploy/grafana/dashboards/vgoods.json"))
            .expect("the dashboard"),
    )
    .expect("dashboard JSON");
    let mut exprs = Vec::new();
    dashboard_exprs(&dashboard["panels"], &mut exprs);
    let alerts: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(root.join("deploy/alerts.yml")).expect("the alert rules"),
    )
    .expect("alerts YAML");
    let dashboard_count = exprs.len();
    let dashboard_exprs_only = exprs.clone();
    for group in alerts["groups"].as_sequence().into_iter().flatten() {
        for rule in group["rules"].as_sequence().into_iter().flatten() {
            exprs.push(rule["expr"].as_str().expect("a rule's expr").to_owned());
        }
    }
    assert!(
        dashboard_count >= 6 && exprs.len() > dashboard_count,
        "expressions found: {exprs:?}"
    );
    // Where each name is used, for the failure message.
    let mut used: BTreeMap<String, String> = BTreeMap::new();
    for e in &exprs {
        for name in metric_names(e) {
            used.entry(name).or_insert_with(|| e.clone());
        }
    }
    // `up` is Prometheus's own (one per scrape target).
    used.remove("up");
    for name in [
        "http_request_duration_seconds_bucket",
        "orders_by_status",
        "cards_available",
        "callbacks_pending",
        "dead_letters_pending",
        "outbox_published_total",
    ] {
        assert!(
            used.contains_key(name),
            "the dashboard reads {name}: {used:?}"
        );
    }

    let stage = Stage::new().await;
    let mut procs: Vec<Proc> = SERVICES
        .iter()
        .map(|s| Proc::spawn(s, &stage.env()))
        .collect();
    for p in procs.iter_mut() {
        p.wait_ready(Duration::from_secs(60)).await;
    }
    let mut exported = BTreeSet::new();
    for p in &procs {
        exported_names(&page(p).await, &mut exported);
    }
    let missing: Vec<String> = used
        .iter()
        .filter(|(name, _)| !exported.contains(*name))
        .map(|(name, expr)| format!("{name} (in `{expr}`)"))
        .collect();
    assert!(
        missing.is_empty(),
        "metrics queried but exported by no service: {missing:#?}"
    );
    for mut p in procs {
        p.terminate().await;
    }
    stage.cleanup().await;

    // promtool, where installed: the configuration (with the rules it loads), the rules' unit
    // tests, and the dashboard's queries (as recording rules: promtool parses them).
    let promtool = std::process::Command::new("promtool")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !promtool {
        eprintln!("NOTICE: promtool is not installed: the Prometheus configuration is not checked");
        return;
    }
    let rules: Vec<serde_json::Value> = dashboard_exprs_only
        .iter()
        .enumerate()
        .map(|(i, e)| serde_json::json!({"record": format!("dashboard:expr{i}"), "expr": e}))
        .collect();
    let dashboard_rules = std::env::temp_dir().join(format!(
        "{}-dashboard-rules.json",
        common::testing::unique("vgt")
    ));
    // JSON is YAML: promtool reads it as a rule file.
    std::fs::write(
        &dashboard_rules,
        serde_json::json!({"groups": [{"name": "dashboard", "rules": rules}]}).to_string(),
    )
    .expect("write the dashboard's rules");
    let dashboard_rules = dashboard_rules.to_str().expect("UTF-8 path").to_owned();
    for args in [
        &["check", "config", "deploy/prometheus.yml"][..],
        &["test", "rules", "deploy/alerts_test.yml"][..],
        &["check", "rules", dashboard_rules.as_str()][..],
    ] {
        let out = std::process::Command::new("promtool")
            .args(args)
            .current_dir(&root)
            .output()
            .expect("run promtool");
        assert!(
            out.status.success(),
            "promtool {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let _ = std::fs::remove_file(&dashboard_rules);
}
