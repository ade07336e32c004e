# rate_limit: several limits together, inheritance, per-plan rates from a
# JWT claim, empty keys, satisfy any, and dry run.

use lib 't/helpers';
use GwJwt;
use GwHttp ();   # for the --- init sections
use Test::Nginx::Socket 'no_plan';

our %tok = (
    alice => jwt('HS256', { sub => 'alice', plan => 'free' }),
    bob   => jwt('HS256', { sub => 'bob', plan => 'premium' }),
    carol => jwt('HS256', { sub => 'carol', plan => 'free' }),
);
# carol's token with a broken signature: her claims, but not valid
($tok{forged} = $tok{carol}) =~ s/(.)$/$1 eq 'A' ? 'Q' : 'A'/e;

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('user_files', ">>> ok.txt\nok\n")
        unless defined $block->user_files;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: two limits: the stricter rejects, and a rejection charges neither
# a holds 10 tokens, b 3; /a shows a was charged for the 3 admitted only
--- http_config
    rate_limit_zone $server_name zone=a:1m rate=1r/m burst=9;
    rate_limit_zone $server_name zone=b:1m rate=1r/m burst=2;
--- config
    location = /t {
        rate_limit zone=a;
        rate_limit zone=b;
        alias html/ok.txt;
    }
    location = /a {
        rate_limit zone=a;
        alias html/ok.txt;
    }
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t", "GET /t", "GET /a"]
--- error_code eval
[200, 200, 200, 429, 429, 200]
--- response_headers eval
["RateLimit-Limit: 3\nRateLimit-Remaining: 2",
 "RateLimit-Limit: 3\nRateLimit-Remaining: 1",
 "RateLimit-Limit: 3\nRateLimit-Remaining: 0",
 "RateLimit-Limit: 3\nRateLimit-Remaining: 0\nRetry-After: 60",
 "RateLimit-Limit: 3\nRateLimit-Remaining: 0\nRetry-After: 60",
 "RateLimit-Limit: 10\nRateLimit-Remaining: 6"]



=== TEST 2: the same with the stricter limit first
--- http_config
    rate_limit_zone $server_name zone=a:1m rate=1r/m burst=9;
    rate_limit_zone $server_name zone=b:1m rate=1r/m burst=2;
--- config
    location = /t {
        rate_limit zone=b;
        rate_limit zone=a;
        alias html/ok.txt;
    }
    location = /a {
        rate_limit zone=a;
        alias html/ok.txt;
    }
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t", "GET /a"]
--- error_code eval
[200, 200, 200, 429, 200]
--- response_headers eval
["RateLimit-Remaining: 2", "RateLimit-Remaining: 1", "RateLimit-Remaining: 0",
 "RateLimit-Remaining: 0", "RateLimit-Remaining: 6"]



=== TEST 3: when two limits reject, Retry-After is the longer wait
--- http_config
    rate_limit_zone $server_name zone=m:1m rate=1r/m;
    rate_limit_zone $server_name zone=h:1m rate=1r/h;
--- config
    location = /t {
        rate_limit zone=m;
        rate_limit zone=h;
        alias html/ok.txt;
    }
--- request eval
["GET /t", "GET /t"]
--- error_code eval
[200, 429]
--- response_headers eval
["!Retry-After", "Retry-After: 3600"]



=== TEST 4: rate_limit is inherited; a location's own replaces the server's
--- http_config
    rate_limit_zone $server_name zone=s:1m rate=1r/m burst=1;
    rate_limit_zone $server_name zone=o:1m rate=1r/m burst=4;
--- config
    rate_limit zone=s;

    location = /inherits {
        alias html/ok.txt;
    }
    location = /own {
        rate_limit zone=o;
        alias html/ok.txt;
    }
--- request eval
["GET /own", "GET /own", "GET /own", "GET /own",
 "GET /inherits", "GET /inherits", "GET /inherits"]
--- error_code eval
[200, 200, 200, 200, 200, 200, 429]
--- response_headers eval
[("RateLimit-Limit: 5") x 4, ("RateLimit-Limit: 2") x 3]



=== TEST 5: per-plan rates and bursts from a map on a JWT claim, a bucket per user
# free: 1r/m burst=1 (2 at once); premium: 10r/m burst=4 (5 at once)
--- http_config
    map $jwt_claim_plan $plan_rate {
        premium  10r/m;
        default  1r/m;
    }
    map $jwt_claim_plan $plan_burst {
        premium  4;
        default  1;
    }
    rate_limit_zone $jwt_claim_sub zone=per_user:1m rate=1r/m;
--- config
    location = /api {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/hs.json;
        rate_limit zone=per_user rate=$plan_rate burst=$plan_burst;
        alias html/ok.txt;
    }
--- request eval
[(map { "GET /api?t=$::tok{alice}" } 1 .. 3),
 (map { "GET /api?t=$::tok{bob}" } 1 .. 6),
 "GET /api?t=$::tok{alice}"]
--- error_code eval
[200, 200, 429, 200, 200, 200, 200, 200, 429, 429]
--- response_headers eval
["RateLimit-Limit: 2\nRateLimit-Remaining: 1",
 "RateLimit-Limit: 2\nRateLimit-Remaining: 0",
 "RateLimit-Limit: 2\nRetry-After: 60",
 "RateLimit-Limit: 5\nRateLimit-Remaining: 4",
 "RateLimit-Limit: 5\nRateLimit-Remaining: 3",
 "RateLimit-Limit: 5\nRateLimit-Remaining: 2",
 "RateLimit-Limit: 5\nRateLimit-Remaining: 1",
 "RateLimit-Limit: 5\nRateLimit-Remaining: 0",
 "RateLimit-Limit: 5\nRetry-After: 6",
 "RateLimit-Limit: 2\nRetry-After: 60"]



=== TEST 6: an invalid token is rejected by auth_jwt and charges nobody
# the forged token carries carol's claims; her bucket stays untouched
--- http_config
    rate_limit_zone $jwt_claim_sub zone=per_user:1m rate=1r/m burst=1;
--- config
    location = /api {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/hs.json;
        rate_limit zone=per_user;
        alias html/ok.txt;
    }
--- request eval
[(map { "GET /api?t=$::tok{forged}" } 1 .. 3),
 (map { "GET /api?t=$::tok{carol}" } 1 .. 3)]
--- error_code eval
[401, 401, 401, 200, 200, 429]
--- response_headers eval
[("!RateLimit-Limit") x 3, "RateLimit-Remaining: 1", "RateLimit-Remaining: 0",
 "RateLimit-Remaining: 0\nRetry-After: 60"]



=== TEST 7: an empty key is not limited: no status, no headers
--- http_config
    rate_limit_zone $arg_k zone=z:1m rate=1r/m;
--- config
    location = /t {
        rate_limit zone=z;
        add_header X-Status "[$rate_limit_status]" always;
        add_header X-Remaining "[$rate_limit_remaining]" always;
        alias html/ok.txt;
    }
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t?k=a", "GET /t?k=a", "GET /t?k="]
--- error_code eval
[200, 200, 200, 200, 429, 200]
--- response_headers eval
[("X-Status: []\nX-Remaining: []\n!RateLimit-Limit\n!Retry-After") x 3,
 "X-Status: [PASSED]\nX-Remaining: [0]\nRateLimit-Limit: 1",
 "X-Status: [REJECTED]\nX-Remaining: [0]\nRateLimit-Limit: 1",
 "X-Status: []\nX-Remaining: []\n!RateLimit-Limit"]



=== TEST 8: with one key empty, the other limit still applies alone
--- http_config
    rate_limit_zone $arg_k zone=per_k:1m rate=1r/m;
    rate_limit_zone $server_name zone=per_host:1m rate=1r/m burst=2;
--- config
    location = /t {
        rate_limit zone=per_k;
        rate_limit zone=per_host;
        alias html/ok.txt;
    }
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t"]
--- error_code eval
[200, 200, 200, 429]
--- response_headers eval
["RateLimit-Limit: 3\nRateLimit-Remaining: 2",
 "RateLimit-Limit: 3\nRateLimit-Remaining: 1",
 "RateLimit-Limit: 3\nRateLimit-Remaining: 0",
 "RateLimit-Limit: 3\nRetry-After: 60"]



=== TEST 9: under satisfy any the limiter only rejects, never lets anyone in
--- http_config
    rate_limit_zone $server_name zone=z:1m rate=1r/m burst=1;
    rate_limit_zone $server_name zone=z2:1m rate=1r/m burst=1;
--- config
    location = /closed {
        satisfy any;
        deny all;
        rate_limit zone=z;
        alias html/ok.txt;
    }
    location = /open {
        satisfy any;
        allow 127.0.0.1;
        deny all;
        rate_limit zone=z2;
        alias html/ok.txt;
    }
--- request eval
["GET /closed", "GET /open", "GET /open", "GET /open"]
--- error_code eval
[403, 200, 200, 429]



=== TEST 10: rate_limit_dry_run on: never rejects, reports as if enforced
# Reset stays 120 (two tokens' worth): the would-be rejections took nothing
--- http_config
    rate_limit_zone $server_name zone=z:1m rate=1r/m burst=1;
--- config
    location = /t {
        rate_limit zone=z;
        rate_limit_dry_run on;
        add_header X-Status $rate_limit_status always;
        alias html/ok.txt;
    }
--- request eval
[("GET /t") x 4]
--- error_code eval
[200, 200, 200, 200]
--- response_headers eval
["X-Status: PASSED\nRateLimit-Remaining: 1\nRateLimit-Reset: 60\n!Retry-After",
 "X-Status: PASSED\nRateLimit-Remaining: 0\nRateLimit-Reset: 120\n!Retry-After",
 "X-Status: REJECTED_DRY_RUN\nRateLimit-Remaining: 0\nRateLimit-Reset: 120\n"
 . "!Retry-After",
 "X-Status: REJECTED_DRY_RUN\nRateLimit-Remaining: 0\nRateLimit-Reset: 120\n"
 . "!Retry-After"]
--- response_body eval
[("ok\n") x 4]



=== TEST 11: the dry_run parameter; the same bucket enforced elsewhere
--- http_config
    rate_limit_zone $server_name zone=z:1m rate=1r/m burst=1;
--- config
    location = /try {
        rate_limit zone=z dry_run;
        add_header X-Status $rate_limit_status always;
        alias html/ok.txt;
    }
    location = /t {
        rate_limit zone=z;
        add_header X-Status $rate_limit_status always;
        alias html/ok.txt;
    }
--- request eval
["GET /try", "GET /try", "GET /try", "GET /t"]
--- error_code eval
[200, 200, 200, 429]
--- response_headers eval
["X-Status: PASSED", "X-Status: PASSED", "X-Status: REJECTED_DRY_RUN",
 "X-Status: REJECTED\nRetry-After: 60"]



=== TEST 12: rate_limit_dry_run off in a location overrides the server's on
--- http_config
    rate_limit_zone $server_name zone=z:1m rate=1r/m;
--- config
    rate_limit_dry_run on;

    location = /t {
        rate_limit zone=z;
        rate_limit_dry_run off;
        alias html/ok.txt;
    }
--- request eval
["GET /t", "GET /t"]
--- error_code eval
[200, 429]



=== TEST 13: an enforced limit next to a dry-run one that would reject
# a (10 tokens) is enforced, b (1 token) only reports: the request passes
# and a is charged for it, as it would be without b
--- http_config
    rate_limit_zone $server_name zone=a:1m rate=1r/m burst=9;
    rate_limit_zone $server_name zone=b:1m rate=1r/m;
--- config
    location = /t {
        rate_limit zone=a;
        rate_limit zone=b dry_run;
        add_header X-Status $rate_limit_status always;
        alias html/ok.txt;
    }
    location = /a {
        rate_limit zone=a;
        alias html/ok.txt;
    }
--- request eval
["GET /t", "GET /t", "GET /a"]
--- error_code eval
[200, 200, 200]
--- response_headers eval
["X-Status: PASSED\nRateLimit-Limit: 1\nRateLimit-Remaining: 0",
 "X-Status: REJECTED_DRY_RUN\nRateLimit-Limit: 1\nRateLimit-Remaining: 0"
 . "\n!Retry-After",
 "RateLimit-Limit: 10\nRateLimit-Remaining: 7"]



=== TEST 14: a dry-run rejection logs its own line at the log level
--- http_config
    rate_limit_zone $server_name zone=per_host:1m rate=1r/m;
--- config
    location = /t {
        rate_limit zone=per_host;
        rate_limit_dry_run on;
        alias html/ok.txt;
    }
--- init
Test::More::is(GwHttp::http_get('/t'), 200, 'the bucket had one token');
--- request
GET /t
--- error_code: 200
--- error_log eval
qr/\[error\] .*rate_limit: would reject, dry run, by zone "per_host"/
--- no_error_log
rate_limit: rejected by



=== TEST 15: a dry-run rejection at rate_limit_log_level info
--- http_config
    rate_limit_zone $server_name zone=z:1m rate=1r/m;
--- config
    location = /t {
        rate_limit zone=z dry_run;
        rate_limit_log_level info;
        alias html/ok.txt;
    }
--- init
Test::More::is(GwHttp::http_get('/t'), 200, 'the bucket had one token');
--- request
GET /t
--- error_code: 200
--- error_log eval
qr/\[info\] .*rate_limit: would reject, dry run, by zone "z"/
--- no_error_log
[error]
