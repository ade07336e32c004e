#!/bin/sh
# A self-signed certificate for the example gateway's TLS listener
# (127.0.0.1:8443), made once: conf.examples/certs/gateway.{crt,key}.
# For trying things out only; clients need curl -k or
# --cacert conf.examples/certs/gateway.crt.

set -e

dir=$(dirname "$0")/certs

[ -s "$dir/gateway.crt" ] && [ -s "$dir/gateway.key" ] && exit 0

mkdir -p "$dir"
umask 077

openssl req -x509 -newkey rsa:2048 -nodes -days 365 \
    -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$dir/gateway.key.new" -out "$dir/gateway.crt.new" 2>/dev/null

mv "$dir/gateway.key.new" "$dir/gateway.key"
mv "$dir/gateway.crt.new" "$dir/gateway.crt"
