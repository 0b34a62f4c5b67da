#!/usr/bin/env bash
# What CI runs (`.ci/run`), and the one command a newcomer needs. Checks the toolchain and the
# machine first (everything missing is reported in one message, before anything is installed),
# makes MariaDB, RabbitMQ and Chromium available (installing them with apt on Debian/Ubuntu when
# absent), creates the test user, then runs the compose-file check, formatting, lints and the
# whole test suite against the real database and broker. Works as root, and as a user with sudo
# (asked once at the start).
#
# Usage: scripts/test.sh [--setup-only]
#   --setup-only   only the checks and the machine set-up (no tests, no clean-up of test
#                  databases), then a summary; run it once to prepare a machine
# Environment: TEST_DATABASE_URL, TEST_AMQP_URL, TEST_THREADS (default 4).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/services.sh

setup_only=
for arg in "$@"; do
  case "$arg" in
    --setup-only) setup_only=1 ;;
    -h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $arg (usage: scripts/test.sh [--setup-only])" ;;
  esac
done

check_prerequisites
# Not root: installing and starting the servers, the database's root login (over its socket)
# and the broker-restart test (rabbitmqctl) go through sudo, asked for once, up front.
is_root || sudo_keepalive

ensure_cc
ensure_services
ensure_chromium

log "creating the test database user (vgtest, may create vgt_* databases)"
mysql_root <<'SQL'
CREATE USER IF NOT EXISTS 'vgtest'@'localhost' IDENTIFIED BY 'vgtest';
CREATE USER IF NOT EXISTS 'vgtest'@'127.0.0.1' IDENTIFIED BY 'vgtest';
CREATE USER IF NOT EXISTS 'vgtest'@'%' IDENTIFIED BY 'vgtest';
GRANT ALL PRIVILEGES ON `vgt\_%`.* TO 'vgtest'@'localhost';
GRANT ALL PRIVILEGES ON `vgt\_%`.* TO 'vgtest'@'127.0.0.1';
GRANT ALL PRIVILEGES ON `vgt\_%`.* TO 'vgtest'@'%';
FLUSH PRIVILEGES;
SQL

# The optional compose check: docker compose (v2) or docker-compose (v1), installed with apt when
# possible; without either it is skipped with a note.
compose=()
if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif command -v docker-compose >/dev/null; then
  compose=(docker-compose)
elif has_apt && [ -z "$(privilege_problem)" ] && apt_install docker-compose 2>/dev/null &&
  command -v docker-compose >/dev/null; then
  compose=(docker-compose)
else
  log "docker compose not available (and not installable here: no apt-get or no root/sudo): skipping the compose-file check"
fi

if [ -n "$setup_only" ]; then
  log "set-up done: MariaDB on 127.0.0.1:3306 (test user vgtest), RabbitMQ on 127.0.0.1:5672"
  if [ -n "$BROWSER_SKIP" ]; then
    warn "the browser test will be skipped: $BROWSER_SKIP"
  fi
  [ "${#compose[@]}" -gt 0 ] || log "the compose-file check will be skipped (no docker compose)"
  log "run scripts/test.sh for the checks and the tests"
  exit 0
fi

# Databases left by an interrupted earlier run: those no connection uses (a test run going on
# beside this one keeps its pool connected to its databases, which stay).
stale=$(mysql_root -N -e "SELECT s.schema_name FROM information_schema.schemata s
  WHERE s.schema_name LIKE 'vgt\_%'
    AND NOT EXISTS (SELECT 1 FROM information_schema.processlist p WHERE p.db = s.schema_name)" || true)
for db in $stale; do mysql_root -e "DROP DATABASE \`$db\`" || true; done

export TEST_DATABASE_URL=${TEST_DATABASE_URL:-mysql://vgtest:vgtest@127.0.0.1:3306}
export TEST_AMQP_URL=${TEST_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}
# Read by admin/tests/browser.rs: it then prints why it did not run and passes.
if [ -n "$BROWSER_SKIP" ]; then export VG_SKIP_BROWSER_TEST="$BROWSER_SKIP"; else unset VG_SKIP_BROWSER_TEST; fi

if [ "${#compose[@]}" -gt 0 ]; then
  # .env.example leaves the key and the passwords empty (compose refuses them): check the file
  # with generated ones, with and without the proxy profile. The system tests (deploy::*) go
  # further: they start the binaries with the environment compose resolves.
  log "${compose[*]} config -q (with and without --profile proxy)"
  compose_env=$(mktemp)
  { cat .env.example
    echo "MASTER_KEY=$(head -c 32 /dev/urandom | base64 | tr -d '\n')"
    for var in MYSQL_ROOT_PASSWORD MYSQL_PASSWORD RABBITMQ_PASSWORD; do
      echo "$var=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    done
  } >"$compose_env"
  "${compose[@]}" --env-file "$compose_env" config -q
  "${compose[@]}" --env-file "$compose_env" --profile proxy config -q
  rm -f "$compose_env"
fi

# A clean CI clone builds everything once: no incremental caches (a third of a debug target,
# useless to a one-off build), and the service binaries built in the same invocation as the
# tests, so they share its feature set (dev-dependencies unify features: a separate
# `cargo build --bins` would compile a large part of the dependency tree a second time).
if [ -n "${CI:-}" ]; then export CARGO_INCREMENTAL=0; fi
free_kib=$(df -Pk . | awk 'NR == 2 { print $4 }')
if [ "${free_kib:-0}" -lt $((4 * 1024 * 1024)) ]; then
  warn "only $((free_kib / 1024)) MiB free on $(df -P . | awk 'NR == 2 { print $6 }'): the debug build and the tests need about 2 GiB (a clean CI build: 1.9 GiB)"
fi
log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
log "cargo build (all targets: the tests and the service binaries the system tests start)"
cargo build --workspace --all-targets
log "cargo test"
results=$(mktemp)
trap 'rm -f "$results"; [ -z "$SUDO_KEEPALIVE" ] || kill "$SUDO_KEEPALIVE" 2>/dev/null || true' EXIT
status=0
cargo test --workspace --no-fail-fast -- --test-threads="${TEST_THREADS:-4}" 2>&1 | tee "$results" || status=$?
# One closing line for the whole suite (cargo prints one per test binary).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } }
     END { printf "TOTAL: %d passed, %d failed\n", p, f }' "$results"
if [ -n "$BROWSER_SKIP" ]; then
  warn "SKIPPED the browser test (admin/tests/browser.rs): $BROWSER_SKIP"
fi
exit "$status"
