# rate_limit_headers: on, legacy, draft and off, exact values, on proxied
# responses and on rejections, and the $rate_limit_* variables; none above
# the limit in effect when burst= and cost= vary.
#
# At 10r/m a token takes 6 s, so a bucket of 5 (burst=4) takes 30 s to
# refill: after n requests at once, Reset is 6n and Remaining 5 - n.

use lib 't/helpers';
use GwHttp ();   # for the --- init sections
use Test::Nginx::Socket 'no_plan';

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('user_files', ">>> ok.txt\nok\n")
        unless defined $block->user_files;

    $block->set_value('http_config',
                      'rate_limit_zone $server_name zone=z:1m'
                      . ' rate=10r/m burst=4;')
        unless defined $block->http_config;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: on (the default): a fresh 10r/s burst=4 bucket says 5, 4, 1
--- http_config
    rate_limit_zone $server_name zone=z:1m rate=10r/s burst=4;
--- config
    location = /t {
        rate_limit zone=z;
        alias html/ok.txt;
    }
--- request
GET /t
--- response_headers
RateLimit-Limit: 5
RateLimit-Remaining: 4
RateLimit-Reset: 1
!X-RateLimit-Limit
!RateLimit-Policy
!RateLimit
!Retry-After
--- response_body
ok



=== TEST 2: on: the values through a burst and on the rejection
--- config
    location = /t {
        rate_limit zone=z;
        rate_limit_headers on;
        alias html/ok.txt;
    }
--- request eval
[("GET /t") x 6]
--- error_code eval
[200, 200, 200, 200, 200, 429]
--- response_headers eval
[map { "RateLimit-Limit: 5\nRateLimit-Remaining: $_->[0]\n"
       . "RateLimit-Reset: $_->[1]\n$_->[2]" }
     [4, 6, '!Retry-After'], [3, 12, '!Retry-After'], [2, 18, '!Retry-After'],
     [1, 24, '!Retry-After'], [0, 30, '!Retry-After'],
     [0, 30, 'Retry-After: 6']]



=== TEST 3: legacy: the same values as X-RateLimit-*
--- config
    location = /t {
        rate_limit zone=z;
        rate_limit_headers legacy;
        alias html/ok.txt;
    }
--- request eval
[("GET /t") x 6]
--- error_code eval
[200, 200, 200, 200, 200, 429]
--- response_headers eval
[(map { "X-RateLimit-Limit: 5\nX-RateLimit-Remaining: $_->[0]\n"
        . "X-RateLimit-Reset: $_->[1]\n!RateLimit-Limit\n"
        . "!RateLimit-Remaining\n!RateLimit-Reset\n!Retry-After" }
      [4, 6], [3, 12], [2, 18], [1, 24], [0, 30]),
 "X-RateLimit-Limit: 5\nX-RateLimit-Remaining: 0\nX-RateLimit-Reset: 30\n"
 . "!RateLimit-Limit\nRetry-After: 6"]



=== TEST 4: draft: RateLimit-Policy and RateLimit structured fields
--- config
    location = /t {
        rate_limit zone=z;
        rate_limit_headers draft;
        alias html/ok.txt;
    }
--- request eval
[("GET /t") x 6]
--- error_code eval
[200, 200, 200, 200, 200, 429]
--- response_headers eval
[(map { qq{RateLimit-Policy: "z";q=5;w=30\nRateLimit: "z";r=$_->[0];t=$_->[1]\n}
        . "!RateLimit-Limit\n!X-RateLimit-Limit\n!Retry-After" }
      [4, 6], [3, 12], [2, 18], [1, 24], [0, 30]),
 qq{RateLimit-Policy: "z";q=5;w=30\nRateLimit: "z";r=0;t=30\nRetry-After: 6}]



=== TEST 5: off: no limit headers, but a rejection still has Retry-After
--- config
    location = /t {
        rate_limit zone=z;
        rate_limit_headers off;
        alias html/ok.txt;
    }
--- request eval
[("GET /t") x 6]
--- error_code eval
[200, 200, 200, 200, 200, 429]
--- response_headers eval
[("!RateLimit-Limit\n!RateLimit-Remaining\n!X-RateLimit-Limit\n"
  . "!RateLimit-Policy\n!RateLimit\n!Retry-After") x 5,
 "!RateLimit-Limit\n!X-RateLimit-Limit\n!RateLimit-Policy\nRetry-After: 6"]



=== TEST 6: the mode is inherited, and a location can turn it off
--- config
    rate_limit_headers legacy;

    location = /t {
        rate_limit zone=z;
        alias html/ok.txt;
    }
    location = /quiet {
        rate_limit zone=z;
        rate_limit_headers off;
        alias html/ok.txt;
    }
--- request eval
["GET /t", "GET /quiet", "GET /t"]
--- response_headers eval
["X-RateLimit-Remaining: 4\n!RateLimit-Remaining",
 "!X-RateLimit-Remaining\n!RateLimit-Remaining",
 "X-RateLimit-Remaining: 2\n!RateLimit-Remaining"]



=== TEST 7: headers on proxied responses, next to the upstream's own
--- config
    location = /t {
        rate_limit zone=z;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        add_header X-Backend yes;
        return 200 "from the backend\n";
    }
--- request eval
[("GET /t") x 6]
--- error_code eval
[200, 200, 200, 200, 200, 429]
--- response_headers eval
[(map { "X-Backend: yes\nRateLimit-Limit: 5\nRateLimit-Remaining: $_" }
      4, 3, 2, 1, 0),
 "!X-Backend\nRateLimit-Limit: 5\nRateLimit-Remaining: 0\nRetry-After: 6"]
--- response_body eval
[("from the backend\n") x 5, qr/429 Too Many Requests/]



=== TEST 8: headers on the location's error responses too (a 404)
--- config
    location = /t {
        rate_limit zone=z;
        alias html/missing.txt;
    }
--- request
GET /t
--- error_code: 404
--- response_headers
RateLimit-Limit: 5
RateLimit-Remaining: 4
RateLimit-Reset: 6



=== TEST 9: no headers where no rate_limit applies
--- config
    location = /t {
        rate_limit zone=z;
        alias html/ok.txt;
    }
    location = /other {
        alias html/ok.txt;
    }
--- request eval
["GET /t", "GET /other"]
--- response_headers eval
["RateLimit-Remaining: 4", "!RateLimit-Limit\n!RateLimit-Remaining"]



=== TEST 10: $rate_limit_status, $rate_limit_remaining, $rate_limit_reset
--- config
    location = /t {
        rate_limit zone=z;
        rate_limit_headers off;
        add_header X-Status "$rate_limit_status" always;
        add_header X-Remaining "$rate_limit_remaining" always;
        add_header X-Reset "$rate_limit_reset" always;
        alias html/ok.txt;
    }
--- request eval
[("GET /t") x 6]
--- error_code eval
[200, 200, 200, 200, 200, 429]
--- response_headers eval
[(map { "X-Status: PASSED\nX-Remaining: $_->[0]\nX-Reset: $_->[1]" }
      [4, 6], [3, 12], [2, 18], [1, 24], [0, 30]),
 "X-Status: REJECTED\nX-Remaining: 0\nX-Reset: 30"]



=== TEST 11: the variables can be logged, a rejection too
--- http_config
    rate_limit_zone $server_name zone=z:1m rate=1r/m;
    log_format rl "$uri rl=$rate_limit_status,$rate_limit_remaining,"
                  "$rate_limit_reset";
--- config
    location = /t {
        rate_limit zone=z;
        access_log logs/access.log rl;
        alias html/ok.txt;
    }
--- init
Test::More::is(GwHttp::http_get('/t'), 200, 'the bucket had one token');
--- request
GET /t
--- error_code: 429
--- access_log
/t rl=PASSED,0,60
/t rl=REJECTED,0,60



=== TEST 12: values never exceed the limit in effect: a bucket filled under burst=20, then burst=2
# at 10r/m, 21 requests fill the bucket for 126 s; under burst=2 (3 tokens,
# 18 s to refill) none is left, and Reset and Retry-After say at most 18 s.
# A cost of 0 still passes; burst=20 again finds the bucket as it was.
--- http_config
    rate_limit_zone $arg_k zone=v:1m rate=10r/m;
--- config
    location = /v {
        rate_limit zone=v burst=$arg_b cost=$arg_c;
        add_header X-Vars "$rate_limit_remaining $rate_limit_reset" always;
        alias html/ok.txt;
    }
    location = /l {
        rate_limit zone=v burst=$arg_b cost=$arg_c;
        rate_limit_headers legacy;
        alias html/ok.txt;
    }
    location = /d {
        rate_limit zone=v burst=$arg_b cost=$arg_c;
        rate_limit_headers draft;
        alias html/ok.txt;
    }
--- init
my @s = map { scalar GwHttp::http_get('/v?k=a&b=20') } 1 .. 21;
Test::More::is("@s", join(' ', (200) x 21), 'burst=20: 21 pass');
--- request eval
["GET /v?k=a&b=2", "GET /l?k=a&b=2", "GET /d?k=a&b=2", "GET /v?k=a&b=2&c=0",
 "GET /v?k=a&b=20"]
--- error_code eval
[429, 429, 429, 200, 429]
--- response_headers eval
["RateLimit-Limit: 3\nRateLimit-Remaining: 0\nRateLimit-Reset: 18\n"
 . "Retry-After: 18\nX-Vars: 0 18",
 "X-RateLimit-Limit: 3\nX-RateLimit-Remaining: 0\nX-RateLimit-Reset: 18\n"
 . "Retry-After: 18",
 qq{RateLimit-Policy: "v";q=3;w=18\nRateLimit: "v";r=0;t=18\nRetry-After: 18},
 "RateLimit-Limit: 3\nRateLimit-Remaining: 0\nRateLimit-Reset: 18\n"
 . "!Retry-After\nX-Vars: 0 18",
 "RateLimit-Limit: 21\nRateLimit-Remaining: 0"]
--- response_headers_like eval
[("") x 4, "RateLimit-Reset: 12\\d\nRetry-After: [1-6]"]



=== TEST 13: values never exceed the limit in effect: a cost larger than the bucket, a cost of 0
# burst=2: 3 tokens, 18 s to refill; cost 7 can never pass, cost 4 neither
--- http_config
    rate_limit_zone $arg_k zone=v:1m rate=10r/m;
--- config
    location = /v {
        rate_limit zone=v burst=2 cost=$arg_c;
        add_header X-Vars "$rate_limit_remaining $rate_limit_reset" always;
        alias html/ok.txt;
    }
    location = /d {
        rate_limit zone=v burst=2 cost=$arg_c;
        rate_limit_headers draft;
        alias html/ok.txt;
    }
--- request eval
["GET /v?k=c&c=7", "GET /d?k=c&c=7", "GET /v?k=c&c=4", "GET /v?k=c&c=0",
 "GET /v?k=c&c=3", "GET /d?k=c&c=0"]
--- error_code eval
[429, 429, 429, 200, 200, 200]
--- response_headers eval
["RateLimit-Limit: 3\nRateLimit-Remaining: 3\nRateLimit-Reset: 0\n"
 . "Retry-After: 18\nX-Vars: 3 0",
 qq{RateLimit-Policy: "v";q=3;w=18\nRateLimit: "v";r=3;t=0\nRetry-After: 18},
 "RateLimit-Remaining: 3\nRateLimit-Reset: 0\nRetry-After: 6",
 "RateLimit-Limit: 3\nRateLimit-Remaining: 3\nRateLimit-Reset: 0\n"
 . "!Retry-After\nX-Vars: 3 0",
 "RateLimit-Remaining: 0\nRateLimit-Reset: 18\n!Retry-After",
 qq{RateLimit-Policy: "v";q=3;w=18\nRateLimit: "v";r=0;t=18\n!Retry-After}]
