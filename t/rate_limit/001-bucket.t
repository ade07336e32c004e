# rate_limit: one bucket: bursts, refill over time, Retry-After, cost, the
# rate and burst of a location, the status and the log line of rejections.
#
# Most zones refill slowly (r/m) so that the counts do not depend on how
# fast the requests follow each other (valgrind included).

use lib 't/helpers';
use GwHttp ();   # for the --- init sections
use Test::Nginx::Socket 'no_plan';

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('user_files', ">>> ok.txt\nok\n")
        unless defined $block->user_files;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: a burst of 4 lets 5 requests through at once, then 429
--- http_config
    rate_limit_zone $server_name zone=z:1m rate=10r/m burst=4;
--- config
    location = /t {
        rate_limit zone=z;
        alias html/ok.txt;
    }
--- request eval
[("GET /t") x 7]
--- error_code eval
[200, 200, 200, 200, 200, 429, 429]
--- response_body eval
[("ok\n") x 5, qr/429 Too Many Requests/, qr/429 Too Many Requests/]



=== TEST 2: at 10r/s with a burst of 4, too: of 6 requests at once, 5 get in
# at 10r/s the requests must arrive within 100 ms: init sends them all
# before reading any response (not under valgrind, too slow even so)
--- skip_eval: 4: $ENV{TEST_NGINX_USE_VALGRIND}
--- http_config
    rate_limit_zone $arg_k zone=z:1m rate=10r/s burst=4;
--- config
    location = /t {
        rate_limit zone=z;
        alias html/ok.txt;
    }
--- init
my %n;
$n{$_->[0]}++ for GwHttp::http_get_parallel(('/t?k=a') x 6);
Test::More::is($n{200}, 5, '5 admitted');
Test::More::is($n{429}, 1, '1 rejected');
--- request
GET /t?k=b
--- response_headers
RateLimit-Limit: 5
RateLimit-Remaining: 4



=== TEST 3: without burst one request passes; the next waits a minute
--- http_config
    rate_limit_zone $server_name zone=z:1m rate=1r/m;
--- config
    location = /t {
        rate_limit zone=z;
        alias html/ok.txt;
    }
--- request eval
["GET /t", "GET /t"]
--- error_code eval
[200, 429]
--- response_headers eval
["!Retry-After", "Retry-After: 60"]



=== TEST 4: Retry-After: the wait for one token (6 s at 10r/m), not a full bucket
--- http_config
    rate_limit_zone $server_name zone=z:1m rate=10r/m burst=4;
--- config
    location = /t {
        rate_limit zone=z;
        alias html/ok.txt;
    }
--- request eval
[("GET /t") x 6]
--- error_code eval
[200, 200, 200, 200, 200, 429]
--- response_headers eval
[("!Retry-After") x 5, "Retry-After: 6"]



=== TEST 5: a wait shorter than a second rounds up to 1 (2r/s)
--- http_config
    rate_limit_zone $server_name zone=z:1m rate=2r/s;
--- config
    location = /t {
        rate_limit zone=z;
        alias html/ok.txt;
    }
--- request eval
["GET /t", "GET /t"]
--- error_code eval
[200, 429]
--- response_headers eval
["!Retry-After", "Retry-After: 1"]



=== TEST 6: rates per hour and per day: Retry-After 3600 and 86400
--- http_config
    rate_limit_zone $arg_k zone=z:1m rate=1r/s;
--- config
    location = /t {
        rate_limit zone=z rate=$arg_r;
        alias html/ok.txt;
    }
--- request eval
["GET /t?k=h&r=1r/h", "GET /t?k=h&r=1r/h",
 "GET /t?k=d&r=1r/d", "GET /t?k=d&r=1r/d"]
--- error_code eval
[200, 429, 200, 429]
--- response_headers eval
["!Retry-After", "Retry-After: 3600", "!Retry-After", "Retry-After: 86400"]



=== TEST 7: tokens come back over time: after 1 s, exactly one more request
# /sleep answers its second request 1 s late (limit_req delays it); at
# 1r/s burst=1 that gives the bucket one token back, not two.
--- http_config
    rate_limit_zone $server_name zone=z:1m rate=1r/s burst=1;
    limit_req_zone $server_name zone=sleep:1m rate=1r/s;
--- config
    location = /t {
        rate_limit zone=z;
        alias html/ok.txt;
    }
    location = /sleep {
        limit_req zone=sleep burst=5;
        alias html/ok.txt;
    }
--- request eval
["GET /t", "GET /t", "GET /t", "GET /sleep", "GET /sleep", "GET /t", "GET /t"]
--- error_code eval
[200, 200, 429, 200, 200, 200, 429]
--- response_headers eval
["RateLimit-Remaining: 1", "RateLimit-Remaining: 0",
 "RateLimit-Remaining: 0\nRetry-After: 1", "!RateLimit-Remaining",
 "!RateLimit-Remaining", "RateLimit-Remaining: 0\nRateLimit-Reset: 2",
 "RateLimit-Remaining: 0\nRetry-After: 1"]



=== TEST 8: a fixed cost takes that many tokens; a rejected one takes none
# bucket of 5: cost 3 leaves 2, the next cost 3 is rejected, cost 2 fits
--- http_config
    rate_limit_zone $server_name zone=z:1m rate=1r/m burst=4;
--- config
    location = /three {
        rate_limit zone=z cost=3;
        alias html/ok.txt;
    }
    location = /two {
        rate_limit zone=z cost=2;
        alias html/ok.txt;
    }
--- request eval
["GET /three", "GET /three", "GET /two", "GET /two"]
--- error_code eval
[200, 429, 200, 429]
--- response_headers eval
["RateLimit-Remaining: 2", "RateLimit-Remaining: 2\nRetry-After: 60",
 "RateLimit-Remaining: 0", "RateLimit-Remaining: 0\nRetry-After: 120"]



=== TEST 9: cost from a variable: a number, 0 (counts nothing), empty (1)
--- http_config
    rate_limit_zone $server_name zone=z:1m rate=1r/m burst=4;
--- config
    location = /t {
        rate_limit zone=z cost=$arg_c;
        alias html/ok.txt;
    }
--- request eval
["GET /t?c=3", "GET /t?c=0", "GET /t?c=2", "GET /t?c=0", "GET /t?c=0",
 "GET /t", "GET /t?c=0"]
--- error_code eval
[200, 200, 200, 200, 200, 429, 200]
--- response_headers eval
["RateLimit-Remaining: 2", "RateLimit-Remaining: 2", "RateLimit-Remaining: 0",
 "RateLimit-Remaining: 0", "RateLimit-Remaining: 0",
 "RateLimit-Remaining: 0\nRetry-After: 60", "RateLimit-Remaining: 0"]



=== TEST 10: cost=0 on a location: never rejected, even with an empty bucket
--- http_config
    rate_limit_zone $server_name zone=z:1m rate=1r/m;
--- config
    location = /t {
        rate_limit zone=z;
        alias html/ok.txt;
    }
    location = /free {
        rate_limit zone=z cost=0;
        alias html/ok.txt;
    }
--- request eval
["GET /t", "GET /free", "GET /free", "GET /t"]
--- error_code eval
[200, 200, 200, 429]



=== TEST 11: rate= and burst= override the zone's; empty variables mean the zone's
--- http_config
    rate_limit_zone $arg_k zone=z:1m rate=1r/m;
--- config
    location = /t {
        rate_limit zone=z rate=$arg_r burst=$arg_b;
        alias html/ok.txt;
    }
    location = /fixed {
        rate_limit zone=z rate=10r/m burst=1;
        alias html/ok.txt;
    }
--- request eval
["GET /t?k=a", "GET /t?k=a",
 "GET /t?k=b&b=2", "GET /t?k=b&b=2", "GET /t?k=b&b=2", "GET /t?k=b&b=2",
 "GET /t?k=c&r=20r/m&b=", "GET /t?k=c&r=20r/m&b=",
 "GET /fixed?k=d", "GET /fixed?k=d", "GET /fixed?k=d"]
--- error_code eval
[200, 429,
 200, 200, 200, 429,
 200, 429,
 200, 200, 429]
--- response_headers eval
["RateLimit-Limit: 1", "Retry-After: 60",
 "RateLimit-Limit: 3", "RateLimit-Limit: 3", "RateLimit-Limit: 3",
 "Retry-After: 60",
 "RateLimit-Limit: 1", "Retry-After: 3",
 "RateLimit-Limit: 2", "RateLimit-Limit: 2", "Retry-After: 6"]



=== TEST 12: a cost variable that is not a number: 500 and one error line
--- http_config
    rate_limit_zone $server_name zone=z:1m rate=1r/m;
--- config
    location = /t {
        rate_limit zone=z cost=$arg_c;
        alias html/ok.txt;
    }
--- request
GET /t?c=lots
--- error_code: 500
--- grep_error_log eval
qr/\[error\] .*?rate_limit: [^,]*/
--- grep_error_log_out eval
qr/\A\[error\] .*rate_limit: invalid number "lots" from "\$arg_c"\n\z/



=== TEST 13: a rate variable that is not a rate: 500 and one error line
--- http_config
    rate_limit_zone $server_name zone=z:1m rate=1r/m;
--- config
    location = /t {
        rate_limit zone=z rate=$arg_r;
        alias html/ok.txt;
    }
--- request
GET /t?r=10r/x
--- error_code: 500
--- grep_error_log eval
qr/\[error\] .*?rate_limit: [^,]*/
--- grep_error_log_out eval
qr/\A\[error\] .*rate_limit: invalid rate "10r\/x" from "\$arg_r"\n\z/



=== TEST 14: a burst variable that is not a number: 500 and one error line
--- http_config
    rate_limit_zone $server_name zone=z:1m rate=1r/m;
--- config
    location = /t {
        rate_limit zone=z burst=$arg_b;
        alias html/ok.txt;
    }
--- request
GET /t?b=-1
--- error_code: 500
--- grep_error_log eval
qr/\[error\] .*?rate_limit: [^,]*/
--- grep_error_log_out eval
qr/\A\[error\] .*rate_limit: invalid number "-1" from "\$arg_b"\n\z/



=== TEST 15: rate_limit_status sets the status of rejections (inherited)
--- http_config
    rate_limit_zone $server_name zone=z:1m rate=1r/m;
    rate_limit_status 503;
--- config
    location = /t {
        rate_limit zone=z;
        alias html/ok.txt;
    }
    location = /teapot {
        rate_limit zone=z;
        rate_limit_status 418;
        alias html/ok.txt;
    }
--- request eval
["GET /t", "GET /t", "GET /teapot"]
--- error_code eval
[200, 503, 418]
--- response_headers eval
["!Retry-After", "Retry-After: 60", "Retry-After: 60"]



=== TEST 16: a rejection logs one line at error level naming the zone
--- http_config
    rate_limit_zone $server_name zone=per_host:1m rate=1r/m;
--- config
    location = /t {
        rate_limit zone=per_host;
        alias html/ok.txt;
    }
--- init
Test::More::is(GwHttp::http_get('/t'), 200, 'the bucket had one token');
--- request
GET /t
--- error_code: 429
--- error_log eval
qr/\[error\] .*rate_limit: rejected by zone "per_host"/
--- no_error_log
[warn]



=== TEST 17: rate_limit_log_level warn logs rejections at warn
--- http_config
    rate_limit_zone $server_name zone=z:1m rate=1r/m;
--- config
    location = /t {
        rate_limit zone=z;
        rate_limit_log_level warn;
        alias html/ok.txt;
    }
--- init
Test::More::is(GwHttp::http_get('/t'), 200, 'the bucket had one token');
--- request
GET /t
--- error_code: 429
--- error_log eval
qr/\[warn\] .*rate_limit: rejected by zone "z"/
--- no_error_log
[error]



=== TEST 18: admitted requests log nothing above info
--- http_config
    rate_limit_zone $server_name zone=z:1m rate=1r/m burst=4;
--- config
    location = /t {
        rate_limit zone=z;
        alias html/ok.txt;
    }
--- request eval
[("GET /t") x 5]
--- error_code eval
[(200) x 5]
--- no_error_log
[error]
[warn]
rate_limit: rejected
