#!/usr/bin/env bash
# The black-box acceptance suite against the service on PostgreSQL: the same run as
# scripts/run-acceptance.sh (API, workers, the suite's API keys), with DATABASE_URL pointing at a
# fresh database of its own on the tests' server (scripts/postgres-server.sh, started when it does
# not run), dropped afterwards. Exits with pytest's status, or 1 when the jobs did not land in
# that database.
# Usage: scripts/run-acceptance-postgres.sh [path-to-acceptance-suite] [pytest args...]
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
line=$(bash "$ROOT/scripts/postgres-server.sh" start) || exit 1
url=${line#TEST_POSTGRES_URL=}
port=${url##*:}
port=${port%%/*}
socket_dir="${PG_SOCKET_DIR:-${PG_DATA_DIR:-/var/tmp/code-runner-postgres}-socket}"
database="cr_acceptance_$$"
admin() { runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -h "$socket_dir" -p "$port" -d postgres -c "$1"; }

admin "CREATE DATABASE $database OWNER code_runner" || exit 1
trap 'admin "DROP DATABASE IF EXISTS $database WITH (FORCE)" || echo "run-acceptance-postgres: could not drop $database" >&2' EXIT
echo "run-acceptance-postgres: the service on PostgreSQL, database $database"
SERVICE_ENV="${SERVICE_ENV:-} DATABASE_URL=${url%/*}/$database" bash "$ROOT/scripts/run-acceptance.sh" "$@"
status=$?
# The suite passing says nothing about where the jobs went: they must be in this database.
jobs=$(runuser -u postgres -- psql -X -At -h "$socket_dir" -p "$port" -d "$database" -c "SELECT count(*) FROM jobs") || jobs=0
echo "run-acceptance-postgres: $jobs jobs stored in PostgreSQL"
if [ "$status" = 0 ] && [ "${jobs:-0}" -lt 1 ]; then
    echo "run-acceptance-postgres: the service did not store its jobs in PostgreSQL" >&2
    status=1
fi
exit "$status"
