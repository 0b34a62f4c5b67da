#!/usr/bin/env bash
# Runs the whole platform on this machine without Docker:
#   - makes MariaDB and RabbitMQ available (installs them on Debian/Ubuntu if absent),
#   - creates the database `vgoods` and the user vgoods/vgoods,
#   - creates .env from .env.example (with a freshly generated MASTER_KEY and passwords) if there
#     is none,
#   - builds the five services and the JD simulator `jd-sim`, applies the migrations (`admin migrate`),
#   - starts gateway, fulfillment, notifier, agiso-sync and admin with prefixed, coloured logs,
#   - stops them all (SIGTERM, graceful) on Ctrl-C / SIGTERM, or when one of them exits.
#
# Usage: scripts/dev.sh [--release]
#   DEV_BIND=0.0.0.0 scripts/dev.sh    listen on every interface (default 127.0.0.1)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/services.sh

profile=debug
cargo_flags=()
for arg in "$@"; do
  case "$arg" in
    --release) profile=release; cargo_flags+=(--release) ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $arg (usage: scripts/dev.sh [--release])" ;;
  esac
done

bind=${DEV_BIND:-127.0.0.1}
# name:port, in start order.
services=(gateway:8080 fulfillment:8081 notifier:8082 agiso-sync:8070 admin:8090)

command -v cargo >/dev/null || die "cargo not found: install Rust from https://rustup.rs"
command -v curl >/dev/null || apt_install curl ca-certificates

for entry in "${services[@]}"; do
  port_open "${entry#*:}" && die "port ${entry#*:} (${entry%%:*}) is already in use: is another copy running?"
done

ensure_services

log "creating the database vgoods and the user vgoods/vgoods"
# shellcheck disable=SC2119
mysql_root <<'SQL'
CREATE DATABASE IF NOT EXISTS `vgoods` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS 'vgoods'@'localhost' IDENTIFIED BY 'vgoods';
CREATE USER IF NOT EXISTS 'vgoods'@'127.0.0.1' IDENTIFIED BY 'vgoods';
CREATE USER IF NOT EXISTS 'vgoods'@'%' IDENTIFIED BY 'vgoods';
GRANT ALL PRIVILEGES ON `vgoods`.* TO 'vgoods'@'localhost';
GRANT ALL PRIVILEGES ON `vgoods`.* TO 'vgoods'@'127.0.0.1';
GRANT ALL PRIVILEGES ON `vgoods`.* TO 'vgoods'@'%';
FLUSH PRIVILEGES;
SQL

if [ ! -f .env ]; then
  # .env.example leaves the key and the passwords empty: fill in fresh ones. The services run
  # here use DATABASE_URL (the local vgoods/vgoods account created above); the passwords are
  # those `docker compose` would use with this same .env.
  log "creating .env from .env.example with a new MASTER_KEY and new passwords"
  key=$(head -c 32 /dev/urandom | base64 | tr -d '\n')
  hex() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
  # Neither base64 nor hex contains '|'.
  sed -e "s|^MASTER_KEY=.*|MASTER_KEY=$key|" \
      -e "s|^MYSQL_ROOT_PASSWORD=.*|MYSQL_ROOT_PASSWORD=$(hex)|" \
      -e "s|^MYSQL_PASSWORD=.*|MYSQL_PASSWORD=$(hex)|" \
      -e "s|^RABBITMQ_PASSWORD=.*|RABBITMQ_PASSWORD=$(hex)|" \
      .env.example >.env
  chmod 600 .env
  for var in MASTER_KEY MYSQL_ROOT_PASSWORD MYSQL_PASSWORD RABBITMQ_PASSWORD; do
    grep -q "^$var=." .env || die "could not set $var in .env"
  done
  grep -q "^MASTER_KEY=$key\$" .env || die "could not set MASTER_KEY in .env"
fi
grep -q '^MASTER_KEY=REVWLU9OTFktbm90LXNlY3JldC1DSEFOR0UtTUUtMzI=' .env &&
  die ".env still has the old public example MASTER_KEY, which the services refuse: put a new one in (openssl rand -base64 32); data encrypted with the old key can no longer be read, so start from a new database"

# The five services and jd-sim (the JD simulator printed below), not the test and benchmark tools
# of tests/.
packages=()
for entry in "${services[@]}"; do packages+=(-p "${entry%%:*}"); done
packages+=(-p jd-sim)
log "cargo build --bins ${packages[*]} ${cargo_flags[*]:-}"
cargo build --bins "${packages[@]}" "${cargo_flags[@]}"
bindir=${CARGO_TARGET_DIR:-target}/$profile

log "applying migrations (admin migrate)"
"$bindir/admin" migrate

# ---- run ----------------------------------------------------------------------------------------
if [ -t 1 ]; then
  colours=($'\033[34m' $'\033[32m' $'\033[33m' $'\033[35m' $'\033[36m') reset=$'\033[0m'
else
  colours=('' '' '' '' '') reset=''
fi

pids=()
names=()
stopping=
stop_all() {
  [ -n "$stopping" ] && return
  stopping=1
  trap '' INT TERM
  log "stopping the services"
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  # Let the log prefixers print the last lines.
  sleep 0.2
  log "all services stopped"
}
trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM
trap 'stop_all' EXIT

i=0
for entry in "${services[@]}"; do
  name=${entry%%:*} port=${entry#*:}
  prefix="${colours[$i]}[$name]${reset} "
  # The service itself is the background job (so $! is its PID and SIGTERM reaches it); its
  # output goes through a prefixing sed that ignores Ctrl-C (so the shutdown logs still show)
  # and ends when the service closes its output.
  HTTP_ADDR="$bind:$port" "$bindir/$name" > >(trap '' INT; exec sed -u "s/^/$prefix/") 2>&1 &
  pids+=("$!")
  names+=("$name")
  i=$((i + 1))
done

host=$bind
[ "$host" = 0.0.0.0 ] && host=127.0.0.1
log "waiting for /readyz of every service"
deadline=$((SECONDS + 120))
for entry in "${services[@]}"; do
  name=${entry%%:*} port=${entry#*:}
  until curl -fsS -o /dev/null "http://$host:$port/readyz" 2>/dev/null; do
    for j in "${!pids[@]}"; do
      kill -0 "${pids[$j]}" 2>/dev/null || die "${names[$j]} exited during start-up (see its log above)"
    done
    [ "$SECONDS" -lt "$deadline" ] || die "$name not ready within 120 s (see its log above)"
    sleep 0.5
  done
done

cat >&2 <<EOF

  服务已就绪 (all services ready):
    gateway      http://$host:8080   JD 接口 /api/jd/...
    fulfillment  http://$host:8081
    notifier     http://$host:8082
    agiso-sync   http://$host:8070
    admin        http://$host:8090   后台
  每个服务: /healthz /readyz /metrics
  RabbitMQ: amqp://127.0.0.1:5672   MariaDB: 127.0.0.1:3306/vgoods
  按 Ctrl-C 停止全部服务 (Ctrl-C stops everything)

  联调 (integration test with jd-sim, README「联调工具（jd-sim）」):
  dev 库里还没有店铺和商品：先用 admin shop add（--mode prod，回调才发到 notifyUrl）和
  admin product add / cards import 建好，再把下面 <…> 换成实际值（每个参数也都可以用 --md5-key 等选项给出）。
    export JD_SIM_URL=http://$host:8080 JD_VENDOR_ID=<vendorId> JD_MD5_KEY=<MD5密钥> JD_AES_KEY=<32位AES密钥>
  1) 另开终端（同样 export）接收回调 (receive the callbacks):
    $bindir/jd-sim listen --port 9999
  2) 发第一笔测试订单 (send a first test order), 再查询结果 (then query it):
    $bindir/jd-sim general begin --ware-no <商品SKU> --quantity 1 --total-price <单价（分）> --notify-url http://127.0.0.1:9999/vtp
    $bindir/jd-sim general find --jd-order-no <上一步打印的 jdOrderNo> --quantity 1 --wait 30

EOF

# Until a signal arrives or a service exits on its own.
while :; do
  for j in "${!pids[@]}"; do
    if ! kill -0 "${pids[$j]}" 2>/dev/null; then
      status=0
      wait "${pids[$j]}" || status=$?
      log "${names[$j]} exited (status $status); stopping the others"
      exit 1
    fi
  done
  sleep 1
done
