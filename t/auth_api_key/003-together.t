# auth_api_key with the other modules: beside auth_jwt under satisfy any
# and all, and as the key of rate limits per consumer and per plan.
#
# "SHA(name)" in a --- user_files section stands for the SHA-256 of
# $key{name}.

use lib 't/helpers';
use GwJwt;
use Digest::SHA ();
use Test::Nginx::Socket 'no_plan';

our %key = (
    alice   => 'ak_live_alice_7f3c9e21b0d44a58',
    bob     => 'ak_live_bob_0a9b8c7d6e5f4a3b',
    carol   => 'ak_live_carol_c0ffee15good',
    mallory => 'ak_live_mallory_not_in_any_file',
);

our %tok = (
    dave => jwt('HS256', { sub => 'dave', exp => time + 3600 }),
    expired => jwt('HS256', { sub => 'dave', exp => time - 60 }),
);

our $KEYS = <<'KEYS';
SHA(alice) alice plan=gold
SHA(bob) bob plan=free
SHA(carol) carol plan=free
KEYS

sub sha {
    my $name = shift;
    die "no key \"$name\"\n" unless defined $key{$name};
    return Digest::SHA::sha256_hex($key{$name});
}

# /any and /all take either credential or both: a key in X-API-Key, a
# JWT in ?t=
add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('config', <<'CONFIG') unless defined $block->config;
    location /any {
        satisfy any;
        auth_api_key "keys";
        auth_api_key_file ../html/keys.txt;
        auth_jwt "jwt" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/hs.json;
        add_header X-Consumer $api_key_consumer always;
        add_header X-Sub $jwt_claim_sub always;
        alias html/ok.txt;
    }
    location /all {
        auth_api_key "keys";
        auth_api_key_file ../html/keys.txt;
        auth_jwt "jwt" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/hs.json;
        add_header X-Consumer $api_key_consumer always;
        add_header X-Sub $jwt_claim_sub always;
        alias html/ok.txt;
    }
CONFIG

    $block->set_value('user_files', ">>> ok.txt\nok\n>>> keys.txt\n$KEYS")
        unless defined $block->user_files;

    (my $files = $block->user_files) =~ s/SHA\((\w+)\)/sha($1)/ge;
    $block->set_value('user_files', $files);
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: satisfy any: a JWT alone gets in, and no challenge is left
--- request eval
"GET /any?t=$::tok{dave}"
--- response_headers
X-Sub: dave
!X-Consumer
!WWW-Authenticate
--- response_body
ok



=== TEST 2: satisfy any: a key alone gets in, and no challenge is left
--- request
GET /any
--- more_headers eval
"X-API-Key: $::key{alice}"
--- response_headers
X-Consumer: alice
!X-Sub
!WWW-Authenticate
--- response_body
ok



=== TEST 3: satisfy any: an expired JWT with a valid key gets in
--- request eval
"GET /any?t=$::tok{expired}"
--- more_headers eval
"X-API-Key: $::key{bob}"
--- response_headers
X-Consumer: bob
!WWW-Authenticate



=== TEST 4: satisfy any: an unknown key with a valid JWT gets in
--- request eval
"GET /any?t=$::tok{dave}"
--- more_headers eval
"X-API-Key: $::key{mallory}"
--- response_headers
X-Sub: dave
!X-Consumer
!WWW-Authenticate



=== TEST 5: satisfy any: neither: 401 with both challenges
--- request
GET /any
--- error_code: 401
--- raw_response_headers_like eval
qr/^(?=.*\r\nWWW-Authenticate: Key realm="keys"\r\n)(?=.*\r\nWWW-Authenticate: Bearer realm="jwt"\r\n)/s
--- error_log
auth_api_key: no key
auth_jwt: no token



=== TEST 6: satisfy any: an unknown key and an expired JWT: 401 with both challenges
--- log_level: info
--- request eval
"GET /any?t=$::tok{expired}"
--- more_headers eval
"X-API-Key: $::key{mallory}"
--- error_code: 401
--- raw_response_headers_like eval
qr/^(?=.*\r\nWWW-Authenticate: Key realm="keys"\r\n)(?=.*\r\nWWW-Authenticate: Bearer realm="jwt", error="invalid_token"\r\n)/s
--- error_log
auth_api_key: unknown key
--- no_error_log eval
[$::key{mallory}]



=== TEST 7: satisfy any: an address lets in a request neither credential did, and no challenge is left
--- config
    location /t {
        satisfy any;
        allow 127.0.0.1;
        deny all;
        auth_api_key "keys";
        auth_api_key_file ../html/keys.txt;
        auth_jwt "jwt" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/hs.json;
        alias html/ok.txt;
    }
--- request eval
["GET /t", "GET /t?t=$::tok{expired}"]
--- more_headers eval
["", "X-API-Key: $::key{mallory}"]
--- response_headers eval
["!WWW-Authenticate", "!WWW-Authenticate"]
--- response_body eval
["ok\n", "ok\n"]



=== TEST 7a: satisfy any: auth_basic refuses after both and takes over
the challenge pointer, auth_request lets the request in, and no challenge
is left
--- config
    location /t {
        satisfy any;
        auth_request /yes;
        auth_basic "basic";
        auth_basic_user_file ../html/htpasswd;
        auth_api_key "keys";
        auth_api_key_file ../html/keys.txt;
        auth_jwt "jwt" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/hs.json;
        alias html/ok.txt;
    }
    location = /yes {
        return 204;
    }
--- user_files eval
">>> ok.txt\nok\n>>> keys.txt\n$::KEYS>>> htpasswd\nbob:{PLAIN}secret\n"
--- request eval
["GET /t", "GET /t?t=$::tok{expired}"]
--- more_headers eval
["", "X-API-Key: $::key{mallory}"]
--- response_headers eval
["!WWW-Authenticate", "!WWW-Authenticate"]
--- response_body eval
["ok\n", "ok\n"]



=== TEST 7b: satisfy any: auth_basic, the key and the JWT all refuse: 401
with the three challenges
--- config
    location /t {
        satisfy any;
        auth_basic "basic";
        auth_basic_user_file ../html/htpasswd;
        auth_api_key "keys";
        auth_api_key_file ../html/keys.txt;
        auth_jwt "jwt" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/hs.json;
        alias html/ok.txt;
    }
--- user_files eval
">>> ok.txt\nok\n>>> keys.txt\n$::KEYS>>> htpasswd\nbob:{PLAIN}secret\n"
--- request eval
"GET /t?t=$::tok{expired}"
--- error_code: 401
--- raw_response_headers_like eval
qr/^(?=.*\r\nWWW-Authenticate: Basic realm="basic"\r\n)(?=.*\r\nWWW-Authenticate: Key realm="keys"\r\n)(?=.*\r\nWWW-Authenticate: Bearer realm="jwt", error="invalid_token"\r\n)/s



=== TEST 8: satisfy all: both get in, with both identities
--- request eval
"GET /all?t=$::tok{dave}"
--- more_headers eval
"X-API-Key: $::key{carol}"
--- response_headers
X-Consumer: carol
X-Sub: dave
!WWW-Authenticate
--- response_body
ok



=== TEST 9: satisfy all: a key alone is refused with the JWT's challenge
--- request
GET /all
--- more_headers eval
"X-API-Key: $::key{alice}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="jwt"
--- error_log
auth_jwt: no token
--- no_error_log
auth_api_key



=== TEST 10: satisfy all: a JWT alone is refused with the key's challenge
--- request eval
"GET /all?t=$::tok{dave}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Key realm="keys"
--- error_log
auth_api_key: no key



=== TEST 11: satisfy all: a JWT with an unknown key is refused
--- request eval
"GET /all?t=$::tok{dave}"
--- more_headers eval
"X-API-Key: $::key{mallory}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Key realm="keys"
--- error_log
auth_api_key: unknown key



=== TEST 12: a limit per consumer: alice's third request in a row is refused, bob still passes
--- http_config
    rate_limit_zone $api_key_consumer zone=per_consumer:1m rate=1r/m
                    burst=1;
--- config
    location /t {
        auth_api_key "api";
        auth_api_key_file ../html/keys.txt;
        rate_limit zone=per_consumer;
        rate_limit_log_level info;
        add_header X-Consumer $api_key_consumer always;
        add_header X-Zones $rate_limit_zones always;
        alias html/ok.txt;
    }
--- request eval
[("GET /t") x 5]
--- more_headers eval
[("X-API-Key: $::key{alice}") x 3, ("X-API-Key: $::key{bob}") x 2]
--- error_code eval
[200, 200, 429, 200, 200]
--- response_headers eval
["X-Consumer: alice\nX-Zones: per_consumer:PASSED\nRateLimit-Limit: 2\n"
 . "RateLimit-Remaining: 1",
 "X-Consumer: alice\nX-Zones: per_consumer:PASSED\nRateLimit-Remaining: 0",
 "X-Consumer: alice\nX-Zones: per_consumer:REJECTED\nRetry-After: 60",
 "X-Consumer: bob\nX-Zones: per_consumer:PASSED\nRateLimit-Remaining: 1",
 "X-Consumer: bob\nX-Zones: per_consumer:PASSED\nRateLimit-Remaining: 0"]



=== TEST 13: requests without a valid key are refused by auth_api_key and charge nobody
--- http_config
    rate_limit_zone $api_key_consumer zone=per_consumer:1m rate=1r/m;
--- config
    location /t {
        auth_api_key "api";
        auth_api_key_file ../html/keys.txt;
        rate_limit zone=per_consumer;
        add_header X-Zones "[$rate_limit_zones]" always;
        alias html/ok.txt;
    }
--- request eval
[("GET /t") x 5]
--- more_headers eval
["", "X-API-Key: $::key{mallory}", "X-API-Key: $::key{mallory}",
 "X-API-Key: $::key{alice}", "X-API-Key: $::key{alice}"]
--- error_code eval
[401, 401, 401, 200, 429]
--- response_headers eval
["X-Zones: []\n!RateLimit-Limit", "X-Zones: []\n!RateLimit-Limit",
 "X-Zones: []\n!RateLimit-Limit",
 "X-Zones: [per_consumer:PASSED]\nRateLimit-Remaining: 0",
 "X-Zones: [per_consumer:REJECTED]\nRetry-After: 60"]



=== TEST 14: rates and bursts per plan from a map on $api_key_plan
# gold: 10r/m burst=4 (5 at once); free: 1r/m burst=1 (2 at once), a
# bucket per consumer: carol is free too, and her bucket is her own
--- http_config
    map $api_key_plan $plan_rate {
        gold     10r/m;
        default  1r/m;
    }
    map $api_key_plan $plan_burst {
        gold     4;
        default  1;
    }
    rate_limit_zone $api_key_consumer zone=per_consumer:1m rate=1r/m;
--- config
    location /t {
        auth_api_key "api";
        auth_api_key_file ../html/keys.txt;
        rate_limit zone=per_consumer rate=$plan_rate burst=$plan_burst;
        rate_limit_log_level info;
        add_header X-Plan $api_key_plan always;
        add_header X-Zones $rate_limit_zones always;
        alias html/ok.txt;
    }
--- request eval
[("GET /t") x 11]
--- more_headers eval
[("X-API-Key: $::key{bob}") x 3, ("X-API-Key: $::key{alice}") x 6,
 ("X-API-Key: $::key{carol}") x 2]
--- error_code eval
[200, 200, 429, 200, 200, 200, 200, 200, 429, 200, 200]
--- response_headers eval
["X-Plan: free\nRateLimit-Limit: 2\nRateLimit-Remaining: 1",
 "X-Plan: free\nRateLimit-Limit: 2\nRateLimit-Remaining: 0",
 "X-Plan: free\nRateLimit-Limit: 2\nX-Zones: per_consumer:REJECTED\n"
 . "Retry-After: 60",
 "X-Plan: gold\nRateLimit-Limit: 5\nRateLimit-Remaining: 4",
 "X-Plan: gold\nRateLimit-Limit: 5\nRateLimit-Remaining: 3",
 "X-Plan: gold\nRateLimit-Limit: 5\nRateLimit-Remaining: 2",
 "X-Plan: gold\nRateLimit-Limit: 5\nRateLimit-Remaining: 1",
 "X-Plan: gold\nRateLimit-Limit: 5\nRateLimit-Remaining: 0\n"
 . "X-Zones: per_consumer:PASSED",
 "X-Plan: gold\nRateLimit-Limit: 5\nX-Zones: per_consumer:REJECTED\n"
 . "Retry-After: 6",
 "X-Plan: free\nRateLimit-Limit: 2\nRateLimit-Remaining: 1",
 "X-Plan: free\nRateLimit-Limit: 2\nRateLimit-Remaining: 0"]



=== TEST 15: the plan's limit in the draft headers
--- http_config
    map $api_key_plan $plan_rate {
        gold     10r/m;
        default  1r/m;
    }
    rate_limit_zone $api_key_consumer zone=per_consumer:1m rate=1r/m;
--- config
    location /t {
        auth_api_key "api";
        auth_api_key_file ../html/keys.txt;
        rate_limit zone=per_consumer rate=$plan_rate burst=9;
        rate_limit_headers draft;
        alias html/ok.txt;
    }
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
["X-API-Key: $::key{alice}", "X-API-Key: $::key{bob}"]
--- response_headers eval
['RateLimit-Policy: "per_consumer";q=10;w=60',
 'RateLimit-Policy: "per_consumer";q=10;w=600']



=== TEST 16: a limit per consumer with the key from ?api_key=, beside a per-address one
--- http_config
    rate_limit_zone $api_key_consumer zone=per_consumer:1m rate=1r/m;
    rate_limit_zone $binary_remote_addr zone=per_ip:1m rate=1r/m burst=9;
--- config
    location /t {
        auth_api_key "api" key=$arg_api_key;
        auth_api_key_file ../html/keys.txt;
        rate_limit zone=per_ip;
        rate_limit zone=per_consumer;
        rate_limit_log_level info;
        add_header X-Zones $rate_limit_zones always;
        alias html/ok.txt;
    }
--- request eval
["GET /t?api_key=$::key{alice}", "GET /t?api_key=$::key{alice}",
 "GET /t?api_key=$::key{bob}", "GET /t"]
--- error_code eval
[200, 429, 200, 401]
--- response_headers eval
["X-Zones: per_ip:PASSED, per_consumer:PASSED",
 "X-Zones: per_ip:PASSED, per_consumer:REJECTED",
 "X-Zones: per_ip:PASSED, per_consumer:PASSED",
 "X-Zones: per_ip:PASSED"]
