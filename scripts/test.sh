#!/usr/bin/env bash
# The whole suite, twice: on SQLite (embedded default) and on PostgreSQL (production).
# PostgreSQL: ONSITE_TEST_DATABASE_URL if set; otherwise a throw-away server on loopback, installed from
# Debian's packages when missing, created and removed by pg_virtualenv.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTEST=(.venv/bin/python -m pytest -n 2 -p no:cacheprovider "$@")
# The real-browser tests run once, on SQLite: they test the pages, which are the same on either database (the
# Flask-client console tests cover PostgreSQL), and a browser per test is the slowest part of the suite.
PYTEST_PG=("${PYTEST[@]}" -m "not browser")

# The console's real-browser tests (marker `browser`) drive Debian's chromium; install it like PostgreSQL.
if ! command -v chromium >/dev/null; then
  echo "installing chromium (Debian package) ..."
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

echo "=== SQLite ==="
env -u ONSITE_TEST_DATABASE_URL "${PYTEST[@]}"

echo "=== PostgreSQL ==="
if [ -n "${ONSITE_TEST_DATABASE_URL:-}" ]; then
  "${PYTEST_PG[@]}"
  exit 0
fi
if ! command -v pg_virtualenv >/dev/null || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  echo "installing PostgreSQL (Debian package) ..."
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql postgresql-common >/dev/null
fi
# pg_virtualenv exports PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE for a fresh cluster on loopback.
pg_virtualenv -t -o "max_connections=200" bash -c '
  export ONSITE_TEST_DATABASE_URL="postgresql+psycopg://${PGUSER}:${PGPASSWORD}@127.0.0.1:${PGPORT}/${PGDATABASE}"
  exec "$@"' _ "${PYTEST_PG[@]}"
