# rate_limit with its zone in Redis, and a Redis connection that is reset
# (an RST: a failover, a restart, a middlebox) at the worst moments: as a
# request's call is written, on connect, on a call, half-way through a
# reply, with other calls queued, with two zones on the connection.
# Every request gets its decision exactly once, from the local zone under
# "rate_limit_redis_fail open", 503 under "closed", and the outage is one
# error line.  The Redis is GwRedis's fake one.

use lib 't/helpers';
use GwRedis;
use GwHttp ();
use Test::Nginx::Socket 'no_plan';

GwRedis::start_fake();

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('user_files', ">>> ok.txt\nok\n>>> fb.txt\nfallback\n")
        unless defined $block->user_files;

    # a bucket of three tokens; a slow valgrind run must not be taken for
    # a Redis outage

    $block->set_value('http_config', <<'CONF')
    rate_limit_zone $arg_k zone=f:1m rate=10r/m burst=2
                    redis=127.0.0.1:$TEST_NGINX_REDIS_FAKE_PORT;
    rate_limit_redis_timeout 5s;
CONF
        unless defined $block->http_config;

    # the outage is logged once, whatever the connection said first

    $block->set_value('grep_error_log',
        qr/rate_limit: redis "[^"]+" [^;]+; retrying with backoff/)
        unless defined $block->grep_error_log;
    $block->set_value('grep_error_log_out',
        qr/\Arate_limit: redis "127\.0\.0\.1:\d+" (?:cannot send|cannot read|connection closed); retrying with backoff\n\z/)
        unless defined $block->grep_error_log_out;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: a reset as a request's call is written, fail open: the local zone decides, once
--- config
    location = /t {
        rate_limit zone=f;
        add_header X-Zones $rate_limit_zones always;
        alias html/ok.txt;
    }
--- init
GwRedis::fake('MODE', 'answer');
my @a = GwHttp::http_get('/t?k=a');
Test::More::is("$a[0] $a[1]{'x-zones'}", '200 f:PASSED', 'Redis answers');
my @r = GwRedis::get_at_reset('/t?k=b');
Test::More::is($r[0], 200, 'answered after the reset');
Test::More::is($r[1]{'ratelimit-remaining'}, 2, 'by the local bucket');
Test::More::is($r[1]{'x-zones'}, 'f:PASSED:redis_failed', 'Redis failed');
GwRedis::fake('MODE', 'accept');
--- request
GET /t?k=b
--- response_headers
RateLimit-Remaining: 1
X-Zones: f:PASSED:redis_failed



=== TEST 2: a reset as a request's call is written, fail closed: 503
--- config
    location = /t {
        rate_limit zone=f;
        rate_limit_redis_fail closed;
        add_header X-Zones $rate_limit_zones always;
        alias html/ok.txt;
    }
--- init
GwRedis::fake('MODE', 'answer');
Test::More::is(GwHttp::http_get('/t?k=a'), 200, 'Redis answers');
my @r = GwRedis::get_at_reset('/t?k=b');
Test::More::is($r[0], 503, 'answered after the reset');
Test::More::is($r[1]{'x-zones'}, 'f:UNAVAILABLE:redis_failed', 'no verdict');
GwRedis::fake('MODE', 'accept');
--- request
GET /t?k=b
--- error_code: 503
--- response_headers
X-Zones: f:UNAVAILABLE:redis_failed



=== TEST 3: proxy_pass and error_page 502 to a limited location, at the reset: the fallback answers
# the upstream drops the connection: 502 later, from the upstream's events
--- config
    location = /p {
        rate_limit zone=f;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/drop;
        error_page 502 = /fb;
    }
    location = /fb {
        rate_limit zone=f;
        add_header X-Zones $rate_limit_zones always;
        alias html/fb.txt;
    }
    location = /drop {
        return 444;
    }
--- init
GwRedis::fake('MODE', 'answer');
Test::More::is(GwHttp::http_get('/p?k=a'), 200, 'Redis answers');
my @r = GwRedis::get_at_reset('/p?k=b');
Test::More::is($r[0], 200, 'answered after the reset');
Test::More::is($r[2], "fallback\n", 'by the fallback');
Test::More::is($r[1]{'ratelimit-remaining'}, 2, 'counted once, locally');
GwRedis::fake('MODE', 'accept');
--- request
GET /p?k=b
--- response_body
fallback
--- response_headers
RateLimit-Remaining: 1
X-Zones: f:PASSED:redis_failed



=== TEST 4: the same with an upstream refused at once: 502 before the phase handler returns
--- config
    location = /p {
        rate_limit zone=f;
        proxy_pass http://unix:$TEST_NGINX_CLOSED_SOCKET;
        error_page 502 = /fb;
    }
    location = /fb {
        rate_limit zone=f;
        add_header X-Zones $rate_limit_zones always;
        alias html/fb.txt;
    }
--- init
GwRedis::fake('MODE', 'answer');
Test::More::is(GwHttp::http_get('/p?k=a'), 200, 'Redis answers');
my @r = GwRedis::get_at_reset('/p?k=b');
Test::More::is("$r[0] $r[2]", "200 fallback\n", 'the fallback answers');
Test::More::is($r[1]{'x-zones'}, 'f:PASSED:redis_failed', 'Redis failed');
GwRedis::fake('MODE', 'accept');
--- request
GET /p?k=b
--- response_body
fallback
--- response_headers
RateLimit-Remaining: 1



=== TEST 5: the same, fail closed: 503, and the upstream is never asked
--- config
    location = /t {
        rate_limit zone=f;
        alias html/ok.txt;
    }
    location = /p {
        rate_limit zone=f;
        rate_limit_redis_fail closed;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/drop;
        error_page 502 = /fb;
    }
    location = /fb {
        alias html/fb.txt;
    }
    location = /drop {
        return 444;
    }
--- init
GwRedis::fake('MODE', 'answer');
Test::More::is(GwHttp::http_get('/t?k=a'), 200, 'Redis answers');
my @r = GwRedis::get_at_reset('/p?k=b');
Test::More::is($r[0], 503, 'answered after the reset');
GwRedis::fake('MODE', 'accept');
--- request
GET /p?k=b
--- error_code: 503
--- no_error_log
upstream



=== TEST 6: calls queued behind the one written at the reset: all fail over, each once
--- config
    location = /t {
        rate_limit zone=f;
        rate_limit_log_level info;
        alias html/ok.txt;
    }
--- init
GwRedis::fake('MODE', 'answer');
Test::More::is(GwHttp::http_get('/t?k=a'), 200, 'Redis answers');
GwRedis::fake('MODE', 'mute');
my $calls = GwRedis::fake('CALLS');
my @queued = map { GwRedis::send_get('/t?k=q') } 1 .. 2;
Time::HiRes::sleep($ENV{TEST_NGINX_USE_VALGRIND} ? 1 : 0.2);
Test::More::is(GwRedis::fake('CALLS'), ':' . (substr($calls, 1) + 2),
               'two calls wait for an answer');
my @r = GwRedis::get_at_reset('/t?k=q');
my @q = map { [GwRedis::read_response($_, GwRedis::wait_time())] } @queued;
Test::More::is(join(' ', sort map { $_->[0] } @q, \@r), '200 200 200',
               'all three answered');
Test::More::is(join(' ', sort map { $_->[1]{'ratelimit-remaining'} } @q, \@r),
               '0 1 2', 'by the local bucket, one token each');
GwRedis::fake('MODE', 'accept');
--- request
GET /t?k=q
--- error_code: 429



=== TEST 7: two zones on one Redis connection, a call queued for each location: all fail over
--- http_config
    rate_limit_zone $arg_k zone=f:1m rate=10r/m burst=2
                    redis=127.0.0.1:$TEST_NGINX_REDIS_FAKE_PORT;
    rate_limit_zone $arg_u zone=g:1m rate=10r/m burst=5
                    redis=127.0.0.1:$TEST_NGINX_REDIS_FAKE_PORT;
    rate_limit_redis_timeout 5s;
--- config
    location = /g {
        rate_limit zone=g;
        add_header X-Zones $rate_limit_zones always;
        alias html/ok.txt;
    }
    location = /two {
        rate_limit zone=f;
        rate_limit zone=g;
        add_header X-Zones $rate_limit_zones always;
        alias html/ok.txt;
    }
--- init
GwRedis::fake('MODE', 'answer');
my @a = GwHttp::http_get('/two?k=a&u=a');
Test::More::is("$a[0] $a[1]{'x-zones'}", '200 f:PASSED, g:PASSED',
               'one call, both zones');
GwRedis::fake('MODE', 'mute');
my $g = GwRedis::send_get('/g?u=b');
Time::HiRes::sleep($ENV{TEST_NGINX_USE_VALGRIND} ? 1 : 0.2);
my @r = GwRedis::get_at_reset('/two?k=b&u=b');
my @q = GwRedis::read_response($g, GwRedis::wait_time());
Test::More::is("$q[0] $q[1]{'x-zones'}", '200 g:PASSED:redis_failed', '/g');
Test::More::is("$r[0] $r[1]{'x-zones'}",
               '200 f:PASSED:redis_failed, g:PASSED:redis_failed', '/two');
Test::More::is(join(' ', sort map { $_->[1]{'ratelimit-remaining'} } \@q, \@r),
               '2 5', 'each charged the local buckets once');
GwRedis::fake('MODE', 'accept');
--- request
GET /two?k=b&u=b
--- response_headers
RateLimit-Remaining: 1
X-Zones: f:PASSED:redis_failed, g:PASSED:redis_failed



=== TEST 8: a reset as the connection is accepted, fail open
--- config
    location = /t {
        rate_limit zone=f;
        add_header X-Zones $rate_limit_zones always;
        alias html/ok.txt;
    }
--- init
GwRedis::fake('MODE', 'accept');
--- request
GET /t?k=c
--- response_headers
RateLimit-Remaining: 2
X-Zones: f:PASSED:redis_failed
--- grep_error_log_out eval
qr/\Arate_limit: redis "127\.0\.0\.1:\d+" (?:cannot connect|cannot send|cannot read|connection closed); retrying with backoff\n\z/



=== TEST 9: a reset as the connection is accepted, fail closed
--- config
    location = /t {
        rate_limit zone=f;
        rate_limit_redis_fail closed;
        alias html/ok.txt;
    }
--- init
GwRedis::fake('MODE', 'accept');
--- request
GET /t?k=c
--- error_code: 503
--- grep_error_log_out eval
qr/\Arate_limit: redis "127\.0\.0\.1:\d+" (?:cannot connect|cannot send|cannot read|connection closed); retrying with backoff\n\z/



=== TEST 10: a reset as the call arrives, fail open
--- config
    location = /t {
        rate_limit zone=f;
        add_header X-Zones $rate_limit_zones always;
        alias html/ok.txt;
    }
--- init
GwRedis::fake('MODE', 'reset');
--- request
GET /t?k=c
--- response_headers
RateLimit-Remaining: 2
X-Zones: f:PASSED:redis_failed



=== TEST 11: a reset half-way through the reply, fail closed
--- config
    location = /t {
        rate_limit zone=f;
        rate_limit_redis_fail closed;
        alias html/ok.txt;
    }
--- init
GwRedis::fake('MODE', 'half');
--- request
GET /t?k=c
--- error_code: 503



=== TEST 12: a reset half-way through the reply, with a call queued behind it, fail open
--- config
    location = /t {
        rate_limit zone=f;
        alias html/ok.txt;
    }
--- init
GwRedis::fake('MODE', 'half');
my @s = map { scalar GwRedis::read_response($_, GwRedis::wait_time()) }
        map { GwRedis::send_get('/t?k=h') } 1 .. 2;
Test::More::is("@s", '200 200', 'both answered');
--- request
GET /t?k=h
--- response_headers
RateLimit-Remaining: 0
