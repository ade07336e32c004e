# rate_limit with its zone in Redis under a master process: two workers,
# each with its own connection, share the buckets; a reload starts new
# workers that connect again, and the buckets, being in Redis, stay.
#
# Under valgrind the runner starts nginx without a master process, so
# these blocks are skipped there.

use lib 't/helpers';
use GwRedis;
use GwHttp ();
use Test::Nginx::Socket 'no_plan';

master_on();
workers(2);
worker_connections(1024);

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('user_files', ">>> ok.txt\nok\n")
        unless defined $block->user_files;
    $block->set_value('skip_eval', '1: $ENV{TEST_NGINX_USE_VALGRIND}')
        unless defined $block->skip_eval;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: two workers, one bucket: 40 requests at once, exactly burst + 1 pass
--- http_config
    rate_limit_zone $arg_k zone=r:1m rate=10r/m burst=14
                    redis=127.0.0.1:$TEST_NGINX_REDIS_PORT;
    rate_limit_redis_timeout 1s;
--- config
    location = /t {
        rate_limit zone=r;
        rate_limit_log_level info;
        alias html/ok.txt;
    }
--- init
my %n;
$n{$_->[0]}++ for GwHttp::http_get_parallel(('/t?k=w1') x 40);
Test::More::is($n{200}, 15, '15 admitted');
Test::More::is($n{429}, 25, '25 rejected');
--- request
GET /t?k=w1
--- error_code: 429
--- no_error_log
[error]
[alert]



=== TEST 2: a reload: new workers connect again, the bucket stays
--- http_config
    rate_limit_zone $arg_k zone=r:1m rate=1r/m burst=1
                    redis=127.0.0.1:$TEST_NGINX_REDIS_PORT;
    rate_limit_redis_timeout 1s;
--- config
    location = /t {
        rate_limit zone=r;
        rate_limit_log_level info;
        add_header X-Gen gen-1 always;
        alias html/ok.txt;
    }
    location = /gen {
        return 200 "gen-1";
    }
--- init
Test::More::is(GwHttp::http_get('/t?k=w2'), 200, 'first token');
Test::More::is(GwHttp::http_get('/t?k=w2'), 200, 'second token');
Test::More::ok(GwHttp::reload_nginx(sub { s/gen-1/gen-2/g }, '/gen',
                                      'gen-2'),
               'the new configuration serves');
--- request
GET /t?k=w2
--- error_code: 429
--- response_headers
X-Gen: gen-2
RateLimit-Remaining: 0
--- no_error_log
[error]
[alert]
[emerg]
