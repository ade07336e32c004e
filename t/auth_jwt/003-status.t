# auth_jwt: $jwt_status, what the module decided about the request.

use lib 't/helpers';
use GwJwt;
use Test::Nginx::Socket 'no_plan';

our %tok;
my $now = time;
my $claims = '{"sub":"alice"}';

$tok{$_} = jwt($_, { sub => 'alice', exp => $now + 3600 }) for @ALGS;

%tok = (%tok,
    admin => jwt('RS256', { sub => 'root', role => 'admin',
                            exp => $now + 3600 }),
    user => jwt('RS256', { sub => 'bob', role => 'user',
                           exp => $now + 3600 }),
    expired => jwt('HS256', { sub => 'a', exp => $now - 10 }),
    not_yet => jwt('HS256', { sub => 'a', nbf => $now + 600 }),
    zero_mac => jws('HS256', '{"alg":"HS256","kid":"hs"}', $claims,
                    signature => "\0" x 32),
    wrong_kid => jwt('HS256', { sub => 'a' }, { kid => 'nope' }),
    two_segments => b64('{"alg":"HS256"}') . '.' . b64($claims),
    five_segments => 'a.b.c.d.e',
    padded => do {
        my ($h, $p, $s) = split /\./, jws('HS256', '{"alg":"HS256"}',
                                           '{"a":"b"}');
        "$h.$p==.$s";
    },
    payload_trailing => jws('HS256', '{"alg":"HS256"}', '{"a":1} x'),
    none => jws('HS256', '{"alg":"none","kid":"hs"}', $claims),
    unknown_alg => jws('HS256', '{"alg":"HS1","kid":"hs"}', $claims),
    crit => jws('HS256', '{"alg":"HS256","crit":["exp"]}', $claims),
    exp_string => jws('HS256', '{"alg":"HS256"}', '{"exp":"9999999999"}'),
    huge => jwt('HS256', { sub => 'a', pad => 'x' x 20000 }),
);

($tok{flipped} = $tok{RS256}) =~ s/(.)$/$1 eq 'A' ? 'Q' : 'A'/e;

our @malformed = qw(two_segments five_segments padded payload_trailing none
                    unknown_alg crit exp_string huge);

# most blocks protect /t, taking the token from ?t=, and show the status
add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('config', <<'CONFIG') unless defined $block->config;
    large_client_header_buffers 4 32k;

    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
CONFIG

    $block->set_value('user_files', ">>> ok.txt\nok\n")
        unless defined $block->user_files;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: VALID for an accepted token, of any algorithm
--- request eval
[map { "GET /t?t=$::tok{$_}" } @GwJwt::ALGS]
--- error_code eval
[(200) x @GwJwt::ALGS]
--- response_headers eval
[("X-JWT-Status: VALID") x @GwJwt::ALGS]



=== TEST 2: MISSING without a token, also from the Authorization header
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
    location /h {
        auth_jwt "api";
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
--- request eval
["GET /t", "GET /t?t=", "GET /h"]
--- more_headers eval
["", "", "Authorization: Basic $::tok{HS256}"]
--- error_code eval
[401, 401, 401]
--- response_headers eval
[("X-JWT-Status: MISSING") x 3]
--- error_log
auth_jwt: no token



=== TEST 3: EXPIRED, with the log line as before
--- request eval
"GET /t?t=$::tok{expired}"
--- error_code: 401
--- response_headers
X-JWT-Status: EXPIRED
WWW-Authenticate: Bearer realm="api", error="invalid_token"
--- error_log
auth_jwt: rejected token: token expired



=== TEST 4: NOT_YET_VALID
--- request eval
"GET /t?t=$::tok{not_yet}"
--- error_code: 401
--- response_headers
X-JWT-Status: NOT_YET_VALID
--- error_log
auth_jwt: rejected token: token not yet valid



=== TEST 5: leeway turns EXPIRED and NOT_YET_VALID into VALID
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        auth_jwt_leeway 1h;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
--- request eval
["GET /t?t=$::tok{expired}", "GET /t?t=$::tok{not_yet}"]
--- error_code eval
[200, 200]
--- response_headers eval
["X-JWT-Status: VALID", "X-JWT-Status: VALID"]



=== TEST 6: a token remembered as verified is still told EXPIRED or
NOT_YET_VALID: the same keys admit it with leeway, then not without
--- config
    auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;

    location /leeway {
        auth_jwt "api" token=$arg_t;
        auth_jwt_leeway 1h;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
    location /t {
        auth_jwt "api" token=$arg_t;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
--- request eval
["GET /leeway?t=$::tok{expired}", "GET /t?t=$::tok{expired}",
 "GET /leeway?t=$::tok{not_yet}", "GET /t?t=$::tok{not_yet}"]
--- error_code eval
[200, 401, 200, 401]
--- response_headers eval
["X-JWT-Status: VALID", "X-JWT-Status: EXPIRED",
 "X-JWT-Status: VALID", "X-JWT-Status: NOT_YET_VALID"]



=== TEST 7: BAD_SIGNATURE when a key was tried and did not match
--- request eval
["GET /t?t=$::tok{flipped}", "GET /t?t=$::tok{zero_mac}"]
--- error_code eval
[401, 401]
--- response_headers eval
["X-JWT-Status: BAD_SIGNATURE", "X-JWT-Status: BAD_SIGNATURE"]
--- error_log
auth_jwt: rejected token: signature mismatch



=== TEST 8: NO_KEY when no key fits "kid" and "alg"
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
    location /hs {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/hs.json;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
--- request eval
["GET /t?t=$::tok{wrong_kid}", "GET /hs?t=$::tok{RS256}"]
--- error_code eval
[401, 401]
--- response_headers eval
["X-JWT-Status: NO_KEY", "X-JWT-Status: NO_KEY"]
--- error_log
auth_jwt: rejected token: no key fits "kid" and "alg"



=== TEST 9: MALFORMED for whatever else is wrong with the token
--- request eval
[map { "GET /t?t=$::tok{$_}" } @::malformed]
--- error_code eval
[(401) x @::malformed]
--- response_headers eval
[("X-JWT-Status: MALFORMED") x @::malformed]
--- no_error_log
[error]
[alert]



=== TEST 10: MALFORMED keeps each reason in the log: a JWE under signed
--- request eval
"GET /t?t=$::tok{five_segments}"
--- error_code: 401
--- response_headers
X-JWT-Status: MALFORMED
--- error_log
auth_jwt: rejected token: a JWE (five segments) where a JWS is expected



=== TEST 11: MALFORMED keeps each reason in the log: "alg" "none"
--- request eval
"GET /t?t=$::tok{none}"
--- error_code: 401
--- response_headers
X-JWT-Status: MALFORMED
--- error_log
auth_jwt: rejected token: "alg" is "none"



=== TEST 12: REQUIRE_FAILED with error=403; the claims of the valid token
are still there
--- http_config
    map $jwt_claim_role $is_admin {
        admin    1;
        default  0;
    }
--- config
    location /admin {
        auth_jwt "admin" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        auth_jwt_require $is_admin error=403;
        add_header X-JWT-Status $jwt_status always;
        add_header X-Sub $jwt_claim_sub always;
        alias html/ok.txt;
    }
--- request eval
["GET /admin?t=$::tok{admin}", "GET /admin?t=$::tok{user}",
 "GET /admin?t=$::tok{expired}"]
--- error_code eval
[200, 403, 401]
--- response_headers eval
["X-JWT-Status: VALID\nX-Sub: root",
 "X-JWT-Status: REQUIRE_FAILED\nX-Sub: bob",
 "X-JWT-Status: EXPIRED\n!X-Sub"]



=== TEST 13: REQUIRE_FAILED with the default 401
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        auth_jwt_require $jwt_claim_role;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
--- request eval
["GET /t?t=$::tok{HS256}", "GET /t?t=$::tok{user}"]
--- error_code eval
[401, 200]
--- response_headers eval
["X-JWT-Status: REQUIRE_FAILED\n"
 . 'WWW-Authenticate: Bearer realm="api", error="invalid_token"',
 "X-JWT-Status: VALID"]



=== TEST 14: KEY_FETCH_FAILED when the key request answers 500; the
client gets 500 (005-key-fetch.t: a request without a token gets 401)
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_request /jwks;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/broken;
    }
    location = /broken {
        return 500;
    }
--- request eval
"GET /t?t=$::tok{HS256}"
--- error_code: 500
--- response_headers
X-JWT-Status: KEY_FETCH_FAILED
--- error_log
auth_jwt: key request "/jwks" failed with status 500



=== TEST 15: KEY_FETCH_FAILED when the key source is unreachable
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_request /jwks;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:1/;
    }
--- request eval
"GET /t?t=$::tok{RS256}"
--- error_code: 500
--- response_headers
X-JWT-Status: KEY_FETCH_FAILED
--- error_log
auth_jwt: key request "/jwks" failed with status 502



=== TEST 16: KEY_FETCH_FAILED when the key source answers no JWK Set
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_request /jwks;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/garbage;
    }
    location = /garbage {
        return 200 '{"keys": [';
    }
--- request eval
"GET /t?t=$::tok{RS256}"
--- error_code: 500
--- response_headers
X-JWT-Status: KEY_FETCH_FAILED
--- error_log
auth_jwt: key request "/jwks" answered an invalid JWK Set



=== TEST 17: with fetched keys, the same values as with key files
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_request /jwks;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/keys/jwks.json;
    }
    location /keys/ {
        alias $TEST_NGINX_JWT_DATA/;
    }
--- request eval
["GET /t?t=$::tok{ES384}", "GET /t?t=$::tok{flipped}",
 "GET /t?t=$::tok{wrong_kid}", "GET /t?t=$::tok{expired}", "GET /t"]
--- error_code eval
[200, 401, 401, 401, 401]
--- response_headers eval
["X-JWT-Status: VALID", "X-JWT-Status: BAD_SIGNATURE",
 "X-JWT-Status: NO_KEY", "X-JWT-Status: EXPIRED", "X-JWT-Status: MISSING"]



=== TEST 18: empty where auth_jwt is off, and where it is not set at all
--- config
    location /api/ {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        add_header X-JWT-Status "[$jwt_status]" always;
        alias html/;

        location /api/public/ {
            auth_jwt off;
            add_header X-JWT-Status "[$jwt_status]" always;
            alias html/;
        }
    }
    location /open/ {
        add_header X-JWT-Status "[$jwt_status]" always;
        alias html/;
    }
--- request eval
["GET /api/ok.txt?t=$::tok{HS256}", "GET /api/public/ok.txt?t=$::tok{HS256}",
 "GET /api/public/ok.txt", "GET /open/ok.txt?t=$::tok{HS256}"]
--- error_code eval
[200, 200, 200, 200]
--- response_headers eval
["X-JWT-Status: [VALID]", "X-JWT-Status: []", "X-JWT-Status: []",
 "X-JWT-Status: []"]



=== TEST 19: reading $jwt_status never checks the token: empty before the
access phase, set after it; a claim read early checks it, and then shows
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        set $early "[$jwt_status]";
        add_header X-Early $early always;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
    location /claim {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        set $sub $jwt_claim_sub;
        set $early "[$jwt_status]";
        add_header X-Early $early always;
        alias html/ok.txt;
    }
    location /r {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        return 200 "[$jwt_status]\n";
    }
--- request eval
["GET /t?t=$::tok{HS256}", "GET /t?t=$::tok{expired}",
 "GET /claim?t=$::tok{HS256}", "GET /claim?t=$::tok{expired}",
 "GET /r?t=$::tok{HS256}"]
--- error_code eval
[200, 401, 200, 401, 200]
--- response_headers eval
["X-Early: []\nX-JWT-Status: VALID", "X-Early: []\nX-JWT-Status: EXPIRED",
 "X-Early: [VALID]", "X-Early: [EXPIRED]", "!X-Early"]
--- response_body_like eval
["^ok\n\$", "401", "^ok\n\$", "401", "^\\[\\]\n\$"]



=== TEST 20: subrequests see the client request's value
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        auth_request /check;
        auth_request_set $seen $upstream_http_x_seen;
        add_header X-Seen $seen always;
        alias html/ok.txt;
    }
    location = /check {
        internal;
        proxy_set_header X-Status $jwt_status;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location = /echo {
        add_header X-Seen $http_x_status;
        return 204;
    }
--- request eval
"GET /t?t=$::tok{ES256}"
--- error_code: 200
--- response_headers
X-Seen: VALID



=== TEST 21: the value outlives an internal redirect to a location
without auth_jwt (error_page), and is empty there otherwise
--- http_config
    map $jwt_claim_role $is_admin {
        admin    1;
        default  0;
    }
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        auth_jwt_require $is_admin error=403;
        error_page 401 403 /denied;
        alias html/ok.txt;
    }
    location = /denied {
        add_header X-JWT-Status "[$jwt_status]" always;
        alias html/denied.txt;
    }
--- user_files
>>> ok.txt
ok
>>> denied.txt
denied
--- request eval
["GET /t?t=$::tok{expired}", "GET /t", "GET /t?t=$::tok{user}",
 "GET /denied"]
--- error_code eval
[401, 401, 403, 200]
--- response_headers eval
["X-JWT-Status: [EXPIRED]", "X-JWT-Status: [MISSING]",
 "X-JWT-Status: [REQUIRE_FAILED]", "X-JWT-Status: []"]
--- response_body eval
[("denied\n") x 4]



=== TEST 22: in the log phase, with the claims of a token that failed a
require
--- http_config
    log_format jwt "jwt=$jwt_status sub=$jwt_claim_sub";
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        auth_jwt_require $jwt_claim_role error=403;
        access_log logs/access.log jwt;
        alias html/ok.txt;
    }
--- request eval
"GET /t?t=$::tok{HS256}"
--- error_code: 403
--- access_log
jwt=REQUIRE_FAILED sub=alice



=== TEST 23: in the log phase after an error_page redirect
--- http_config
    log_format jwt "jwt=$jwt_status";
--- config
    access_log logs/access.log jwt;

    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        error_page 401 /denied;
        alias html/ok.txt;
    }
    location = /denied {
        alias html/ok.txt;
    }
--- request eval
"GET /t?t=$::tok{not_yet}"
--- error_code: 401
--- access_log
jwt=NOT_YET_VALID



=== TEST 24: satisfy any: the token's verdict even when an address lets
the request in
--- config
    location /t {
        satisfy any;
        allow 127.0.0.1;
        deny all;
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
--- request eval
["GET /t", "GET /t?t=$::tok{expired}", "GET /t?t=$::tok{PS256}"]
--- error_code eval
[200, 200, 200]
--- response_headers eval
["X-JWT-Status: MISSING", "X-JWT-Status: EXPIRED", "X-JWT-Status: VALID"]



=== TEST 25: each request on a connection has its own value
--- pipelined_requests eval
["GET /t?t=$::tok{HS256}", "GET /t", "GET /t?t=$::tok{flipped}",
 "GET /t?t=$::tok{HS256}"]
--- error_code eval
[200, 401, 401, 200]
--- response_headers eval
["X-JWT-Status: VALID", "X-JWT-Status: MISSING",
 "X-JWT-Status: BAD_SIGNATURE", "X-JWT-Status: VALID"]
