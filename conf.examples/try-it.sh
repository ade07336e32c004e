#!/bin/sh
# Printed by `make run` before the gateway starts: tokens minted with the
# demo keys in keys/ by build/tools/gateway-token, and what to try.

set -e

here=$(dirname "$0")
tool=${GATEWAY_TOKEN:-build/tools/gateway-token}

# a prefix outside the checkout, for workers that cannot reach it
case ${PREFIX:-} in
''|*/build/run) where= ;;
*)  where="
build/run links to $PREFIX: the workers run as nobody, which
cannot enter a directory above the checkout." ;;
esac

# quoted throughout: the checkout's path may hold spaces
rs256() {
    "$tool" --alg RS256 --key "$here/keys/demo-rs256.pem" --kid demo-rs \
            --ttl 1d "$@"
}

free=$(rs256 --claim sub=alice --claim plan=free)
premium=$(rs256 --claim sub=bob --claim plan=premium)
admin=$(rs256 --claim sub=carol --claim plan=free --claim role=admin)
dev=$("$tool" --alg HS256 --key "$here/keys/jwks.json" --kid demo --ttl 1d \
              --claim sub=dave --claim plan=free)

cat <<TRY

The example gateway is starting on http://127.0.0.1:8080 and, with HTTP/2,
https://127.0.0.1:8443 (a self-signed certificate: add -k, or --cacert
conf.examples/certs/gateway.crt).  Ctrl-C stops it.  From another terminal:

  FREE=$free
  PREMIUM=$premium
  ADMIN=$admin
  DEV=$dev

  curl -i http://127.0.0.1:8080/products/10     # public catalogue: no token,
                                                # internal members removed,
                                                # X-Cache-Status MISS, then HIT
  curl -H "X-Client: mobile" http://127.0.0.1:8080/products/10
                                                # the mobile profile
  curl -i --compressed -H "X-Client: iot" http://127.0.0.1:8080/products/10
                                                # IoT: fewest members, gzip
  curl -i http://127.0.0.1:8080/users/7         # 401: a token is needed
  curl -i -H "Authorization: Bearer \$FREE" http://127.0.0.1:8080/users/7
                                                # RS256; the claims reach the
                                                # service as X-User-* headers;
                                                # RateLimit-Limit: 100 (free)
  curl -H "Authorization: Bearer \$PREMIUM" \\
      'http://127.0.0.1:8080/users/7?fields=id,name'
                                                # premium (1000 a minute),
                                                # client-chosen fields
  curl -i -H "Authorization: Bearer \$DEV" http://127.0.0.1:8080/orders/
                                                # an HS256 development token
  curl -i -H "Authorization: Bearer \${FREE}x" http://127.0.0.1:8080/orders/
                                                # 401, error="invalid_token"
  curl -i -H "X-API-Key: gk_demo-partner-acme-key-never-use-in-production" \\
      http://127.0.0.1:8080/orders/             # a partner's API key instead
                                                # of a token: 600 a minute
  curl -i -H "Authorization: Bearer gto_demo-orders-app-7e3f21c9" \\
      http://127.0.0.1:8080/orders/             # an application's opaque
                                                # token, asked of the mock
                                                # authorization server once,
                                                # then kept for 5 minutes
  curl -i -H "Authorization: Bearer gto_demo-billing-app-2b81d4f0" \\
      http://127.0.0.1:8080/orders/             # 401: its scope is
                                                # billing:read
  curl -i -H "Authorization: Bearer gto_demo-revoked-5c0a9e17" \\
      http://127.0.0.1:8080/orders/             # 401: not active
  curl -i -H "Authorization: Bearer \$FREE" -d '{"amount":10}' \\
      http://127.0.0.1:8080/payments/           # 201; add ?fail=1 for 503
  curl -H "Authorization: Bearer \$FREE" http://127.0.0.1:8080/notifications/
  curl -i -H "Authorization: Bearer \$FREE" http://127.0.0.1:8080/admin/
                                                # 403: not an admin
  curl -i -H "Authorization: Bearer \$ADMIN" http://127.0.0.1:8080/admin/
  for i in 1 2 3 4 5 6; do curl -s -o /dev/null -w '%{http_code} ' \\
      -X POST http://127.0.0.1:8080/login; done # 5 login tries a minute,
                                                # then 429 and Retry-After
  curl -i 'http://127.0.0.1:8080/product-page?id=10'
                                                # four services at once
  curl -i 'http://127.0.0.1:8080/product-page?id=13'
                                                # recommendations fail: null,
                                                # X-Aggregate-Completed: false
  curl -i 'http://127.0.0.1:8080/product-page?id=14'
                                                # reviews too slow: cut after
                                                # 1.5s (the part's timeout),
                                                # null
  curl -H "X-Client: mobile" 'http://127.0.0.1:8080/product-page?id=10'
                                                # trimmed for a phone
  curl -k --http2 -i -H "Authorization: Bearer \$FREE" \\
      https://127.0.0.1:8443/users/7            # the same over TLS and HTTP/2
  curl http://127.0.0.1:9145/metrics            # Prometheus metrics: all of
                                                # the above by route, JWT and
                                                # introspection status, zone
                                                # and part

The tokens are valid for a day and signed with the demo keys in
conf.examples/keys: never use those keys for real.  Mint your own with
build/tools/gateway-token (see the README).  The gto_demo-... tokens are
opaque, fixed in conf.examples/mock-services.conf, and as public.

Logs: build/run/logs/error.log and access.log.$where  Config:
conf.examples/gateway.conf (the services: conf.examples/mock-services.conf).

TRY
