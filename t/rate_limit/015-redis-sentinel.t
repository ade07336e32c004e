# rate_limit with its zone on the primary that Sentinel names:
# redis-sentinel:// with one primary (a password), one replica and three
# sentinels, all started here.  The sentinels are asked for the primary,
# the next one when one is down; ROLE keeps every call off a replica; a
# name no sentinel knows is an outage like any other (one line, fail open
# or closed); two nginx hold one limit exactly; and when the primary is
# SIGKILLed the sentinels fail over and both nginx follow them to the new
# primary, where the limit goes on where it was.  Needs redis-server and
# redis-sentinel.

use lib 't/helpers';
use GwRedis;
use GwHttp ();
use Test::Nginx::Socket 'no_plan';

my ($primary, $replica, @sentinels)
    = GwRedis::sentinels(password => 'Sentinel-pw');

$ENV{TEST_NGINX_PRIMARY_PORT} = $primary;
$ENV{TEST_NGINX_REPLICA_PORT} = $replica;
$ENV{TEST_NGINX_SENTINELS} = join ',', map { "127.0.0.1:$_" } @sentinels;
$ENV{TEST_NGINX_DEAD_PORT} = GwHttp::free_ports();
GwRedis::fake_sentinel($replica);

sub on { GwRedis::cli(shift, ['-a', 'Sentinel-pw'], @_) }

# a second nginx on the same deployment, with the blocks' zone: its port
sub second {
    my $port = GwHttp::free_ports();
    GwRedis::start_nginx($port, <<"CONF");
    rate_limit_zone \$arg_k zone=s:1m rate=10r/h burst=9
                    redis=redis-sentinel://:Sentinel-pw\@$ENV{TEST_NGINX_SENTINELS}/mymaster;
    rate_limit_redis_timeout 2s;
    rate_limit_redis_fail closed;
    server {
        listen 127.0.0.1:$port;
        location = /t { rate_limit zone=s; alias \@DIR\@/ok.txt; }
    }
CONF
    return $port;
}

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('user_files', ">>> ok.txt\nok\n")
        unless defined $block->user_files;

    # the password is in no log line, whatever the block does
    $block->set_value('no_error_log', "Sentinel-pw\n")
        unless defined $block->no_error_log;
});

# a line said once in a block's requests is found after each
check_accum_error_log();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: the primary the sentinels name, with AUTH: the bucket is there
--- http_config
    rate_limit_zone $arg_k zone=s:1m rate=10r/h burst=2
                    redis=redis-sentinel://:Sentinel-pw@$TEST_NGINX_SENTINELS/mymaster;
    rate_limit_redis_timeout 2s;
    rate_limit_redis_fail closed;
--- config
    location = /t {
        rate_limit zone=s;
        rate_limit_log_level info;
        alias html/ok.txt;
    }
--- init
my @s = map { scalar GwHttp::http_get('/t?k=t1') } 1 .. 3;
Test::More::is("@s", '200 200 200', '3 pass');
Test::More::is(main::on($ENV{TEST_NGINX_PRIMARY_PORT},
                        'EXISTS', 'rate_limit:s:t1'),
               '1', 'the bucket is on the primary');
--- request
GET /t?k=t1
--- error_code: 429
--- response_headers
RateLimit-Remaining: 0
--- error_log eval
qr/\[info\] .*rate_limit: redis "redis-sentinel:\/\/127\.0\.0\.1:\d+,[^"]+\/mymaster" primary is 127\.0\.0\.1:$ENV{TEST_NGINX_PRIMARY_PORT}\b/
--- no_error_log
[error]
Sentinel-pw



=== TEST 2: the first sentinel is down: the next one names the primary
--- http_config
    rate_limit_zone $arg_k zone=s:1m rate=10r/h burst=1
                    redis=redis-sentinel://:Sentinel-pw@127.0.0.1:$TEST_NGINX_DEAD_PORT,$TEST_NGINX_SENTINELS/mymaster;
    rate_limit_redis_timeout 2s;
    rate_limit_redis_fail closed;
--- config
    location = /t {
        rate_limit zone=s;
        rate_limit_log_level info;
        alias html/ok.txt;
    }
--- request eval
["GET /t?k=t2", "GET /t?k=t2", "GET /t?k=t2"]
--- error_code eval
[200, 200, 429]
--- error_log eval
[qr/\[warn\] .*rate_limit: redis "[^"]+" sentinel 127\.0\.0\.1:$ENV{TEST_NGINX_DEAD_PORT} /,
 qr/primary is 127\.0\.0\.1:$ENV{TEST_NGINX_PRIMARY_PORT}\b/]
--- no_error_log eval
[qr/\[error\] .*rate_limit: /, "Sentinel-pw"]



=== TEST 3: a name no sentinel knows: no primary, one line, fail closed
--- http_config
    rate_limit_zone $arg_k zone=s:1m rate=10r/h burst=1
                    redis=redis-sentinel://:Sentinel-pw@$TEST_NGINX_SENTINELS/nosuch;
    rate_limit_redis_timeout 2s;
    rate_limit_redis_fail closed;
--- config
    location = /t {
        rate_limit zone=s;
        rate_limit_log_level info;
        alias html/ok.txt;
    }
--- request eval
["GET /t?k=t3", "GET /t?k=t3", "GET /t?k=t3"]
--- error_code eval
[503, 503, 503]
--- grep_error_log eval
qr/has no primary: no sentinel names it/
--- grep_error_log_out
has no primary: no sentinel names it
--- no_error_log
Sentinel-pw



=== TEST 4: no primary, fail open: the zone in this nginx decides
--- http_config
    rate_limit_zone $arg_k zone=s:1m rate=10r/h burst=1
                    redis=redis-sentinel://:Sentinel-pw@$TEST_NGINX_SENTINELS/nosuch;
    rate_limit_redis_timeout 2s;
    rate_limit_redis_fail open;
--- config
    location = /t {
        rate_limit zone=s;
        rate_limit_log_level info;
        alias html/ok.txt;
    }
--- request eval
["GET /t?k=t4", "GET /t?k=t4", "GET /t?k=t4"]
--- error_code eval
[200, 200, 429]
--- error_log eval
qr/\[error\] .*rate_limit: redis "[^"]+\/nosuch" has no primary: no sentinel names it; retrying with backoff/
--- no_error_log
Sentinel-pw



=== TEST 5: a sentinel that names a replica: ROLE keeps the calls off it
--- http_config
    rate_limit_zone $arg_k zone=s:1m rate=10r/h burst=1
                    redis=redis-sentinel://:Sentinel-pw@127.0.0.1:$TEST_NGINX_FAKE_SENTINEL_PORT/mymaster;
    rate_limit_redis_timeout 2s;
    rate_limit_redis_fail closed;
--- config
    location = /t {
        rate_limit zone=s;
        rate_limit_log_level info;
        alias html/ok.txt;
    }
--- init
main::on($ENV{TEST_NGINX_REPLICA_PORT}, 'CONFIG', 'RESETSTAT');
my @s = map { scalar GwHttp::http_get('/t?k=t5') } 1 .. 2;
Test::More::is("@s", '503 503', 'fail closed');
Test::More::unlike(main::on($ENV{TEST_NGINX_REPLICA_PORT},
                            'INFO', 'commandstats'),
                   qr/cmdstat_eval/, 'no script call reached the replica');
--- request
GET /t?k=t5
--- error_code: 503
--- error_log eval
qr/\[error\] .*rate_limit: redis "[^"]+" primary 127\.0\.0\.1:$ENV{TEST_NGINX_REPLICA_PORT} is not the primary, its ROLE is "slave"; retrying with backoff/
--- no_error_log
Sentinel-pw



=== TEST 6: two nginx share the primary: 10 of 30 pass over both
--- http_config
    rate_limit_zone $arg_k zone=s:1m rate=10r/h burst=9
                    redis=redis-sentinel://:Sentinel-pw@$TEST_NGINX_SENTINELS/mymaster;
    rate_limit_redis_timeout 2s;
    rate_limit_redis_fail closed;
--- config
    location = /t {
        rate_limit zone=s;
        rate_limit_log_level info;
        alias html/ok.txt;
    }
--- init
my $port = main::second();
my ($here, $there) = (0, 0);
for my $i (1 .. 15) {
    $here++ if GwHttp::http_get('/t?k=t6') == 200;
    $there++ if GwHttp::http_get('/t?k=t6', port => $port) == 200;
}
GwRedis::stop_nginx();
Test::More::is($here + $there, 10, '10 of 30 passed over both');
Test::More::ok($here > 0 && $there > 0, "both admitted some ($here, $there)");
--- request
GET /t?k=t6
--- error_code: 429
--- no_error_log
[error]
Sentinel-pw



=== TEST 7: the primary is SIGKILLed: both nginx follow the failover
--- http_config
    rate_limit_zone $arg_k zone=s:1m rate=10r/h burst=9
                    redis=redis-sentinel://:Sentinel-pw@$TEST_NGINX_SENTINELS/mymaster;
    rate_limit_redis_timeout 2s;
    rate_limit_redis_fail closed;
--- config
    location = /t {
        rate_limit zone=s;
        rate_limit_log_level info;
        alias html/ok.txt;
    }
--- init
my $port = main::second();
my @ports = (undef, $port);
my $get = sub { scalar GwHttp::http_get('/t?k=t7',
                                        $_[0] ? (port => $_[0]) : ()) };

# 5 of the 10 before, on both, and on the replica too before the kill
my @before = map { $get->($ports[$_ % 2]) } 1 .. 5;
Test::More::is("@before", '200 200 200 200 200', '5 passed before');
Test::More::is(main::on($ENV{TEST_NGINX_PRIMARY_PORT}, 'WAIT', 1, 5000), '1',
               'the replica has them');
GwRedis::kill_server($ENV{TEST_NGINX_PRIMARY_PORT});

# Until the sentinels promote the replica and an nginx finds it, its
# requests fail closed (503); from its first verdict on, each gets one.
# The wait is bounded only to end a hang.
my (%window, @after, @found);
my $until = time + GwRedis::wait_time(60);
while (time < $until && !($found[0] && $found[1])) {
    for my $i (0, 1) {
        my $s = $get->($ports[$i]);
        if ($found[$i]) {
            push @after, $s;
        } elsif ($s == 503) {
            $window{$s}++;
        } else {
            $found[$i] = 1;
            push @after, $s;
        }
    }
    select undef, undef, undef, 0.05;
}
Test::More::ok($found[0] && $found[1], 'both found the new primary');
Test::More::is(join(' ', sort keys %window), '503',
               'only fail closed answers in the failover window');
Test::More::is(GwRedis::sentinel_primary($ENV{TEST_NGINX_SENTINELS}
                                         =~ /:(\d+)/),
               "127.0.0.1:$ENV{TEST_NGINX_REPLICA_PORT}",
               'the sentinels promoted the replica');

# the limit goes on on the new primary: 5 more of 30, over both
push @after, map { $get->($ports[$_ % 2]) } 1 .. 30 - @after;
my $admitted = grep { $_ == 200 } @after;
Test::More::is($admitted, 5, '5 more passed after the failover, 10 in all');
Test::More::is(scalar(grep { $_ != 200 && $_ != 429 } @after), 0,
               'a verdict for each request after: ' . "@after");
Test::More::is(main::on($ENV{TEST_NGINX_REPLICA_PORT},
                        'EXISTS', 'rate_limit:s:t7'),
               '1', 'the bucket is on the new primary');

# the second nginx said so too
GwRedis::stop_nginx();
open my $log, '<', "$GwRedis::NGINX_DIR/logs/error.log" or die "$!\n";
my $text = do { local $/; <$log> };
Test::More::like($text, qr/primary is 127\.0\.0\.1:$ENV{TEST_NGINX_REPLICA_PORT}\b/,
                 'the second nginx logged the new primary');
Test::More::unlike($text, qr/Sentinel-pw/, 'and never the password');
--- request
GET /t?k=t7
--- error_code: 429
--- error_log eval
qr/\[notice\] .*rate_limit: redis "[^"]+" primary is 127\.0\.0\.1:$ENV{TEST_NGINX_REPLICA_PORT}\b/
--- no_error_log
Sentinel-pw



=== TEST 8: Sentinel in TLS is not supported: nginx -t says so
--- http_config
    rate_limit_zone $arg_k zone=s:1m rate=10r/h
                    redis=rediss-sentinel://127.0.0.1:26379/mymaster;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*rate_limit_zone: "rediss-sentinel:\/\/" is not supported, only redis:\/\/, rediss:\/\/, redis-sentinel:\/\/ and redis-cluster:\/\/ in /
--- no_error_log
Sentinel-pw



=== TEST 9: a password in a Sentinel URI is never in a configuration error
--- http_config
    rate_limit_zone $arg_k zone=s:1m rate=10r/h
                    redis=redis-sentinel://:Sentinel-pw@127.0.0.1:99999/mymaster;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid redis address "redis-sentinel:\/\/127\.0\.0\.1:99999\/mymaster": invalid port/
--- no_error_log
Sentinel-pw
