# $rate_limit_zones: what each limit decided for the request, for logs and
# for a metrics module: "zone:STATUS[:flag...]" per limit that applied, in
# the configuration's order, ", " between them.  Needs redis-server for
# the Redis blocks; $TEST_NGINX_DEAD_PORT is a port nobody listens on.

use lib 't/helpers';
use GwRedis;
use GwHttp ();   # for the --- init sections
use Test::Nginx::Socket 'no_plan';

$ENV{TEST_NGINX_DEAD_PORT} = GwHttp::free_ports();

# GET /t?k=<prefix>1 .. <prefix>n: how many were not 200
sub fill {
    my ($prefix, $n) = @_;
    my @bad = grep { GwHttp::http_get("/t?k=$prefix$_") != 200 } 1 .. $n;
    return scalar @bad;
}

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('user_files', ">>> ok.txt\nok\n")
        unless defined $block->user_files;

    # a and c hold one token, b ten; u is keyed by another argument

    $block->set_value('http_config', <<'_EOC_')
    rate_limit_zone $arg_k zone=a:1m rate=1r/m;
    rate_limit_zone $arg_k zone=b:1m rate=1r/m burst=9;
    rate_limit_zone $arg_k zone=c:1m rate=1r/m;
    rate_limit_zone $arg_u zone=u:1m rate=1r/m;
    rate_limit_log_level info;
_EOC_
        unless defined $block->http_config;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: one zone: passed, then rejected
--- config
    location = /t {
        rate_limit zone=a;
        add_header X-Zones $rate_limit_zones always;
        alias html/ok.txt;
    }
--- request eval
["GET /t?k=1", "GET /t?k=1"]
--- error_code eval
[200, 429]
--- response_headers eval
["X-Zones: a:PASSED", "X-Zones: a:REJECTED"]



=== TEST 2: two zones, one rejects: both listed, in the configuration's order
--- config
    location = /t {
        rate_limit zone=b;
        rate_limit zone=a;
        add_header X-Zones $rate_limit_zones always;
        alias html/ok.txt;
    }
--- request eval
["GET /t?k=2", "GET /t?k=2"]
--- error_code eval
[200, 429]
--- response_headers eval
["X-Zones: b:PASSED, a:PASSED", "X-Zones: b:PASSED, a:REJECTED"]



=== TEST 3: two zones that both reject: each says so
--- config
    location = /t {
        rate_limit zone=c;
        rate_limit zone=a;
        add_header X-Zones $rate_limit_zones always;
        alias html/ok.txt;
    }
--- request eval
["GET /t?k=3", "GET /t?k=3"]
--- error_code eval
[200, 429]
--- response_headers eval
["X-Zones: c:PASSED, a:PASSED", "X-Zones: c:REJECTED, a:REJECTED"]



=== TEST 4: dry run: the zone would reject, the request passes
--- config
    location = /t {
        rate_limit zone=a dry_run;
        rate_limit zone=b;
        add_header X-Zones $rate_limit_zones always;
        add_header X-Status $rate_limit_status always;
        alias html/ok.txt;
    }
--- request eval
["GET /t?k=4", "GET /t?k=4"]
--- error_code eval
[200, 200]
--- response_headers eval
["X-Zones: a:PASSED, b:PASSED\nX-Status: PASSED",
 "X-Zones: a:REJECTED_DRY_RUN, b:PASSED\nX-Status: REJECTED_DRY_RUN"]



=== TEST 5: a limit with an empty key is not listed
--- config
    location = /t {
        rate_limit zone=a;
        rate_limit zone=u;
        add_header X-Zones $rate_limit_zones always;
        alias html/ok.txt;
    }
--- request eval
["GET /t?u=5", "GET /t?k=5", "GET /t?k=5&u=5"]
--- error_code eval
[200, 200, 429]
--- response_headers eval
["X-Zones: u:PASSED", "X-Zones: a:PASSED", "X-Zones: a:REJECTED, u:REJECTED"]



=== TEST 6: no limit applies: empty, as $rate_limit_status
--- config
    location = /t {
        rate_limit zone=a;
        rate_limit zone=u;
        add_header X-Zones "[$rate_limit_zones]" always;
        add_header X-Status "[$rate_limit_status]" always;
        alias html/ok.txt;
    }
    location = /none {
        add_header X-Zones "[$rate_limit_zones]" always;
        alias html/ok.txt;
    }
--- request eval
["GET /t", "GET /none"]
--- error_code eval
[200, 200]
--- response_headers eval
["X-Zones: []\nX-Status: []", "X-Zones: []"]



=== TEST 7: the decision survives an internal redirect
--- config
    location = /t {
        rate_limit zone=a;
        error_page 429 /limited;
        alias html/ok.txt;
    }
    location = /limited {
        add_header X-Zones $rate_limit_zones always;
        alias html/ok.txt;
    }
--- request eval
["GET /t?k=7", "GET /t?k=7"]
--- error_code eval
[200, 429]
--- response_headers eval
["!X-Zones", "X-Zones: a:REJECTED"]



=== TEST 8: a full zone drops a bucket in use: evicted
# a 32k zone holds a couple of hundred buckets; 400 keys fill it
--- http_config
    rate_limit_zone $arg_k zone=z:32k rate=1r/m;
    rate_limit_zone $arg_k zone=a:1m rate=1r/m burst=9;
--- config
    location = /t {
        rate_limit zone=a;
        rate_limit zone=z;
        add_header X-Zones $rate_limit_zones always;
        alias html/ok.txt;
    }
--- init
Test::More::is(main::fill('live', 400), 0, 'each new key admitted');
--- request
GET /t?k=new
--- error_code: 200
--- response_headers
X-Zones: a:PASSED, z:PASSED:evicted
--- error_log
rate_limit: zone "z" is full, dropped a bucket in use



=== TEST 9: a zone in Redis: its verdicts, no flag
--- http_config
    rate_limit_zone $arg_k zone=r:1m rate=1r/m
                    redis=127.0.0.1:$TEST_NGINX_REDIS_PORT;
    rate_limit_zone $arg_k zone=a:1m rate=1r/m burst=9;
    rate_limit_redis_timeout 2s;    # valgrind is slow
--- config
    location = /t {
        rate_limit zone=a;
        rate_limit zone=r;
        add_header X-Zones $rate_limit_zones always;
        alias html/ok.txt;
    }
--- request eval
["GET /t?k=9", "GET /t?k=9"]
--- error_code eval
[200, 429]
--- response_headers eval
["X-Zones: a:PASSED, r:PASSED", "X-Zones: a:PASSED, r:REJECTED"]
--- no_error_log
rate_limit: redis



=== TEST 10: Redis unreachable, fail open: the local verdicts, flagged
# the first request finds nobody there, the next one Redis known down
--- http_config
    rate_limit_zone $arg_k zone=d:1m rate=1r/m
                    redis=127.0.0.1:$TEST_NGINX_DEAD_PORT;
    rate_limit_zone $arg_k zone=a:1m rate=1r/m burst=9;
--- config
    location = /t {
        rate_limit zone=a;
        rate_limit zone=d;
        add_header X-Zones $rate_limit_zones always;
        alias html/ok.txt;
    }
--- request eval
["GET /t?k=10", "GET /t?k=10"]
--- error_code eval
[200, 429]
--- response_headers eval
["X-Zones: a:PASSED, d:PASSED:redis_failed",
 "X-Zones: a:PASSED, d:REJECTED:redis_failed"]



=== TEST 11: Redis unreachable, fail closed: 503 without verdicts
--- http_config
    rate_limit_zone $arg_k zone=d:1m rate=1r/m
                    redis=127.0.0.1:$TEST_NGINX_DEAD_PORT;
    rate_limit_zone $arg_k zone=a:1m rate=1r/m burst=9;
--- config
    location = /t {
        rate_limit zone=d;
        rate_limit zone=a;
        rate_limit_redis_fail closed;
        add_header X-Zones $rate_limit_zones always;
        add_header X-Status "[$rate_limit_status]" always;
        alias html/ok.txt;
    }
--- request eval
["GET /t?k=11", "GET /t?k=11"]
--- error_code eval
[503, 503]
--- response_headers eval
["X-Zones: d:UNAVAILABLE:redis_failed, a:UNAVAILABLE\nX-Status: []",
 "X-Zones: d:UNAVAILABLE:redis_failed, a:UNAVAILABLE\nX-Status: []"]



=== TEST 12: a Redis that never answers, fail open: flagged after the timeout
--- http_config
    rate_limit_zone $arg_k zone=m:1m rate=1r/m
                    redis=127.0.0.1:$TEST_NGINX_REDIS_MUTE_PORT;
--- config
    location = /t {
        rate_limit zone=m;
        rate_limit_redis_timeout 50ms;
        add_header X-Zones $rate_limit_zones always;
        alias html/ok.txt;
    }
--- request
GET /t?k=12
--- error_code: 200
--- response_headers
X-Zones: m:PASSED:redis_failed
--- error_log eval
qr/rate_limit: redis "127\.0\.0\.1:\d+" timed out(?: connecting)?; retrying with backoff/



=== TEST 13: a Redis that never answers, fail closed: unavailable
--- http_config
    rate_limit_zone $arg_k zone=m:1m rate=1r/m
                    redis=127.0.0.1:$TEST_NGINX_REDIS_MUTE_PORT;
--- config
    location = /t {
        rate_limit zone=m;
        rate_limit_redis_timeout 30ms;
        rate_limit_redis_fail closed;
        add_header X-Zones $rate_limit_zones always;
        alias html/ok.txt;
    }
--- request
GET /t?k=13
--- error_code: 503
--- response_headers
X-Zones: m:UNAVAILABLE:redis_failed



=== TEST 14: two Redis servers: each decides its own limits, the one down is flagged
# whichever is named first; the one that answers has the buckets
--- http_config
    rate_limit_zone $arg_k zone=r:1m rate=1r/m
                    redis=127.0.0.1:$TEST_NGINX_REDIS_PORT;
    rate_limit_zone $arg_k zone=d:1m rate=1r/m
                    redis=127.0.0.1:$TEST_NGINX_DEAD_PORT;
    rate_limit_redis_timeout 2s;    # valgrind is slow
--- config
    location = /up {
        rate_limit zone=r;
        rate_limit zone=d;
        add_header X-Zones $rate_limit_zones always;
        alias html/ok.txt;
    }
    location = /down {
        rate_limit zone=d;
        rate_limit zone=r;
        add_header X-Zones $rate_limit_zones always;
        alias html/ok.txt;
    }
--- init
my @up = GwHttp::http_get('/up?k=14');
Test::More::is("$up[0] $up[1]{'x-zones'}", '200 r:PASSED, d:PASSED:redis_failed',
               'r first');
my @down = GwHttp::http_get('/down?k=14b');
Test::More::is("$down[0] $down[1]{'x-zones'}",
               '200 d:PASSED:redis_failed, r:PASSED', 'r second');
Test::More::is(GwRedis::command('EXISTS', 'rate_limit:r:14'), ':1',
               'r first: in Redis');
Test::More::is(GwRedis::command('EXISTS', 'rate_limit:r:14b'), ':1',
               'r second: in Redis');
--- request
GET /down?k=14b
--- error_code: 429
--- response_headers
X-Zones: d:REJECTED:redis_failed, r:REJECTED
