#!/usr/bin/env bash
# The local stack, built by the repository itself under .local/ (git-ignored):
# PostgreSQL and Redis from Debian packages, Apache Solr 9 (Maven Central, devstack/solr/), CKAN 2.11
# with ckanext-harvest and this extension.
# Usage: devstack/stack.sh install|services|up|reload|down|clean|status|logs|chromium|env|venv|solr DIR PORT
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOCAL="$ROOT/.local"
CKAN_VERSION=${CKAN_VERSION:-2.11}
# The one place that decides the virtualenv (the Makefile asks `stack.sh venv`): CKAN 2.11 in
# .local/venv, any other CKAN_VERSION beside it in .local/venv-$CKAN_VERSION.
if [ "$CKAN_VERSION" = 2.11 ]; then VENV="$LOCAL/venv"; else VENV="$LOCAL/venv-$CKAN_VERSION"; fi
RUN="$LOCAL/run"
LOG="$LOCAL/log"
CKAN_INI="$LOCAL/ckan.ini"
SHARED_DATA="$ROOT/../shared/data"

PG_PORT=${BUDGETOD_PG_PORT:-5433}
REDIS_PORT=${BUDGETOD_REDIS_PORT:-6380}
SOLR_PORT=${BUDGETOD_SOLR_PORT:-8983}
SOLR_TEST_PORT=${BUDGETOD_SOLR_TEST_PORT:-8984}
CKAN_PORT=${BUDGETOD_CKAN_PORT:-5000}
# Local-only role: the cluster listens on 127.0.0.1 and its socket directory is private.
DB_USER=ckan_default
DB_PASSWORD=pass

say() { printf '\033[1m[stack]\033[0m %s\n' "$*" >&2; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# ---------------------------------------------------------------- install

pg_bindir() {
  local dir
  for dir in /usr/lib/postgresql/15/bin $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV); do
    [ -x "$dir/initdb" ] && { echo "$dir"; return; }
  done
  return 1
}

install_system() {
  local missing=()
  pg_bindir >/dev/null || missing+=(postgresql-15)
  command -v redis-server >/dev/null || missing+=(redis-server)
  command -v msgfmt >/dev/null || missing+=(gettext)
  command -v pg_config >/dev/null || missing+=(libpq-dev)
  command -v gcc >/dev/null || missing+=(build-essential)
  command -v curl >/dev/null || missing+=(curl)
  command -v javac >/dev/null || missing+=(default-jdk-headless)
  command -v mvn >/dev/null || missing+=(maven)
  command -v npm >/dev/null || missing+=(nodejs npm)
  python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv python3-dev)
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

install_python() {
  local stamp="$VENV/.budgetod-installed" wanted
  wanted=$(cat "$ROOT/pyproject.toml" "$ROOT/setup.py" | sha1sum | cut -c1-40)-$CKAN_VERSION
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
    return
  fi
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  mkdir -p "$LOG"
  say "installing CKAN $CKAN_VERSION, ckanext-harvest and ckanext-budgetod into ${VENV#"$ROOT"/} (log: .local/log/install.log)"
  if ! {
    "$VENV/bin/pip" install --upgrade pip setuptools wheel &&
      "$VENV/bin/pip" install "ckan[requirements]==$CKAN_VERSION.*" "ckanext-harvest==1.6.*" &&
      "$VENV/bin/pip" install -e "$ROOT[test,dev]"
  } >"$LOG/install.log" 2>&1; then
    tail -n 30 "$LOG/install.log" >&2
    die "the Python installation failed (see .local/log/install.log)"
  fi
  echo "$wanted" >"$stamp"
}

compile_catalogues() {
  local po
  for po in "$ROOT"/i18n/*/LC_MESSAGES/*.po; do
    [ -e "$po" ] || continue
    [ "${po%.po}.mo" -nt "$po" ] || msgfmt --check -o "${po%.po}.mo" "$po"
  done
}

# The front-end packages (package.json): Apache ECharts, copied into the git-ignored
# ckanext/budgetod/public/vendor/ that CKAN serves, and playwright-core for the browser tests.
build_assets() {
  local stamp="$ROOT/node_modules/.budgetod-installed" wanted
  wanted=$(cat "$ROOT/package.json" "$ROOT/package-lock.json" | sha1sum | cut -c1-40)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
    mkdir -p "$LOG"
    say "installing the npm packages (log: .local/log/npm.log)"
    (cd "$ROOT" && npm ci --no-audit --no-fund) >"$LOG/npm.log" 2>&1 ||
      { tail -n 20 "$LOG/npm.log" >&2; die "npm ci failed (see .local/log/npm.log)"; }
    echo "$wanted" >"$stamp"
  fi
  (cd "$ROOT" && npm run --silent build)
}

# The browser tests drive Debian's Chromium; nothing downloads a browser.
install_chromium() {
  [ -x /usr/bin/chromium ] && return
  say "installing Chromium (Debian package) for the browser tests"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
}

install_all() {
  install_system
  install_python
  compile_catalogues
  build_assets
}

# ---------------------------------------------------------------- services

PG_DATA="$LOCAL/pg"

# PostgreSQL refuses to run as root: as root, the cluster belongs to the postgres user, which
# must be able to reach it. A checkout under an unreachable directory (e.g. /root) keeps its
# cluster under /var/tmp instead, linked from .local/pg.
pg_prepare_dir() {
  [ -e "$PG_DATA" ] && return
  mkdir -p "$LOCAL"
  if [ "$(id -u)" = 0 ]; then
    if ! runuser -u postgres -- test -x "$LOCAL"; then
      local outside="/var/tmp/budgetod-$(echo "$ROOT" | sha1sum | cut -c1-12)/pg"
      mkdir -p "$outside"
      chown postgres: "$outside" "$(dirname "$outside")"
      ln -s "$outside" "$PG_DATA"
      return
    fi
    mkdir -p "$PG_DATA"
    chown postgres: "$PG_DATA"
  else
    mkdir -p "$PG_DATA"
  fi
}

as_pg_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

pg_running() { [ -f "$PG_DATA/data/postmaster.pid" ] && as_pg_owner "$(pg_bindir)/pg_ctl" -D "$PG_DATA/data" status >/dev/null 2>&1; }

psql_admin() { as_pg_owner "$(pg_bindir)/psql" -h "$PG_DATA/run" -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }

start_postgres() {
  local bin; bin=$(pg_bindir) || die "PostgreSQL is not installed (run: make install)"
  pg_prepare_dir
  if [ ! -f "$PG_DATA/data/PG_VERSION" ]; then
    say "creating the PostgreSQL cluster in .local/pg"
    as_pg_owner mkdir -p "$PG_DATA/run"
    as_pg_owner "$bin/initdb" -D "$PG_DATA/data" -U postgres --auth-local=trust \
      --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if ! pg_running; then
    as_pg_owner chmod 700 "$PG_DATA/run"
    as_pg_owner "$bin/pg_ctl" -D "$PG_DATA/data" -l "$PG_DATA/postgresql.log" -w -t 60 \
      -o "-p $PG_PORT -k $PG_DATA/run -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
  fi
  if [ "$(psql_admin -c "select 1 from pg_roles where rolname='$DB_USER'")" != 1 ]; then
    psql_admin -c "create role $DB_USER login password '$DB_PASSWORD'"
  fi
  local db
  for db in ckan ckan_test ckan_bench; do
    if [ "$(psql_admin -c "select 1 from pg_database where datname='$db'")" != 1 ]; then
      psql_admin -c "create database $db owner $DB_USER encoding 'UTF8'"
    fi
  done
}

stop_postgres() {
  [ -e "$PG_DATA/data" ] || return 0
  pg_running && as_pg_owner "$(pg_bindir)/pg_ctl" -D "$PG_DATA/data" -m fast -w stop >/dev/null
  return 0
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_pidfile() {
  local pidfile=$1 pid i
  pid_alive "$pidfile" || { rm -f "$pidfile"; return 0; }
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || true
  for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

# Polls URL until it answers (3 minutes at most: a JVM starting on a busy 2-core machine is slow);
# gives up at once when the process of PIDFILE, if given, has died.
wait_for_url() {
  local url=$1 name=$2 pidfile=${3:-} deadline=$((SECONDS + 180))
  until curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; do
    [ -z "$pidfile" ] || pid_alive "$pidfile" || die "$name stopped before answering at $url (see .local/log)"
    [ "$SECONDS" -lt "$deadline" ] || die "$name did not answer at $url (see .local/log)"
    sleep 0.2
  done
}

start_redis() {
  mkdir -p "$RUN" "$LOG"
  pid_alive "$RUN/redis.pid" && return
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no --daemonize yes \
    --pidfile "$RUN/redis.pid" --logfile "$LOG/redis.log" --dir "$RUN"
  local i
  for i in $(seq 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && return; sleep 0.1; done
  die "Redis did not start (see .local/log/redis.log)"
}

# Apache Solr 9 (solr-core from Maven Central) in an embedded Jetty: devstack/solr/ is a small
# launcher built with Maven, its dependencies downloaded once into .local/m2.
SOLR_SRC="$ROOT/devstack/solr"
SOLR_BUILD="$LOCAL/solr-build"
MAVEN=(mvn -B -q "-Dmaven.repo.local=$LOCAL/m2" -Dmaven.test.skip=true -f "$SOLR_SRC/pom.xml")

build_solr() {
  local stamp="$SOLR_BUILD/.budgetod-built" wanted
  wanted=$(cd "$SOLR_SRC" && find pom.xml src -type f | sort | xargs cat | sha1sum | cut -c1-40)
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ] && return
  mkdir -p "$LOG"
  say "building the Solr launcher (the first time, Maven downloads Solr into .local/m2; log: .local/log/solr-build.log)"
  # Offline when every artifact is already in .local/m2, online otherwise.
  { "${MAVEN[@]}" -o package || "${MAVEN[@]}" package; } >"$LOG/solr-build.log" 2>&1 ||
    { tail -n 30 "$LOG/solr-build.log" >&2; die "the Solr launcher could not be built (see .local/log/solr-build.log)"; }
  echo "$wanted" >"$stamp"
}

# A Solr home with one core, `ckan`: our solrconfig.xml and the schema.xml of the installed CKAN
# (copied at each start, never committed). The analysers' word lists are left empty.
prepare_solr_home() {
  local home=$1 schema
  schema=$(first_existing "$VENV"/lib/python3*/site-packages/ckan/config/solr/schema.xml)
  [ -n "$schema" ] || die "CKAN's schema.xml is missing from ${VENV#"$ROOT"/} (run: make install)"
  mkdir -p "$home/ckan/conf"
  cp "$SOLR_SRC/solr.xml" "$home/solr.xml"
  cp "$SOLR_SRC/solrconfig.xml" "$home/ckan/conf/solrconfig.xml"
  cp "$schema" "$home/ckan/conf/schema.xml"
  touch "$home/ckan/conf/synonyms.txt" "$home/ckan/conf/protwords.txt"
  if [ ! -f "$home/ckan/core.properties" ]; then
    echo "name=ckan" >"$home/ckan/core.properties"
    touch "$home/.new-core"  # `up` indexes the portal's datasets into a new core
  fi
}

# Runs Solr in the foreground (exec: the caller's PID becomes the JVM's). 512 MB of heap at most.
# With "memory", the index is kept in memory, without transaction log (solrconfig.xml says why).
run_solr() {
  local home=$1 port=$2 storage=${3:-disk} options=()
  build_solr
  prepare_solr_home "$home"
  mkdir -p "$LOG"
  [ "$storage" = memory ] && options=(-Dsolr.directoryFactory=solr.ByteBuffersDirectoryFactory
    -Dsolr.lock.type=single -Dsolr.updateLog=false)
  exec java -Xms64m -Xmx512m -XX:+UseSerialGC -Dsolr.log.dir="$LOG" "${options[@]}" \
    -cp "$SOLR_BUILD/budgetod-solr-1.jar:$(cat "$SOLR_BUILD/classpath.txt")" \
    fr.budgetod.devstack.SolrLauncher "$home" "$port"
}

# Two Solr instances: the portal's index, and the tests' (which the tests wipe freely, kept in
# memory). They start together; start_services waits for both.
start_solr() {
  local name=$1 port=$2 storage=$3
  mkdir -p "$RUN" "$LOG"
  if pid_alive "$RUN/$name.pid"; then
    # A running core whose schema is not the installed CKAN's (e.g. CKAN_VERSION changed) reloads it.
    local schema; schema=$(first_existing "$VENV"/lib/python3*/site-packages/ckan/config/solr/schema.xml)
    if ! cmp -s "$schema" "$LOCAL/$name/ckan/conf/schema.xml"; then
      prepare_solr_home "$LOCAL/$name"
      curl -fsS -o /dev/null --max-time 60 "http://127.0.0.1:$port/solr/admin/cores?action=RELOAD&core=ckan" ||
        die "Solr ($name) could not reload its core with CKAN's schema (see .local/log/$name.log)"
    fi
    return
  fi
  (run_solr "$LOCAL/$name" "$port" "$storage" >>"$LOG/$name.log" 2>&1) &
  echo $! >"$RUN/$name.pid"
}

start_services() {
  start_postgres
  start_redis
  build_solr
  start_solr solr "$SOLR_PORT" disk
  start_solr solr-test "$SOLR_TEST_PORT" memory
  wait_for_url "http://127.0.0.1:$SOLR_PORT/solr/ckan/admin/ping" "Solr (portal)" "$RUN/solr.pid"
  wait_for_url "http://127.0.0.1:$SOLR_TEST_PORT/solr/ckan/admin/ping" "Solr (tests)" "$RUN/solr-test.pid"
}

# ---------------------------------------------------------------- CKAN

ckan() { "$VENV/bin/ckan" -c "$CKAN_INI" "$@"; }

first_existing() { local p; for p in "$@"; do [ -e "$p" ] && { echo "$p"; return; }; done; }

CKAN_PLUGINS="activity harvest budgetod budgetod_harvester budgetod_view"

ckan_settings() {
  local plans schema
  plans=$(first_existing "$SHARED_DATA/plans-de-comptes")
  schema=$(first_existing "$SHARED_DATA/scdl-budget/schema-0.8.3.json")
  printf '%s\n' \
    "sqlalchemy.url = postgresql://$DB_USER:$DB_PASSWORD@127.0.0.1:$PG_PORT/ckan" \
    "solr_url = http://127.0.0.1:$SOLR_PORT/solr/ckan" \
    "ckan.redis.url = redis://127.0.0.1:$REDIS_PORT/0" \
    "ckan.site_url = http://127.0.0.1:$CKAN_PORT" \
    "ckan.site_title = Budgets ouverts (démo ckanext-budgetod)" \
    "ckan.plugins = $CKAN_PLUGINS" \
    "ckan.storage_path = $LOCAL/storage" \
    "ckan.max_resource_size = 100" \
    "ckan.locale_default = fr" \
    "ckan.locales_offered = fr en" \
    "ckan.harvest.mq.type = redis" \
    "ckanext.budgetod.allow_private_urls = true" \
    "ckanext.budgetod.cache_dir = $LOCAL/cache"
  [ -n "$plans" ] && echo "ckanext.budgetod.plans_de_comptes = $plans"
  [ -n "$schema" ] && echo "ckanext.budgetod.scdl_schema = $schema"
  return 0
}

# .local/ckan.ini is CKAN's generated template plus our settings, re-applied (and the database
# migrated) whenever they change, e.g. when a plugin is added to the stack.
configure_ckan() {
  local settings stamp="$LOCAL/.ckan-settings"
  settings=$(ckan_settings)
  if [ ! -f "$CKAN_INI" ]; then
    mkdir -p "$LOCAL/storage"
    "$VENV/bin/ckan" generate config "$CKAN_INI" >/dev/null
  fi
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$settings" ] && return
  say "configuring .local/ckan.ini and migrating the database"
  local lines=()
  mapfile -t lines <<<"$settings"
  "$VENV/bin/ckan" config-tool "$CKAN_INI" "${lines[@]}" >/dev/null
  { ckan db init && ckan db pending-migrations --apply; } >>"$LOG/ckan-db.log" 2>&1 ||
    die "the CKAN database could not be initialised (see .local/log/ckan-db.log)"
  echo "$settings" >"$stamp"
}

start_ckan() {
  pid_alive "$RUN/ckan.pid" && return
  # Threaded, as a production server has several workers: one client holding a connection (an
  # unread response, a browser's spare socket) must not stall every other request.
  (exec "$VENV/bin/ckan" -c "$CKAN_INI" run -H 127.0.0.1 -p "$CKAN_PORT" --disable-reloader --threaded \
    >>"$LOG/ckan.log" 2>&1) &
  echo $! >"$RUN/ckan.pid"
  wait_for_url "http://127.0.0.1:$CKAN_PORT/api/3/action/status_show" "CKAN" "$RUN/ckan.pid"
}

# The background processes a portal runs beside the web server.
start_workers() {
  local name
  for name in gather-consumer fetch-consumer; do
    pid_alive "$RUN/$name.pid" && continue
    (exec "$VENV/bin/ckan" -c "$CKAN_INI" harvester "$name" >>"$LOG/$name.log" 2>&1) &
    echo $! >"$RUN/$name.pid"
  done
  if ! pid_alive "$RUN/jobs-worker.pid"; then
    (exec "$VENV/bin/ckan" -c "$CKAN_INI" jobs worker >>"$LOG/jobs-worker.log" 2>&1) &
    echo $! >"$RUN/jobs-worker.pid"
  fi
}

# A new portal core (a fresh stack, or one whose index was deleted) gets the database's datasets.
index_new_core() {
  [ -f "$LOCAL/solr/.new-core" ] || return 0
  say "indexing the portal's datasets into the new Solr core"
  ckan search-index rebuild >>"$LOG/ckan-db.log" 2>&1 ||
    die "the search index could not be rebuilt (see .local/log/ckan-db.log)"
  rm -f "$LOCAL/solr/.new-core"
}

up() {
  install_all
  start_services
  configure_ckan
  index_new_core
  start_ckan
  start_workers
  say "CKAN is running at http://127.0.0.1:$CKAN_PORT"
}

# samples: the demo's web server publishing sample documents (devstack/demo.py).
WORKERS="gather-consumer fetch-consumer jobs-worker samples"

down() {
  local name
  for name in $WORKERS; do stop_pidfile "$RUN/$name.pid"; done
  stop_pidfile "$RUN/ckan.pid"
  stop_pidfile "$RUN/solr.pid"
  stop_pidfile "$RUN/solr-test.pid"
  if pid_alive "$RUN/redis.pid"; then
    redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    stop_pidfile "$RUN/redis.pid"
  fi
  stop_postgres
}

clean() {
  down
  local target
  target=$(readlink -f "$PG_DATA" 2>/dev/null || true)
  [ -L "$PG_DATA" ] && [ -n "$target" ] && rm -rf "$(dirname "$target")"
  rm -rf "$LOCAL"
}

status() {
  local name
  pg_running && echo "postgresql: running on 127.0.0.1:$PG_PORT" || echo "postgresql: stopped"
  for name in redis solr solr-test ckan $WORKERS; do
    pid_alive "$RUN/$name.pid" && echo "$name: running (pid $(cat "$RUN/$name.pid"))" || echo "$name: stopped"
  done
}

case "${1:-}" in
  install) install_all ;;
  chromium) install_chromium ;;
  services) install_all; start_services ;;
  up) up ;;
  reload)
    # Restart CKAN and its workers so that they run the code as it is now (no reloader).
    for name in gather-consumer fetch-consumer jobs-worker ckan; do stop_pidfile "$RUN/$name.pid"; done
    up
    ;;
  down) down ;;
  clean) clean ;;
  status) status ;;
  logs)
    # The end of the portal's logs, for a failed run (CI shows only what the commands print).
    for name in ckan jobs-worker gather-consumer fetch-consumer; do
      [ -f "$LOG/$name.log" ] && { echo "== .local/log/$name.log (end)"; tail -n 80 "$LOG/$name.log"; }
    done
    ;;
  env)
    # The connection settings the tests use (CKAN reads these variables over test.ini).
    echo "export CKAN_SQLALCHEMY_URL=postgresql://$DB_USER:$DB_PASSWORD@127.0.0.1:$PG_PORT/ckan_test"
    echo "export CKAN_SOLR_URL=http://127.0.0.1:$SOLR_TEST_PORT/solr/ckan"
    echo "export CKAN_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/1"
    echo "export CKAN_STORAGE_PATH=$LOCAL/test-storage"
    ;;
  venv) echo "$VENV" ;;
  # A Solr of its own in the foreground, its home in DIR (the benches'); the PID stays the JVM's.
  solr) [ $# = 3 ] || die "usage: $0 solr DIR PORT"; run_solr "$2" "$3" ;;
  *) die "usage: $0 install|services|up|reload|down|clean|status|logs|chromium|env|venv|solr DIR PORT" ;;
esac
