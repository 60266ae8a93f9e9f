#!/bin/sh
# The auth file from the environment (never baked into the image), then PgBouncer in the foreground.
set -eu
umask 077
printf '"%s" "%s"\n' "${PGBOUNCER_USER:?}" "${PGBOUNCER_PASSWORD:?}" > /etc/pgbouncer/userlist.txt
exec pgbouncer /etc/pgbouncer/pgbouncer.ini
