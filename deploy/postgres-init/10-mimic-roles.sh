#!/bin/bash
# First start of the postgres container only: the database "mimic", owned by mimic_owner (who runs the
# migrations), and mimic_app (what web, worker and beat connect as), which owns nothing. grant_app_role, run
# by the migrate service after each migrate, gives mimic_app its rights on the tables.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username postgres \
  -v owner_pw="$MIMIC_DB_OWNER_PASSWORD" -v app_pw="$MIMIC_DB_APP_PASSWORD" <<'SQL'
CREATE ROLE mimic_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'owner_pw';
CREATE ROLE mimic_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'app_pw';
CREATE DATABASE mimic OWNER mimic_owner;
\connect mimic
ALTER SCHEMA public OWNER TO mimic_owner;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO mimic_app;
SQL
