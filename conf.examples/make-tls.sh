#!/bin/sh
# The local parts of the example gateway's TLS listener (127.0.0.1:8443),
# in conf.examples/certs/:
#
#   gateway.crt, gateway.key  a self-signed certificate, made once; for
#                             trying things out only: clients need curl -k
#                             or --cacert conf.examples/certs/gateway.crt
#   listen.conf               the listen line with HTTP/2, in the form of
#                             the nginx given (default: nginx in PATH),
#                             written each time
#
# nginx 1.25.1 moved HTTP/2 from the listen line to "http2 on" and warns
# about the old form, which is all that nginx 1.22 knows.

set -e

nginx=${1:-nginx}
dir=$(dirname "$0")/certs

mkdir -p "$dir"

version=$("$nginx" -v 2>&1 | sed -n 's,^nginx version: [^/]*/\([0-9.]*\).*,\1,p')
[ -n "$version" ] || { echo "make-tls.sh: $nginx -v says no version" >&2; exit 1; }

number=$(echo "$version" | awk -F. '{ printf "%d", $1 * 1000000 + $2 * 1000 + $3 }')

if [ "$number" -ge 1025001 ]; then
    printf '%s\n' "# nginx $version: HTTP/2 by \"http2 on\" (written by make-tls.sh)" \
        'listen       127.0.0.1:8443 ssl;' \
        'http2        on;' > "$dir/listen.conf.new"
else
    printf '%s\n' "# nginx $version: HTTP/2 on the listen line (written by make-tls.sh)" \
        'listen       127.0.0.1:8443 ssl http2;' > "$dir/listen.conf.new"
fi

mv "$dir/listen.conf.new" "$dir/listen.conf"

[ -s "$dir/gateway.crt" ] && [ -s "$dir/gateway.key" ] && exit 0

umask 077

openssl req -x509 -newkey rsa:2048 -nodes -days 365 \
    -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$dir/gateway.key.new" -out "$dir/gateway.crt.new" 2>/dev/null

mv "$dir/gateway.key.new" "$dir/gateway.key"
mv "$dir/gateway.crt.new" "$dir/gateway.crt"
