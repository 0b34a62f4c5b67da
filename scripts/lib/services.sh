#!/usr/bin/env bash
# Makes MariaDB and RabbitMQ available on this machine: installs them (Debian/Ubuntu) when
# absent, starts them when stopped, waits until they answer. Sourced by test.sh and dev.sh.

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    die "need root to run: $*"; fi
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() { # port seconds name
  local i
  for ((i = 0; i < $2 * 5; i++)); do port_open "$1" && return 0; sleep 0.2; done
  die "$3 did not open port $1 within $2 s"
}

APT_UPDATED=
apt_install() {
  command -v apt-get >/dev/null || die "missing $* and no apt-get: install them by hand"
  if [ -z "$APT_UPDATED" ]; then as_root apt-get update -qq; APT_UPDATED=1; fi
  log "installing $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

mariadbd_bin() {
  for b in /usr/sbin/mariadbd /usr/sbin/mysqld; do [ -x "$b" ] && { echo "$b"; return; }; done
}

ensure_mariadb() {
  if port_open 3306; then return; fi
  [ -n "$(mariadbd_bin)" ] || apt_install mariadb-server mariadb-client
  log "starting MariaDB"
  as_root mkdir -p /run/mysqld
  as_root chown mysql:mysql /run/mysqld 2>/dev/null || true
  if [ ! -d /var/lib/mysql/mysql ]; then
    as_root mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
  fi
  as_root start-stop-daemon --start --oknodo --background --exec "$(mariadbd_bin)" -- --user=mysql
  wait_port 3306 60 MariaDB
}

ensure_rabbitmq() {
  if port_open 5672; then return; fi
  command -v rabbitmq-server >/dev/null || [ -x /usr/sbin/rabbitmq-server ] || apt_install rabbitmq-server
  log "starting RabbitMQ"
  as_root rabbitmq-server -detached >/dev/null 2>&1 || true
  wait_port 5672 120 RabbitMQ
  # The port opens before the broker accepts work; wait for the full start-up.
  as_root rabbitmqctl await_startup >/dev/null 2>&1 || true
}

# Runs SQL as the MariaDB administrator (root over the socket, falling back to TCP).
mysql_root() {
  local client
  client=$(command -v mariadb || command -v mysql) || die "no mariadb/mysql client"
  if as_root "$client" -uroot -e 'SELECT 1' >/dev/null 2>&1; then
    as_root "$client" -uroot "$@"
  else
    "$client" -uroot -h127.0.0.1 "$@"
  fi
}

ensure_services() {
  ensure_mariadb
  ensure_rabbitmq
}

# Headless Chromium, its WebDriver and a Chinese font, for the admin's real-browser test (its
# screenshots show the Chinese pages as operators see them).
ensure_chromium() {
  if ! command -v chromedriver >/dev/null || ! { command -v chromium >/dev/null || command -v chromium-browser >/dev/null; }; then
    apt_install chromium chromium-driver
  fi
  if command -v fc-list >/dev/null && [ -z "$(fc-list :lang=zh 2>/dev/null)" ]; then
    apt_install fonts-wqy-microhei
  fi
}
