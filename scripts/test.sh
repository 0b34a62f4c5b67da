#!/usr/bin/env bash
# What CI runs (`.ci/run`), and the one command a newcomer needs: makes MariaDB and RabbitMQ
# available (installing them on Debian/Ubuntu if absent), creates the test user, then runs
# formatting, lints and the whole test suite against the real database and broker.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/services.sh

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
# Databases left by an interrupted earlier run: those no connection uses (a test run going on
# beside this one keeps its pool connected to its databases, which stay).
stale=$(mysql_root -N -e "SELECT s.schema_name FROM information_schema.schemata s
  WHERE s.schema_name LIKE 'vgt\_%'
    AND NOT EXISTS (SELECT 1 FROM information_schema.processlist p WHERE p.db = s.schema_name)" || true)
for db in $stale; do mysql_root -e "DROP DATABASE \`$db\`" || true; done

export TEST_DATABASE_URL=${TEST_DATABASE_URL:-mysql://vgtest:vgtest@127.0.0.1:3306}
export TEST_AMQP_URL=${TEST_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}

command -v cargo >/dev/null || die "cargo not found: install Rust from https://rustup.rs"

if ! command -v docker-compose >/dev/null; then
  apt_install docker-compose || log "docker-compose unavailable; skipping the compose check"
fi
if command -v docker-compose >/dev/null; then
  # .env.example leaves the key and the passwords empty (compose refuses them): check the file
  # with generated ones, with and without the proxy profile. The system tests (compose_*) go
  # further: they start the binaries with the environment compose resolves.
  log "docker-compose config -q (with and without --profile proxy)"
  compose_env=$(mktemp)
  { cat .env.example
    echo "MASTER_KEY=$(head -c 32 /dev/urandom | base64 | tr -d '\n')"
    for var in MYSQL_ROOT_PASSWORD MYSQL_PASSWORD RABBITMQ_PASSWORD; do
      echo "$var=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    done
  } >"$compose_env"
  docker-compose --env-file "$compose_env" config -q
  docker-compose --env-file "$compose_env" --profile proxy config -q
  rm -f "$compose_env"
fi

log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
log "cargo build (service binaries used by the system tests)"
cargo build --workspace --bins
log "cargo test"
results=$(mktemp)
trap 'rm -f "$results"' EXIT
status=0
cargo test --workspace --no-fail-fast -- --test-threads="${TEST_THREADS:-4}" 2>&1 | tee "$results" || status=$?
# One closing line for the whole suite (cargo prints one per test binary).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } }
     END { printf "TOTAL: %d passed, %d failed\n", p, f }' "$results"
exit "$status"
