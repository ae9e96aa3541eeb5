#!/bin/bash
# Runs once, on the first start of an empty data volume (/docker-entrypoint-initdb.d).
# One database per service, each owned by its own login role. Passwords come from the
# container environment (<NAME>_DB_PASSWORD), set in docker-compose.yml.
set -euo pipefail

for svc in intake routing supervision reporting; do
    var="${svc^^}_DB_PASSWORD"
    password="${!var:-}"
    if [ -z "$password" ]; then
        echo "init.sh: $var is not set" >&2
        exit 1
    fi
    echo "init.sh: creating role and database $svc"
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "${POSTGRES_DB:-postgres}" \
         -v svc="$svc" -v pw="$password" <<'SQL'
CREATE ROLE :"svc" LOGIN PASSWORD :'pw';
CREATE DATABASE :"svc" OWNER :"svc" ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE :"svc" FROM PUBLIC;
\connect :"svc"
ALTER SCHEMA public OWNER TO :"svc";
SQL
done
