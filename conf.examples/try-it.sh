#!/bin/sh
# Printed by `make run` before the gateway starts: what to try, with a
# token signed by the demo key in keys/jwks.json.

b64url() {
    openssl base64 -A | tr '+/' '-_' | tr -d '='
}

secret='demo-only-secret:change-me-before-production-0123456789'
exp=$(( $(date +%s) + 86400 ))

header=$(printf '{"alg":"HS256","kid":"demo","typ":"JWT"}' | b64url)
payload=$(printf '{"sub":"alice","plan":"free","exp":%d}' "$exp" | b64url)
signature=$(printf '%s.%s' "$header" "$payload" \
            | openssl dgst -sha256 -hmac "$secret" -binary | b64url)

cat <<TRY

The example gateway is starting on http://127.0.0.1:8080 (Ctrl-C stops it).
Try, from another terminal:

  TOKEN=$header.$payload.$signature

  curl -i http://127.0.0.1:8080/products/10     # public: the products service
                                                # (internal members removed)
  curl -H "X-Client: mobile" http://127.0.0.1:8080/products/10
                                                # the mobile profile
  curl -H "Authorization: Bearer \$TOKEN" \
      'http://127.0.0.1:8080/users/7?fields=id,name'  # client-chosen fields
  curl -i http://127.0.0.1:8080/users/7         # 401: /users/ needs a JWT
  curl -i -H "Authorization: Bearer \$TOKEN" http://127.0.0.1:8080/users/7
                                                # the user id and plan claims
                                                # reach the service as headers
  curl -i -H "Authorization: Bearer \$TOKEN" http://127.0.0.1:8080/orders/
  curl -i -H "Authorization: Bearer \${TOKEN}x" http://127.0.0.1:8080/orders/
                                                # 401, error="invalid_token"
                                                # RateLimit-* headers: the
                                                # free plan's 100 a minute
  for i in 1 2 3 4 5 6; do curl -s -o /dev/null -w '%{http_code} ' \
      -X POST http://127.0.0.1:8080/login; done # 5 login tries a minute,
                                                # then 429 and Retry-After
  curl -i 'http://127.0.0.1:8080/product-page?id=10'
                                                # product, inventory, reviews
                                                # and recommendations at once
  curl -i -H "X-Client: mobile" 'http://127.0.0.1:8080/product-page?id=13'
                                                # trimmed for a phone; the
                                                # recommendations failed:
                                                # X-Aggregate-Completed: false
  curl -i http://127.0.0.1:8080/nowhere         # 404 from the gateway itself
  curl http://127.0.0.1:9145/metrics            # Prometheus metrics: all of
                                                # the above by route, JWT
                                                # status, zone and part

The token above (sub "alice", plan "free", valid for a day) is signed with
the demo key in conf.examples/keys/jwks.json: never use that key for real.

Logs: build/run/logs/error.log and access.log.  Config:
conf.examples/gateway.conf (the services: conf.examples/mock-services.conf).

TRY
