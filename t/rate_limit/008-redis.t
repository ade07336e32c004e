# rate_limit with its zone in Redis: the same decisions and headers as
# the local mode, one limit across two nginx instances, exact counts under
# concurrency, and what happens when Redis stops, comes back, forgets its
# scripts, or accepts and never answers.  Needs redis-server.

use lib 't/helpers';
use GwRedis;
use GwHttp ();
use Test::Nginx::Socket 'no_plan';

worker_connections(1024);

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('user_files', ">>> ok.txt\nok\n")
        unless defined $block->user_files;

    # a zone of three tokens in the file's own Redis; a slow valgrind run
    # must not be taken for a Redis outage

    $block->set_value('http_config', <<'CONF')
    rate_limit_zone $arg_k zone=r:1m rate=10r/m burst=2
                    redis=127.0.0.1:$TEST_NGINX_REDIS_PORT;
    rate_limit_redis_timeout 2s;
CONF
        unless defined $block->http_config;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: a bucket in Redis: headers and variables as in the local mode
--- config
    location = /t {
        rate_limit zone=r;
        add_header X-Status $rate_limit_status always;
        add_header X-Remaining $rate_limit_remaining always;
        alias html/ok.txt;
    }
--- init
my @r = map { [GwHttp::http_get('/t?k=t1')] } 1 .. 3;
Test::More::is(join(' ', map { $_->[0] } @r), '200 200 200', '3 pass');
Test::More::is(join(' ', map { $_->[1]{'ratelimit-remaining'} } @r),
               '2 1 0', 'remaining 2 1 0');
Test::More::is($r[0][1]{'ratelimit-limit'}, 3, 'limit 3');
Test::More::is($r[0][1]{'x-remaining'}, 2, '$rate_limit_remaining');
Test::More::like(GwRedis::command('PTTL', 'rate_limit:r:t1'), qr/^:1[78]\d{3}$/,
                 'the key expires when the bucket is full again');
--- request
GET /t?k=t1
--- error_code: 429
--- response_headers
RateLimit-Limit: 3
RateLimit-Remaining: 0
Retry-After: 6
X-Status: REJECTED
--- error_log
rate_limit: rejected by zone "r", retry after
--- no_error_log
redis



=== TEST 2: 50 requests at once on one key: exactly burst + 1 pass
--- http_config
    rate_limit_zone $arg_k zone=r:1m rate=10r/m burst=9
                    redis=127.0.0.1:$TEST_NGINX_REDIS_PORT;
    rate_limit_redis_timeout 2s;    # valgrind is slow
--- config
    location = /t {
        rate_limit zone=r;
        rate_limit_log_level info;
        alias html/ok.txt;
    }
--- init
my %n;
$n{$_->[0]}++ for GwHttp::http_get_parallel(('/t?k=t2') x 50);
Test::More::is($n{200}, 10, '10 admitted');
Test::More::is($n{429}, 40, '40 rejected');
--- request
GET /t?k=t2
--- error_code: 429
--- no_error_log
[error]



=== TEST 3: two nginx instances, one Redis: 10 of 30 requests pass
--- http_config
    rate_limit_zone $arg_k zone=r:1m rate=10r/m burst=9
                    redis=127.0.0.1:$TEST_NGINX_REDIS_PORT;
    rate_limit_redis_timeout 2s;    # valgrind is slow
--- config
    location = /t {
        rate_limit zone=r;
        rate_limit_log_level info;
        alias html/ok.txt;
    }
--- init
my $port = GwHttp::free_ports();
GwRedis::start_nginx($port, <<"CONF");
    rate_limit_zone \$arg_k zone=r:1m rate=10r/m burst=9
                    redis=127.0.0.1:$GwRedis::PORT;
    rate_limit_redis_timeout 2s;
    server {
        listen 127.0.0.1:$port;
        location = /t { rate_limit zone=r; alias \@DIR\@/ok.txt; }
    }
CONF
my ($here, $there) = (0, 0);
for my $i (1 .. 15) {
    $here++ if GwHttp::http_get('/t?k=t3') == 200;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port") or die;
    print $s "GET /t?k=t3 HTTP/1.0\r\nHost: x\r\n\r\n";
    $there++ if <$s> =~ m{^HTTP/1\.\d 200};
}
GwRedis::stop_nginx();
Test::More::is($here + $there, 10, '10 of 30 passed over both');
Test::More::ok($here > 0 && $there > 0, "both admitted some ($here, $there)");
--- request
GET /t?k=t3
--- error_code: 429
--- no_error_log
[error]



=== TEST 4: Redis stops: fail open decides with the local zone, one log line
--- config
    location = /t {
        rate_limit zone=r;
        rate_limit_log_level info;
        alias html/ok.txt;
    }
--- init
Test::More::is(GwHttp::http_get('/t?k=t4'), 200, 'with Redis');
GwRedis::stop();
my @s = map { scalar GwHttp::http_get('/t?k=t4') } 1 .. 4;
Test::More::is("@s", '200 200 200 429', 'the local bucket, full at first');
--- request
GET /t?k=t4
--- error_code: 429
--- error_log eval
qr/rate_limit: redis "127\.0\.0\.1:\d+" (connection closed|cannot read|cannot connect); retrying with backoff/



=== TEST 5: Redis down and rate_limit_redis_fail closed: 503
--- config
    location = /t {
        rate_limit zone=r;
        rate_limit_redis_fail closed;
        alias html/ok.txt;
    }
--- request
GET /t?k=t5
--- error_code: 503
--- error_log eval
qr/rate_limit: redis "127\.0\.0\.1:\d+" (cannot connect|cannot read|cannot send|connection closed); retrying with backoff/



=== TEST 6: Redis started again: the next request after the backoff uses it
--- config
    location = /t {
        rate_limit zone=r;
        rate_limit_redis_fail closed;
        alias html/ok.txt;
    }
--- init
Test::More::is(GwHttp::http_get('/t?k=t6'), 503, 'down');
GwRedis::start();
Time::HiRes::sleep(0.3);
--- request
GET /t?k=t6
--- error_code: 200
--- error_log eval
qr/rate_limit: redis "127\.0\.0\.1:\d+" answers again/



=== TEST 7: SCRIPT FLUSH: the script is sent again, the bucket is kept
--- config
    location = /t {
        rate_limit zone=r;
        alias html/ok.txt;
    }
--- init
Test::More::is(GwHttp::http_get('/t?k=t7'), 200, 'first');
Test::More::is(GwRedis::command('SCRIPT', 'FLUSH'), '+OK', 'flushed');
--- request
GET /t?k=t7
--- error_code: 200
--- response_headers
RateLimit-Remaining: 1
--- no_error_log
[error]



=== TEST 8: a Redis that accepts and never answers: the timeout, then the local zone
--- http_config
    rate_limit_zone $arg_k zone=r:1m rate=10r/m burst=2
                    redis=127.0.0.1:$TEST_NGINX_REDIS_MUTE_PORT;
--- config
    location = /t {
        rate_limit zone=r;
        rate_limit_redis_timeout 50ms;
        add_header X-Time $request_time;
        alias html/ok.txt;
    }
--- request
GET /t?k=t8
--- error_code: 200
--- response_headers_like
X-Time: 0\.0[5-9]\d
--- response_headers
RateLimit-Remaining: 2
--- error_log eval
qr/rate_limit: redis "127\.0\.0\.1:\d+" timed out(?: connecting)?; retrying with backoff/



=== TEST 9: a Redis that never answers, with fail closed: 503 after the timeout
--- http_config
    rate_limit_zone $arg_k zone=r:1m rate=10r/m burst=2
                    redis=127.0.0.1:$TEST_NGINX_REDIS_MUTE_PORT;
--- config
    location = /t {
        rate_limit zone=r;
        rate_limit_redis_timeout 30ms;
        rate_limit_redis_fail closed;
        alias html/ok.txt;
    }
--- request
GET /t?k=t9
--- error_code: 503



=== TEST 10: redis_prefix names the keys
--- http_config
    rate_limit_zone $arg_k zone=r:1m rate=10r/m redis_prefix=gw1:
                    redis=127.0.0.1:$TEST_NGINX_REDIS_PORT;
    rate_limit_redis_timeout 2s;
--- config
    location = /t {
        rate_limit zone=r;
        alias html/ok.txt;
    }
--- init
Test::More::is(GwHttp::http_get('/t?k=t10'), 200, 'passed');
Test::More::like(GwRedis::command('EXISTS', 'gw1:r:t10'), qr/^:1$/,
                 'the key has the prefix');
--- request
GET /t?k=t10
--- error_code: 429
--- error_log
rejected by zone "r"



=== TEST 11: Redis on a unix socket
--- http_config
    rate_limit_zone $arg_k zone=r:1m rate=10r/m burst=1
                    redis=unix:$TEST_NGINX_REDIS_SOCKET;
    rate_limit_redis_timeout 2s;
--- config
    location = /t {
        rate_limit zone=r;
        alias html/ok.txt;
    }
--- init
Test::More::is(GwHttp::http_get('/t?k=t11'), 200, 'passed');
Test::More::like(GwRedis::command('EXISTS', 'rate_limit:r:t11'), qr/^:1$/,
                 'the bucket is in Redis');
--- request
GET /t?k=t11
--- error_code: 200
--- response_headers
RateLimit-Remaining: 0
--- no_error_log
[error]



=== TEST 12: two zones on one Redis: one call decides both, a rejection charges neither
--- http_config
    rate_limit_zone $arg_k zone=a:1m rate=10r/m
                    redis=127.0.0.1:$TEST_NGINX_REDIS_PORT;
    rate_limit_zone $arg_u zone=b:1m rate=10r/m burst=5
                    redis=127.0.0.1:$TEST_NGINX_REDIS_PORT;
    rate_limit_redis_timeout 2s;
--- config
    location = /t {
        rate_limit zone=a;
        rate_limit zone=b;
        rate_limit_log_level info;
        alias html/ok.txt;
    }
--- init
Test::More::is(GwHttp::http_get('/t?k=t12&u=t12'), 200, 'passed');
Test::More::is(GwRedis::command('EXISTS', 'rate_limit:a:t12'), ':1', 'a');
Test::More::is(GwRedis::command('EXISTS', 'rate_limit:b:t12'), ':1', 'b');
Test::More::is(GwHttp::http_get('/t?k=t12&u=t12'), 429, 'a rejects');
my ($ttl) = GwRedis::command('PTTL', 'rate_limit:b:t12') =~ /^:(\d+)$/;
Test::More::cmp_ok($ttl, '<=', 6000, 'b was not charged by the rejection');
--- request
GET /t?k=other&u=t12
--- error_code: 200
--- response_headers
RateLimit-Remaining: 0
--- no_error_log
[error]



=== TEST 13: an invalid Redis address
--- http_config
    rate_limit_zone $arg_k zone=r:1m rate=10r/m redis=127.0.0.1:99999;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid redis address "127\.0\.0\.1:99999": invalid port/



=== TEST 14: redis_prefix without redis
--- http_config
    rate_limit_zone $arg_k zone=r:1m rate=10r/m redis_prefix=x:;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*"rate_limit_zone" directive has "redis_prefix=" without "redis="/



=== TEST 15: an unknown rate_limit_redis_fail
--- config
    rate_limit_redis_fail sometimes;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "sometimes" in \S+nginx\.conf:\d+/



=== TEST 16: values never exceed the limit in effect: a bucket in Redis filled under burst=20, then burst=2
# as in the local mode (002-headers.t): 126 s of fill, 3 tokens and 18 s
# under burst=2; a cost of 0 passes; burst=20 again finds the bucket as it was
--- config
    location = /t {
        rate_limit zone=r burst=$arg_b cost=$arg_c;
        add_header X-Vars "$rate_limit_remaining $rate_limit_reset" always;
        alias html/ok.txt;
    }
    location = /d {
        rate_limit zone=r burst=$arg_b cost=$arg_c;
        rate_limit_headers draft;
        alias html/ok.txt;
    }
--- init
my @s = map { scalar GwHttp::http_get('/t?k=t16&b=20') } 1 .. 21;
Test::More::is("@s", join(' ', (200) x 21), 'burst=20: 21 pass');
--- request eval
["GET /t?k=t16&b=2", "GET /d?k=t16&b=2", "GET /t?k=t16&b=2&c=0",
 "GET /t?k=t16&b=20"]
--- error_code eval
[429, 429, 200, 429]
--- response_headers eval
["RateLimit-Limit: 3\nRateLimit-Remaining: 0\nRateLimit-Reset: 18\n"
 . "Retry-After: 18\nX-Vars: 0 18",
 qq{RateLimit-Policy: "r";q=3;w=18\nRateLimit: "r";r=0;t=18\nRetry-After: 18},
 "RateLimit-Remaining: 0\nRateLimit-Reset: 18\n!Retry-After\nX-Vars: 0 18",
 "RateLimit-Limit: 21\nRateLimit-Remaining: 0"]
--- response_headers_like eval
[("") x 3, "RateLimit-Reset: 12\\d\nRetry-After: [1-6]"]
--- no_error_log
redis



=== TEST 17: values never exceed the limit in effect: a cost larger than the bucket in Redis, a cost of 0
--- config
    location = /t {
        rate_limit zone=r cost=$arg_c;
        alias html/ok.txt;
    }
--- request eval
["GET /t?k=t17&c=7", "GET /t?k=t17&c=4", "GET /t?k=t17&c=0",
 "GET /t?k=t17&c=3", "GET /t?k=t17&c=0"]
--- error_code eval
[429, 429, 200, 200, 200]
--- response_headers eval
["RateLimit-Limit: 3\nRateLimit-Remaining: 3\nRateLimit-Reset: 0\n"
 . "Retry-After: 18",
 "RateLimit-Remaining: 3\nRateLimit-Reset: 0\nRetry-After: 6",
 "RateLimit-Remaining: 3\nRateLimit-Reset: 0\n!Retry-After",
 "RateLimit-Remaining: 0\nRateLimit-Reset: 18\n!Retry-After",
 "RateLimit-Remaining: 0\nRateLimit-Reset: 18\n!Retry-After"]
--- no_error_log
redis
