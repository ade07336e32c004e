# rate_limit's Redis client and what Redis answers: an error reply fails
# the call, which the local zone then decides, and reaches the error log
# as one clean line.  Needs redis-server.

use lib 't/helpers';
use GwRedis;
use GwHttp ();
use Test::Nginx::Socket 'no_plan';

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('user_files', ">>> ok.txt\nok\n")
        unless defined $block->user_files;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: an error reply (a key of another type) is logged without its CR, and the local zone decides
--- http_config
    rate_limit_zone $arg_k zone=r:1m rate=10r/m burst=2
                    redis=127.0.0.1:$TEST_NGINX_REDIS_PORT;
    rate_limit_redis_timeout 2s;
--- config
    location = /t {
        rate_limit zone=r;
        alias html/ok.txt;
    }
--- init
Test::More::is(GwRedis::command('HSET', 'rate_limit:r:t1', 'a', 'b'), ':1',
               'the key holds a hash');
--- request
GET /t?k=t1
--- error_code: 200
--- response_headers
RateLimit-Remaining: 2
--- error_log eval
qr/\[error\] .*rate_limit: redis "127\.0\.0\.1:\d+" answered "[^"\r]*WRONGTYPE[^"\r]*"/
--- no_error_log
[crit]
[alert]
