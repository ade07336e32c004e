# Rejections that cost Redis nothing: once Redis answers that a key is
# rejected, its zone (shared memory, every worker) rejects it until the
# time Redis gave, with the same headers, without asking Redis again; then
# Redis decides again.  Exact: a request that Redis would let in (a
# smaller cost, a larger burst) still goes to Redis; what is remembered is
# a bound that other nginx instances can only push later.  Redis's calls
# are counted in its INFO commandstats.  Needs redis-server.
#
# Two workers share the zone; under valgrind the runner starts nginx
# without a master process, and the block that needs both is skipped.

use lib 't/helpers';
use GwRedis;
use GwHttp ();
use Test::Nginx::Socket 'no_plan';

master_on();
workers(2);
worker_connections(1024);

# the script calls Redis has run (EVALSHA, and EVAL after a NOSCRIPT)
sub calls {
    my $info = GwRedis::cli($GwRedis::PORT, [], 'INFO', 'commandstats');
    my $n = 0;
    $n += $1 while $info =~ /^cmdstat_eval(?:sha)?:calls=(\d+)/mg;
    return $n;
}

# the statuses of GETs of @uris, one after the other
sub statuses {
    return join ' ', map { scalar GwHttp::http_get($_) } @_;
}

# a 429 answered here has Redis's headers and body; the times to wait can
# only have gone down since, by a second at most in a test
sub same_answer {
    my ($here, $redis, $what) = @_;
    my %skip = map { $_ => 1 } qw(date x-pid retry-after ratelimit-reset);
    my @names = sort grep { !$skip{$_} } keys %{ $redis->[1] };
    Test::More::is(join(',', sort grep { !$skip{$_} } keys %{ $here->[1] }),
                   join(',', @names), "$what: the same headers");
    Test::More::is($here->[1]{$_}, $redis->[1]{$_}, "$what: $_ as Redis said")
        for @names;
    Test::More::is($here->[2], $redis->[2], "$what: the same body");
    for my $h ('retry-after', 'ratelimit-reset') {
        my $d = $redis->[1]{$h} - $here->[1]{$h};
        Test::More::ok($d == 0 || $d == 1,
                       "$what: $h $here->[1]{$h} as Redis's $redis->[1]{$h}");
    }
}

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('user_files', ">>> ok.txt\nok\n")
        unless defined $block->user_files;

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

=== TEST 1: rejected by Redis, then here: the same answer, no call to Redis
--- config
    location = /t {
        rate_limit zone=r;
        rate_limit_log_level info;
        add_header X-Zones $rate_limit_zones always;
        alias html/ok.txt;
    }
--- init
Test::More::is(main::statuses(('/t?k=t1') x 3), '200 200 200', '3 pass');
my $before = main::calls();
my @redis = GwHttp::http_get('/t?k=t1');
Test::More::is($redis[0], 429, 'Redis rejects');
Test::More::is(main::calls(), $before + 1, 'Redis was asked');
$before = main::calls();
my @here = GwHttp::http_get('/t?k=t1');
Test::More::is($here[0], 429, 'rejected here');
Test::More::is(main::calls(), $before, 'Redis was not asked');
main::same_answer(\@here, \@redis, 'here');
--- request
GET /t?k=t1
--- error_code: 429
--- response_headers
RateLimit-Limit: 3
RateLimit-Remaining: 0
X-Zones: r:REJECTED
--- response_headers_like
Retry-After: [56]
--- error_log
rate_limit: rejected by zone "r", retry after
--- no_error_log
redis



=== TEST 2: two workers: no call reaches Redis until the time it gave, then Redis decides again
--- skip_eval: 1: $ENV{TEST_NGINX_USE_VALGRIND}
--- http_config
    rate_limit_zone $arg_k zone=r:1m rate=20r/m
                    redis=127.0.0.1:$TEST_NGINX_REDIS_PORT;
    rate_limit_redis_timeout 2s;

    # a reuseport listener: the kernel spreads the connections over both
    # workers
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1 reuseport;
        server_name backend;

        location = /t {
            rate_limit zone=r;
            rate_limit_log_level info;
            add_header X-Pid $pid always;
            alias html/ok.txt;
        }
    }
--- config
    location = /t {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- init
# one token every 3 s: the first passes, Redis rejects the second until
# the first's token is back
Test::More::is(main::statuses('/t?k=w'), '200', 'the token');
my @redis = GwHttp::http_get('/t?k=w');
Test::More::is($redis[0], 429, 'Redis rejects');
my $before = main::calls();
my (@codes, %pids, @other);
for (1 .. 40) {
    my @here = GwHttp::http_get('/t?k=w');
    push @codes, $here[0];
    $pids{$here[1]{'x-pid'}} = 1;
    @other = @here if $here[1]{'x-pid'} ne $redis[1]{'x-pid'};
    last if @other && @codes >= 10;
}
Test::More::is(join(' ', grep { $_ != 429 } @codes), '', 'all rejected');
Test::More::is(scalar keys %pids, 2, 'by both workers');
Test::More::is(main::calls(), $before, 'Redis was not asked');
main::same_answer(\@other, \@redis, 'the other worker');
Time::HiRes::sleep($redis[1]{'retry-after'} + 0.3);
$before = main::calls();
Test::More::is(main::statuses('/t?k=w'), '200', 'admitted by Redis');
Test::More::is(main::calls(), $before + 1, 'Redis was asked');
--- request
GET /t?k=w
--- error_code: 429
--- no_error_log
[error]
[warn]



=== TEST 3: calls resume after the time Redis gave
--- http_config
    rate_limit_zone $arg_k zone=r:1m rate=20r/m
                    redis=127.0.0.1:$TEST_NGINX_REDIS_PORT;
    rate_limit_redis_timeout 2s;
--- config
    location = /t {
        rate_limit zone=r;
        rate_limit_log_level info;
        alias html/ok.txt;
    }
--- init
Test::More::is(main::statuses(('/t?k=t3') x 2), '200 429', 'one in 3 s');
my $before = main::calls();
my @r = GwHttp::http_get('/t?k=t3');
Test::More::is($r[0], 429, 'rejected here');
Test::More::is(main::calls(), $before, 'Redis was not asked');
Time::HiRes::sleep($r[1]{'retry-after'} + 0.3);
$before = main::calls();
Test::More::is(main::statuses('/t?k=t3'), '200', 'admitted by Redis');
Test::More::is(main::calls(), $before + 1, 'Redis was asked');
Test::More::is(main::statuses('/t?k=t3'), '429', 'rejected by Redis');
Test::More::is(main::calls(), $before + 2, 'Redis was asked again');
--- request
GET /t?k=t3
--- error_code: 429



=== TEST 4: exact: a smaller cost that Redis lets in still goes to Redis
--- config
    location = /t {
        rate_limit zone=r cost=$arg_c;
        rate_limit_log_level info;
        alias html/ok.txt;
    }
--- init
Test::More::is(main::statuses('/t?k=t4&c=2', '/t?k=t4&c=2'), '200 429',
               '2 tokens, then 2 of the 1 left');
my $before = main::calls();
Test::More::is(main::statuses('/t?k=t4&c=1'), '200', 'the last token');
Test::More::is(main::calls(), $before + 1, 'from Redis');
Test::More::is(main::statuses('/t?k=t4&c=1'), '429', 'none left, Redis says');
Test::More::is(main::calls(), $before + 2, 'Redis was asked');
$before = main::calls();
Test::More::is(main::statuses('/t?k=t4&c=1'), '429', 'none left, here');
Test::More::is(main::calls(), $before, 'Redis was not asked');
--- request
GET /t?k=t4&c=0
--- error_code: 200
--- response_headers
RateLimit-Remaining: 0



=== TEST 5: exact: a larger burst (a variable) goes to Redis
--- config
    location = /t {
        rate_limit zone=r burst=$arg_b;
        rate_limit_log_level info;
        alias html/ok.txt;
    }
--- init
Test::More::is(main::statuses(('/t?k=t5&b=0') x 2), '200 429', 'burst 0');
my $before = main::calls();
Test::More::is(main::statuses('/t?k=t5&b=0'), '429', 'rejected here');
Test::More::is(main::calls(), $before, 'not in Redis');
--- request
GET /t?k=t5&b=1
--- error_code: 200
--- response_headers
RateLimit-Remaining: 0



=== TEST 6: what is remembered is a bound: a bucket emptied in Redis meanwhile is still rejected here until then
--- config
    location = /t {
        rate_limit zone=r;
        rate_limit_log_level info;
        alias html/ok.txt;
    }
--- init
Test::More::is(main::statuses(('/t?k=t6') x 4), '200 200 200 429',
               'rejected');
GwRedis::command('DEL', 'rate_limit:r:t6');
my $before = main::calls();
Test::More::is(main::statuses('/t?k=t6'), '429', 'still rejected here');
Test::More::is(main::calls(), $before, 'Redis was not asked');
--- request
GET /t?k=t6
--- error_code: 429
--- response_headers_like
Retry-After: [56]



=== TEST 7: two limits: one rejected here, the other is neither charged nor asked
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
        add_header X-Zones $rate_limit_zones always;
        alias html/ok.txt;
    }
--- init
Test::More::is(main::statuses('/t?k=t7&u=t7', '/t?k=t7&u=t7'), '200 429',
               'a rejects the second');
my $before = main::calls();
my ($had) = GwRedis::command('GET', 'rate_limit:b:t7') =~ /(\d+)/;
Test::More::is(main::statuses(('/t?k=t7&u=t7') x 3), '429 429 429',
               'rejected here');
Test::More::is(main::calls(), $before, 'Redis was not asked');
my ($tat) = GwRedis::command('GET', 'rate_limit:b:t7') =~ /(\d+)/;
Test::More::is($tat, $had, 'b was not charged');
--- request
GET /t?k=t7&u=t7
--- error_code: 429
--- response_headers
X-Zones: a:REJECTED, b:PASSED



=== TEST 8: a dry-run limit rejected by Redis still goes to Redis (it rejects nothing)
--- config
    location = /t {
        rate_limit zone=r dry_run;
        rate_limit_log_level info;
        add_header X-Zones $rate_limit_zones always;
        alias html/ok.txt;
    }
--- init
Test::More::is(main::statuses(('/t?k=t8') x 4), '200 200 200 200', 'dry run');
my $before = main::calls();
Test::More::is(main::statuses('/t?k=t8'), '200', 'passes');
Test::More::is(main::calls(), $before + 1, 'from Redis');
--- request
GET /t?k=t8
--- error_code: 200
--- response_headers
X-Zones: r:REJECTED_DRY_RUN



=== TEST 9: the zone's memory bounds what is remembered: the least recently used goes, and Redis is asked again
--- http_config
    rate_limit_zone $arg_k zone=r:32k rate=1r/d
                    redis=127.0.0.1:$TEST_NGINX_REDIS_PORT;
    rate_limit_redis_timeout 2s;
--- config
    location = /t {
        rate_limit zone=r;
        rate_limit_log_level info;
        alias html/ok.txt;
    }
--- init
Test::More::is(main::statuses(('/t?k=first') x 2), '200 429', 'rejected');
my $before = main::calls();
Test::More::is(main::statuses('/t?k=first'), '429', 'here');
Test::More::is(main::calls(), $before, 'Redis was not asked');
# more keys rejected than a 32k zone holds
for my $i (1 .. 400) {
    GwHttp::http_get("/t?k=k$i") for 1 .. 2;
}
$before = main::calls();
Test::More::is(main::statuses('/t?k=first'), '429', 'rejected by Redis');
Test::More::is(main::calls(), $before + 1, 'Redis was asked again');
--- request
GET /t?k=k400
--- error_code: 429
--- no_error_log
[warn]



=== TEST 10: Redis down: a key it rejected is still rejected, unflagged; another key is decided here
--- config
    location = /t {
        rate_limit zone=r;
        rate_limit_log_level info;
        add_header X-Zones $rate_limit_zones always;
        alias html/ok.txt;
    }
--- init
Test::More::is(main::statuses(('/t?k=t10') x 4), '200 200 200 429',
               'rejected by Redis');
GwRedis::stop();
my @other = GwHttp::http_get('/t?k=other');
Test::More::is("$other[0] $other[1]{'x-zones'}", '200 r:PASSED:redis_failed',
               'another key, fail open');
--- request
GET /t?k=t10
--- error_code: 429
--- response_headers
X-Zones: r:REJECTED
--- response_headers_like
Retry-After: [56]
--- no_error_log
[crit]
