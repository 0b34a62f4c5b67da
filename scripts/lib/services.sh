#!/usr/bin/env bash
# The machine checks and set-up shared by test.sh and dev.sh: the toolchain check, the one way to
# run a privileged command (root, else sudo), and making MariaDB, RabbitMQ and Chromium
# available (installing them with apt on Debian/Ubuntu when absent, starting them when stopped,
# waiting until they answer).

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
warn() { printf '\033[1;33mwarning:\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# ---- privileges ---------------------------------------------------------------------------------

is_root() { [ "$(id -u)" -eq 0 ]; }

# Empty when privileged commands can run (as root, or through sudo), else why not.
privilege_problem() {
  is_root && return
  command -v sudo >/dev/null && return
  echo "this needs root: run it as root, or install sudo and give $(id -un) sudo rights"
}

# The one way to run a privileged command (apt-get, starting the servers, the database's root
# login, rabbitmqctl): directly as root, else through sudo (which asks for the password once).
as_root() {
  if is_root; then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo "$@"
  else
    die "need root to run \`$*\`: run as root, or install sudo and give $(id -un) sudo rights"
  fi
}

# For a non-root user: asks for the sudo password now (once, up front) and keeps the credentials
# fresh until the shell exits, so later steps and the broker-restart test (`sudo -n rabbitmqctl`)
# do not stop to ask, however long the build takes.
SUDO_KEEPALIVE=
sudo_keepalive() {
  is_root && return
  [ -n "$SUDO_KEEPALIVE" ] && return
  command -v sudo >/dev/null || die "$(privilege_problem)"
  log "sudo: commands that need root run through sudo"
  sudo -v || die "sudo refused: $(id -un) needs sudo rights for these steps"
  (while sleep 60; do sudo -n -v 2>/dev/null || exit; done) &
  SUDO_KEEPALIVE=$!
  # shellcheck disable=SC2064
  trap "kill $SUDO_KEEPALIVE 2>/dev/null || true" EXIT
}

# ---- apt ----------------------------------------------------------------------------------------

has_apt() { command -v apt-get >/dev/null; }

APT_UPDATED=
apt_install() {
  has_apt || die "missing $*, and there is no apt-get here: install them by hand"
  if [ -z "$APT_UPDATED" ]; then as_root apt-get update -qq; APT_UPDATED=1; fi
  log "installing $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# ---- the toolchain and the machine --------------------------------------------------------------

# The Rust version the workspace declares (Cargo.toml `rust-version`: what the locked
# dependencies need).
required_rust() {
  sed -n 's/^rust-version *= *"\([0-9.]*\)".*/\1/p' Cargo.toml | head -n1
}

version_at_least() { # have want
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]
}

mariadbd_bin() {
  for b in /usr/sbin/mariadbd /usr/sbin/mysqld; do [ -x "$b" ] && { echo "$b"; return; }; done
}

has_rabbitmq() { command -v rabbitmq-server >/dev/null || [ -x /usr/sbin/rabbitmq-server ]; }

# True when $1 is an executable that is not a snap (Ubuntu's apt `chromium-browser` and
# `chromium-chromedriver` are shims or links that run the snap).
not_snap() {
  [ -x "$1" ] || return 1
  case "$(readlink -f "$1")" in /snap/*) return 1 ;; esac
  # A script (Debian's /usr/bin/chromium is one too) must not run something under /snap/;
  # binaries are not searched (they contain all sorts of strings).
  [ "$(head -c 2 "$1")" != '#!' ] || ! grep -qs '/snap/' "$1"
}

# A real (non-snap) Chromium and chromedriver, where the browser test looks for them.
has_chromium() {
  { not_snap /usr/bin/chromium || not_snap /usr/bin/chromium-browser; } &&
    { not_snap /usr/bin/chromedriver || not_snap /usr/lib/chromium/chromedriver; }
}

# Ubuntu ships Chromium only as a snap, which does not run headless under chromedriver in
# containers and CI-like set-ups. True on Ubuntu and its derivatives (OS_RELEASE, default
# /etc/os-release) when no real Chromium is installed; never on Debian.
chromium_snap_only() {
  local id
  # shellcheck disable=SC1090,SC1091
  id=$( (. "${OS_RELEASE:-/etc/os-release}" 2>/dev/null && echo " ${ID:-} ${ID_LIKE:-} ") || true)
  case "$id" in *" ubuntu "*) ;; *) return 1 ;; esac
  ! has_chromium
}

# Checks everything the tests need before installing anything, and reports every missing piece
# in one message. Rust (rustc, cargo, rustfmt, clippy) is never installed here: without it the
# script stops with instructions. The rest is installed with apt when missing (after this
# report); without apt-get the script stops and says what to install.
# Sets APT_NEEDED (packages to install) and BROWSER_SKIP (why the browser test is skipped, or
# empty).
APT_NEEDED=()
BROWSER_SKIP=
check_prerequisites() {
  local want missing=() rust_ok=1
  want=$(required_rust)
  if ! command -v cargo >/dev/null || ! command -v rustc >/dev/null; then
    missing+=("Rust >= $want (cargo, rustc)")
    rust_ok=
  else
    local have
    have=$(rustc --version | awk '{print $2}')
    if ! version_at_least "${have%%-*}" "$want"; then
      missing+=("Rust >= $want (found $have)")
      rust_ok=
    fi
    cargo fmt --version >/dev/null 2>&1 || { missing+=("rustfmt"); rust_ok=; }
    cargo clippy --version >/dev/null 2>&1 || { missing+=("clippy"); rust_ok=; }
  fi
  if ! command -v cc >/dev/null; then missing+=("a C compiler (cc)"); APT_NEEDED+=(gcc libc6-dev); fi
  # No pkg-config: no dependency links a system library (TLS is rustls; aws-lc-sys, under
  # rustls, builds its C code with cc alone).
  if ! port_open 3306 && [ -z "$(mariadbd_bin)" ]; then
    missing+=("MariaDB server (>= 10.6) or MySQL 8")
    APT_NEEDED+=(mariadb-server mariadb-client)
  elif ! command -v mariadb >/dev/null && ! command -v mysql >/dev/null; then
    missing+=("the mariadb (or mysql) client")
    APT_NEEDED+=(mariadb-client)
  fi
  if ! port_open 5672 && ! has_rabbitmq; then
    missing+=("RabbitMQ server")
    APT_NEEDED+=(rabbitmq-server)
  fi
  if ! has_chromium; then
    if chromium_snap_only; then
      BROWSER_SKIP="Chromium is only a snap on this system (Ubuntu); install a non-snap chromium and chromedriver to run it"
    else
      missing+=("chromium + chromedriver (the back office's browser test)")
      APT_NEEDED+=(chromium chromium-driver)
    fi
  fi
  if { has_chromium || [ -z "$BROWSER_SKIP" ]; } && command -v fc-list >/dev/null &&
    [ -z "$(fc-list :lang=zh 2>/dev/null)" ]; then
    missing+=("a Chinese font (screenshots)")
    APT_NEEDED+=(fonts-wqy-microhei)
  fi

  if [ "${#missing[@]}" -gt 0 ]; then
    local msg="missing:"
    local m
    for m in "${missing[@]}"; do msg+=$'\n'"  - $m"; done
    if [ -z "$rust_ok" ]; then
      msg+=$'\n'"Rust is not installed by this script: install rustup (https://rustup.rs), then"
      msg+=$'\n'"  rustup toolchain install stable --component rustfmt clippy   (needs >= $want)"
    fi
    if [ "${#APT_NEEDED[@]}" -gt 0 ]; then
      if has_apt; then
        msg+=$'\n'"to be installed with apt: ${APT_NEEDED[*]}"
        local p
        p=$(privilege_problem)
        [ -n "$p" ] && { msg+=$'\n'"but $p"; rust_ok=; }
      else
        msg+=$'\n'"no apt-get here: install them with your system's package manager"
        msg+=$'\n'"  (Debian/Ubuntu names: ${APT_NEEDED[*]})"
        rust_ok=
      fi
    fi
    if [ -z "$rust_ok" ]; then die "$msg"; fi
    warn "$msg"
  fi
}

# ---- the servers --------------------------------------------------------------------------------

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() { # port seconds name
  local i
  for ((i = 0; i < $2 * 5; i++)); do port_open "$1" && return 0; sleep 0.2; done
  die "$3 did not open port $1 within $2 s"
}

ensure_mariadb() {
  if port_open 3306; then return; fi
  [ -n "$(mariadbd_bin)" ] || apt_install mariadb-server mariadb-client
  log "starting MariaDB"
  as_root mkdir -p /run/mysqld
  as_root chown mysql:mysql /run/mysqld 2>/dev/null || true
  if ! as_root test -d /var/lib/mysql/mysql; then
    as_root mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
  fi
  as_root start-stop-daemon --start --oknodo --background --exec "$(mariadbd_bin)" -- --user=mysql
  wait_port 3306 60 MariaDB
}

ensure_rabbitmq() {
  if port_open 5672; then return; fi
  has_rabbitmq || apt_install rabbitmq-server
  log "starting RabbitMQ"
  as_root rabbitmq-server -detached >/dev/null 2>&1 || true
  wait_port 5672 120 RabbitMQ
  # The port opens before the broker accepts work; wait for the full start-up.
  as_root rabbitmqctl await_startup >/dev/null 2>&1 || true
}

# Runs SQL as the MariaDB administrator: root@localhost authenticates over the socket by the
# caller's system user (unix_socket), hence through as_root; falls back to root over TCP (a
# server whose root has no password).
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

# A C compiler for the crates that build C code (aws-lc-sys, under rustls).
ensure_cc() {
  command -v cc >/dev/null || apt_install gcc libc6-dev
}

# Headless Chromium, its WebDriver and a Chinese font, for the admin's real-browser test (its
# screenshots show the Chinese pages as operators see them). Where Chromium is only a snap
# (Ubuntu), installs nothing and leaves the browser test to be skipped (BROWSER_SKIP).
ensure_chromium() {
  if ! has_chromium; then
    if chromium_snap_only; then
      BROWSER_SKIP=${BROWSER_SKIP:-"Chromium is only a snap on this system (Ubuntu); install a non-snap chromium and chromedriver to run it"}
      warn "browser test will be skipped: $BROWSER_SKIP"
      return
    fi
    apt_install chromium chromium-driver
  fi
  if command -v fc-list >/dev/null && [ -z "$(fc-list :lang=zh 2>/dev/null)" ]; then
    apt_install fonts-wqy-microhei
  fi
}
