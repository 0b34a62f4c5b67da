#!/usr/bin/env bash
# Fault drills under load, one command: builds the release binaries of the five services and of
# the drill program, then runs target/release/drills (tests/src/bin/drills.rs): two replicas of
# every service, a steady load of JD orders over both JD platforms (at least 2,000 by default),
# and during it SIGKILL of each service's replicas in turn, a RabbitMQ restart, a MariaDB
# restart, the fake JD down for a while, a hanging supplier. Prints a table (drill, orders, lost,
# duplicated, late, recovery time) and exits non-zero on any loss or duplicate.
#
# IT STOPS AND RESTARTS THE LOCAL RabbitMQ AND MariaDB: run it as root, or as a user with sudo
# rights (asked once at the start), on a machine where nothing else uses them meanwhile (no
# other test run). MariaDB and RabbitMQ must be set up as scripts/test.sh does
# (`scripts/test.sh --setup-only` once on a new machine).
#
# Usage: scripts/drills.sh [--short] [--rate N] [--orders N] [--fault-secs N] [--replicas N]
#                          [--drills gateway,fulfillment,notifier,agiso-sync,admin,rabbitmq,mariadb,jd,supplier]
#   --short   the short version (also run in CI by `cargo test`, tests/tests/drills.rs)
# Environment: TEST_DATABASE_URL, TEST_AMQP_URL (as for scripts/test.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/services.sh

for arg in "$@"; do
  case "$arg" in
    -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  esac
done

problem=$(privilege_problem)
[ -z "$problem" ] || die "$problem (the drills restart RabbitMQ and MariaDB)"
warn "the drills stop and restart the local RabbitMQ and MariaDB"
sudo_keepalive

export TEST_DATABASE_URL=${TEST_DATABASE_URL:-mysql://vgtest:vgtest@127.0.0.1:3306}
export TEST_AMQP_URL=${TEST_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}

log "cargo build --release (the five services and the drill program)"
cargo build --release -p gateway -p fulfillment -p notifier -p agiso-sync -p admin -p system-tests --bins
target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
log "running the drills (service logs in ${TMPDIR:-/tmp}/vg-drills/)"
exec "$target_dir/release/drills" "$@"
