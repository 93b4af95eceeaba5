# Starting throwaway Postgres and Memcached servers on loopback, for scripts/run and the tests'
# shell users. Source it; every function prints what it started.
#
# Postgres refuses to run as root, so as root it runs as the 'postgres' user that the Debian
# package creates. Its data directory must be reachable by that user; when the given folder is
# not (a checkout under /root, say), a folder under /tmp is used instead.

PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}

# A port nothing listens on right now (bash only: a fresh Debian may have no python), below
# Linux's ephemeral range so that no outgoing connection takes it before the server binds it.
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 12768))
    (exec 3<>/dev/tcp/127.0.0.1/"$p") 2>/dev/null || { echo "$p"; return; }
  done
}

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# start_postgres DIR PORT: sets PG_DIR, PG_PORT, PG_URL
start_postgres() {
  local dir=$1 port=$2
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres "$dir"
    if ! runuser -u postgres -- test -w "$dir"; then
      dir=$(mktemp -d /tmp/revalidator-pg.XXXXXX)
      chown postgres "$dir"
    fi
  fi
  PG_DIR=$dir/data
  PG_PORT=$port
  if [ ! -f "$PG_DIR/PG_VERSION" ]; then
    as_pg "$PG_BIN/initdb" -D "$PG_DIR" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR" -l "$dir/postgres.log" -w -t 30 \
    -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$dir -c fsync=off" start >/dev/null
  PG_URL="postgresql://postgres@127.0.0.1:$port/postgres"
  echo "postgres: $PG_URL (data $PG_DIR, log $dir/postgres.log)"
}

stop_postgres() {
  [ -n "${PG_DIR:-}" ] && as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR" -m fast -w stop >/dev/null 2>&1 || true
}

# start_memcached PORT: sets MC_PID, MC_ADDR
start_memcached() {  # PORT [MEGABYTES, 256]
  local port=$1 mb=${2:-256} user_flag=()
  [ "$(id -u)" -eq 0 ] && user_flag=(-u nobody)
  memcached "${user_flag[@]}" -l 127.0.0.1 -p "$port" -U 0 -m "$mb" &
  MC_PID=$!
  MC_ADDR=127.0.0.1:$port
  for _ in $(seq 100); do
    (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && { echo "memcached: $MC_ADDR"; return 0; }
    sleep 0.05
  done
  echo "memcached did not start on $port" >&2
  return 1
}

stop_memcached() {
  [ -n "${MC_PID:-}" ] && kill "$MC_PID" 2>/dev/null && wait "$MC_PID" 2>/dev/null || true
}
