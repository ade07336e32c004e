#!/bin/sh
# `make run-cluster`: Redis on 127.0.0.1:6390, two gateway instances on
# 8091 and 8092 sharing it, and a load balancer on 8090 in front of them,
# all in the foreground under build/cluster/ (Ctrl-C stops everything).

set -e

nginx=${NGINX_BINARY:-/usr/sbin/nginx}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
run=$root/build/cluster

command -v redis-server >/dev/null \
    || { echo "run-cluster: redis-server is missing (make deps)" >&2; exit 1; }

mkdir -p "$run/redis" "$run/lb/logs"
pids=

stop() {
    trap - INT TERM EXIT
    # shellcheck disable=SC2086
    kill $pids 2>/dev/null || true
    wait
}
trap stop INT TERM EXIT

redis-server --port 6390 --bind 127.0.0.1 --save "" --appendonly no \
             --dir "$run/redis" >"$run/redis/redis.log" 2>&1 &
pids="$pids $!"

for name in a b; do
    port=$([ $name = a ] && echo 8091 || echo 8092)
    dir=$run/$name
    mkdir -p "$dir/logs" "$dir/tmp"
    printf '{"hello":"from gateway %s"}\n' "$name" > "$dir/hello.json"
    sed -e "s|@PORT@|$port|; s|@PREFIX@|$dir|; s|@NAME@|$name|" \
        "$here/gateway.conf" > "$dir/gateway.conf"
    cat > "$dir/nginx.conf" <<CONF
load_module $root/build/modules/ngx_http_rate_limit_module.so;
worker_processes 2;
error_log logs/error.log info;
pid logs/nginx.pid;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path tmp; proxy_temp_path tmp; fastcgi_temp_path tmp;
    uwsgi_temp_path tmp; scgi_temp_path tmp;
    include $dir/gateway.conf;
}
CONF
    "$nginx" -p "$dir/" -c "$dir/nginx.conf" -g 'daemon off;' &
    pids="$pids $!"
done

"$nginx" -p "$run/lb/" -c "$here/lb.conf" -g 'daemon off;' &
pids="$pids $!"

cat <<TRY

Redis on 127.0.0.1:6390, gateways on 8091 and 8092, the load balancer on
http://127.0.0.1:8090 (Ctrl-C stops them all).  Try, from another terminal:

  for i in \$(seq 12); do curl -s -o /dev/null \\
      -w '%{http_code} %header{x-instance} %header{ratelimit-remaining}\\n' \\
      http://127.0.0.1:8090/hello; done
                         # both instances answer in turn, and together
                         # they let 10 requests a minute through

  redis-cli -p 6390 keys 'cluster:*'
                         # the one bucket they share
  redis-cli -p 6390 shutdown nosave
                         # then the same loop: each instance falls back
                         # to its own zone (rate_limit_redis_fail open)

Logs: build/cluster/{a,b,lb}/logs/error.log.

TRY

wait
