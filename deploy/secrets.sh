#!/bin/sh
# Generates the secrets docker-compose.yml reads, in ./secrets (or the directory given),
# keeping any that exist: an nkey seed per NATS identity (service, reader, admin), the
# servers' environment file with their public keys, and Grafana's admin password.
# Run from the repository's root: sh deploy/secrets.sh
set -eu
dir=${1:-secrets}
umask 077
mkdir -p "$dir"
for id in service reader admin; do
	[ -s "$dir/$id.nk" ] || go run github.com/nats-io/nkeys/nk -gen user -pubout >"$dir/$id.nk"
done
for id in service reader admin; do
	printf 'CASESTREAM_%s_NKEY=%s\n' "$(echo "$id" | tr a-z A-Z)" "$(sed -n 2p "$dir/$id.nk")"
done >"$dir/nats.env"
[ -s "$dir/grafana-admin-password" ] || head -c 24 /dev/urandom | base64 >"$dir/grafana-admin-password"
# The containers read these as their own users (casestream's nonroot, grafana's): the
# directory stays the operator's alone.
chmod 0700 "$dir"
chmod 0644 "$dir/service.nk" "$dir/grafana-admin-password"
echo "secrets in $dir: the reader's seed is $dir/reader.nk, the admin's $dir/admin.nk"
