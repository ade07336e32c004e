#!/bin/sh
# `make run-cluster`: a Redis primary on 127.0.0.1:6390, its replica on
# 6391 and three sentinels on 26390-26392 (an ACL user, its password in
# build/cluster/redis/password), an etcd cluster of three
# members (clients on 127.0.0.1:2379, 2389 and 2399, peers on 2380, 2390
# and 2400) with the mock services registered in it, the mock services
# themselves, two gateway instances on 8091 and 8092 sharing Redis,
# following etcd and checking the instances it lists, and
# a load balancer on 8090 in front of them, all in the foreground under
# build/cluster/ (Ctrl-C stops everything).  The mock services take the
# ports of `make run`'s: stop that first.

set -e

nginx=${NGINX_BINARY:-/usr/sbin/nginx}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
modules=${MODULES_DIR:-$root/build/modules}
run=$root/build/cluster
# the gateways ask 2379 first; this script and its examples, another member
etcd=http://127.0.0.1:2389

for tool in redis-server redis-sentinel etcd curl; do
    command -v $tool >/dev/null \
        || { echo "run-cluster: $tool is missing (make deps)" >&2; exit 1; }
done

mkdir -p "$run/redis" "$run/etcd" "$run/services/logs" "$run/lb/logs"
pids=

stop() {
    trap - INT TERM EXIT
    # shellcheck disable=SC2086
    kill $pids 2>/dev/null || true
    wait
}
trap stop INT TERM EXIT

# the gateways' ACL user, with a password made once and read by nginx
# from a file (redis_password_file=), never written in nginx.conf; the
# default user is off, so Redis answers nobody without it.  The replica
# and the sentinels use the same user (replication and the sentinels'
# hello channel need it too).
[ -s "$run/redis/password" ] \
    || (umask 077; od -An -N16 -tx1 /dev/urandom | tr -d ' \n' \
            > "$run/redis/password")
password=$(cat "$run/redis/password")
# fresh data: a replica's full sync leaves an RDB file, which a later run
# would load
rm -f "$run"/redis/*.conf "$run"/redis/*.rdb

# a primary on 6390 and its replica on 6391
for port in 6390 6391; do
    cat > "$run/redis/redis-$port.conf" <<CONF
port $port
bind 127.0.0.1
dir $run/redis
dbfilename dump-$port.rdb
save ""
appendonly no
user default off
user gateway on >$password ~cluster:* &* +@all
masteruser gateway
masterauth $password
CONF
    chmod 600 "$run/redis/redis-$port.conf"
    [ $port = 6391 ] && echo "replicaof 127.0.0.1 6390" \
                            >> "$run/redis/redis-$port.conf"
    # umask: what Redis and the sentinels write (CONFIG REWRITE) holds
    # the password
    (umask 077; exec redis-server "$run/redis/redis-$port.conf") \
        >"$run/redis/redis-$port.log" 2>&1 &
    pids="$pids $!"
done

# three sentinels watching it as "gateway": two of them agreeing that the
# primary is down for 2s promote the replica
for port in 26390 26391 26392; do
    cat > "$run/redis/sentinel-$port.conf" <<CONF
port $port
bind 127.0.0.1
dir $run/redis
sentinel monitor gateway 127.0.0.1 6390 2
sentinel auth-user gateway gateway
sentinel auth-pass gateway $password
sentinel down-after-milliseconds gateway 2000
sentinel failover-timeout gateway 10000
CONF
    chmod 600 "$run/redis/sentinel-$port.conf"
    (umask 077; exec redis-sentinel "$run/redis/sentinel-$port.conf") \
        >"$run/redis/sentinel-$port.log" 2>&1 &
    pids="$pids $!"
done

# fresh data directories: each run starts with the registrations below
rm -rf "$run/etcd"
mkdir -p "$run/etcd"
cluster=m0=http://127.0.0.1:2380,m1=http://127.0.0.1:2390,m2=http://127.0.0.1:2400

start_member() {
    n=$1
    client=http://127.0.0.1:$((2379 + 10 * n))
    peer=http://127.0.0.1:$((2380 + 10 * n))
    etcd --name m$n --data-dir "$run/etcd/m$n" \
         --listen-client-urls $client --advertise-client-urls $client \
         --listen-peer-urls $peer --initial-advertise-peer-urls $peer \
         --initial-cluster $cluster --initial-cluster-state new \
         --initial-cluster-token gateway-run-cluster \
         >>"$run/etcd/m$n.log" 2>&1 &
    echo $! > "$run/etcd/m$n.pid"
}

for n in 0 1 2; do
    start_member $n
    pids="$pids $!"
done

b64() {
    printf %s "$1" | base64 | tr -d '\n'
}

i=0
# a write goes through once the members have elected a leader
until curl -sf -o /dev/null "$etcd/v3/kv/put" \
           -d "{\"key\":\"$(b64 /run-cluster)\",\"value\":\"$(b64 up)\"}"; do
    i=$((i + 1))
    [ $i -lt 200 ] || { echo "run-cluster: etcd does not answer," \
                             "see $run/etcd/m*.log" >&2; exit 1; }
    sleep 0.1
done

# each mock service as one instance, /services/<name>/<name>-1, with the
# port it listens on in mock-services.conf
awk '$1 == "listen" { sub(/;$/, "", $2); addr = $2 }
     $1 == "server_name" { sub(/;$/, "", $2); print $2, addr }' \
    "$root/conf.examples/mock-services.conf" |
while read -r name addr; do
    curl -sf -o /dev/null "$etcd/v3/kv/put" \
         -d "{\"key\":\"$(b64 "/services/$name/$name-1")\",\"value\":\"$(b64 "$addr")\"}" \
        || { echo "run-cluster: cannot register $name in etcd" >&2; exit 1; }
done

"$nginx" -p "$run/services/" -c "$here/services.conf" -g 'daemon off;' &
pids="$pids $!"

for name in a b; do
    port=$([ $name = a ] && echo 8091 || echo 8092)
    dir=$run/$name
    mkdir -p "$dir/logs" "$dir/tmp"
    printf '{"hello":"from gateway %s"}\n' "$name" > "$dir/hello.json"
    sed -e "s|@PORT@|$port|; s|@PREFIX@|$dir|; s|@NAME@|$name|" \
        -e "s|@REDIS_PASSWORD_FILE@|$run/redis/password|" \
        "$here/gateway.conf" > "$dir/gateway.conf"
    cat > "$dir/nginx.conf" <<CONF
load_module $modules/ngx_http_rate_limit_module.so;
load_module $modules/ngx_http_upstream_discovery_module.so;
load_module $modules/ngx_http_health_check_module.so;
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

A Redis primary on 127.0.0.1:6390, its replica on 6391 and three
sentinels on 26390-26392 (user gateway, password in
$run/redis/password), etcd's three members on 127.0.0.1:2379, 2389 and
2399, gateways on 8091 and 8092, the load balancer on http://127.0.0.1:8090
(Ctrl-C stops them all).  Try, from another terminal:

  for i in \$(seq 12); do curl -s -o /dev/null \\
      -w '%{http_code} %header{x-instance} %header{ratelimit-remaining}\\n' \\
      http://127.0.0.1:8090/hello; done
                         # both instances answer in turn, and together
                         # they let 10 requests a minute through

  rcli() { REDISCLI_AUTH=\$(cat $run/redis/password) \\
      redis-cli --user gateway "\$@"; }
  rcli -p 6390 keys 'cluster:*'
                         # the one bucket they share
  redis-cli -p 6390 ping # without the password: NOAUTH
  rcli -p 6390 shutdown nosave
                         # the primary goes: for about 3s, until the
                         # sentinels promote 6391, each instance decides
                         # in its own zone (rate_limit_redis_fail open),
                         # then both follow the new primary
  redis-cli -p 26390 sentinel get-master-addr-by-name gateway
  grep 'primary is' build/cluster/[ab]/logs/error.log

The users service from etcd, through its v3 JSON API (keys and values in
base64):

  users() { for i in \$(seq 6); do curl -s -o /dev/null \\
      -w '%{http_code} %header{x-instance} %header{x-upstream}\\n' \\
      http://127.0.0.1:8090/users/; done; }
  b64() { printf %s "\$1" | base64 -w0; }
  put() { curl -s -o /dev/null $etcd/v3/kv/put \\
      -d "{\\"key\\":\\"\$(b64 "\$1")\\",\\"value\\":\\"\$(b64 "\$2")\\"}"; }
  del() { curl -s -o /dev/null $etcd/v3/kv/deleterange \\
      -d "{\\"key\\":\\"\$(b64 "\$1")\\"}"; }

  users                  # users-1, 127.0.0.1:9101, through both gateways
  put /services/users/users-2 127.0.0.1:9111
  sleep 2; users         # registered (the watch brings it at once) and
                         # checked: 9101 and 9111 in turn (mandatory: no
                         # requests before its first check passed)
  put /services/users/users-2 '{"host":"127.0.0.1","port":9111,"weight":2}'
  users                  # weight 2: twice as many requests go to 9111
  kill \$(cat $run/etcd/m0.pid)
                         # the member the gateways watch through stops:
                         # they move to another (a warning in their logs)
  del /services/users/users-1
  users                  # removed: 9111 only
  put /services/users/users-3 127.0.0.1:9103
                         # the orders service, which answers 404 to /users/
  put /services/users/users-4 127.0.0.1:9199
                         # nothing listens there
  sleep 2; users         # etcd lists them, their checks fail: 9111 only,
                         # and not one request went to them (mandatory)
  curl -s http://127.0.0.1:8091/upstreams
                         # the instances as gateway a's checks see them
  grep 'health check' build/cluster/a/logs/error.log
                         # "... server 127.0.0.1:9103 is down: status 404
                         # does not pass match "users_ok"", and connect()
                         # failed (111: Connection refused) for 9199
  curl -s $etcd/v3/kv/range \\
      -d "{\\"key\\":\\"\$(b64 /services/)\\",\\"range_end\\":\\"\$(b64 /services0)\\"}"
                         # all the registered instances (or, with Debian's
                         # etcd-client: etcdctl get --prefix /services/)

Logs: build/cluster/{a,b,lb,services}/logs/error.log, build/cluster/etcd/m*.log.

TRY

wait
