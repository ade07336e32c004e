# rate_limit with its zone in a Redis that asks for a password: redis://
# URIs with requirepass's password and with an ACL user (the least the
# script needs), a database, a percent-encoded password, a password from
# a file; a wrong password is an outage like any other (one line, fail
# open or closed); and the password is never logged, not even at debug.
# Needs redis-server.

use lib 't/helpers';
use GwRedis;
use GwHttp ();
use Test::Nginx::Socket 'no_plan';

# requirepass; ACL users gw (the script's commands on rate_limit:* keys
# only) and "p@ss" (a password that needs percent-encoding), an admin for
# the test, and no default user

my $acl = '~rate_limit:* resetchannels -@all +evalsha +eval +time +get +set '
          . '+select +ping';

$ENV{TEST_NGINX_PW_PORT} = GwRedis::server(
    args => ['--requirepass', 'Pw-of-requirepass']);
$ENV{TEST_NGINX_ACL_PORT} = GwRedis::server(
    args => ['--user', 'default', 'off',
             '--user', 'admin', 'on', '>admin-pw', '~*', '&*', '+@all',
             '--user', 'gw', 'on', '>Gw-secret-1', split(' ', $acl),
             '--user', 'odd', 'on', '>p@ss:w/rd%', split(' ', $acl)]);

# the password files: gw's, and one of two lines
for (['gw.pw', "Gw-secret-1\n"], ['bad.pw', "one\ntwo\n"], ['empty.pw', "\n"]) {
    open my $f, '>', "$GwRedis::DIR/$_->[0]" or die "$GwRedis::DIR: $!\n";
    print $f $_->[1];
    close $f;
}
$ENV{TEST_NGINX_PW_DIR} = "$GwRedis::DIR";

sub acl { GwRedis::cli($ENV{TEST_NGINX_ACL_PORT},
                       ['--user', 'admin', '--pass', 'admin-pw'], @_) }

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('user_files', ">>> ok.txt\nok\n")
        unless defined $block->user_files;

    # no secret in any log line, whatever the block does
    $block->set_value('no_error_log', "Pw-of-requirepass\nGw-secret-1\n"
                                      . "p\@ss:w/rd%\nWrong-one\n")
        unless defined $block->no_error_log;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: requirepass: redis://:password@, the bucket in Redis
--- http_config
    rate_limit_zone $arg_k zone=r:1m rate=10r/m burst=2
                    redis=redis://:Pw-of-requirepass@127.0.0.1:$TEST_NGINX_PW_PORT;
    rate_limit_redis_timeout 2s;
--- config
    location = /t {
        rate_limit zone=r;
        alias html/ok.txt;
    }
--- init
my @s = map { scalar GwHttp::http_get('/t?k=t1') } 1 .. 3;
Test::More::is("@s", '200 200 200', '3 pass');
Test::More::like(GwRedis::cli($ENV{TEST_NGINX_PW_PORT},
                              ['-a', 'Pw-of-requirepass'],
                              'PTTL', 'rate_limit:r:t1'),
                 qr/^1[78]\d{3}$/, 'the bucket is in Redis');
--- request
GET /t?k=t1
--- error_code: 429
--- response_headers
RateLimit-Remaining: 0
Retry-After: 6



=== TEST 2: an ACL user with the least the script needs, and a database
--- http_config
    rate_limit_zone $arg_k zone=r:1m rate=10r/m burst=1
                    redis=redis://gw:Gw-secret-1@127.0.0.1:$TEST_NGINX_ACL_PORT/3;
    rate_limit_redis_timeout 2s;
--- config
    location = /t {
        rate_limit zone=r;
        alias html/ok.txt;
    }
--- init
Test::More::is(GwHttp::http_get('/t?k=t2'), 200, 'passed');
Test::More::is(main::acl('-n', 3, 'EXISTS', 'rate_limit:r:t2'), '1',
               'the bucket is in database 3');
Test::More::is(main::acl('-n', 0, 'EXISTS', 'rate_limit:r:t2'), '0',
               'not in database 0');
--- request eval
["GET /t?k=t2", "GET /t?k=t2"]
--- error_code eval
[200, 429]
--- response_headers eval
["RateLimit-Remaining: 0", "Retry-After: 6"]



=== TEST 3: a password with "@", ":", "/" and "%" percent-encoded
--- http_config
    rate_limit_zone $arg_k zone=r:1m rate=10r/m burst=1
                    redis=redis://odd:p%40ss%3Aw%2Frd%25@127.0.0.1:$TEST_NGINX_ACL_PORT;
    rate_limit_redis_timeout 2s;
--- config
    location = /t {
        rate_limit zone=r;
        alias html/ok.txt;
    }
--- init
Test::More::is(GwHttp::http_get('/t?k=t3'), 200, 'passed');
Test::More::is(main::acl('EXISTS', 'rate_limit:r:t3'), '1', 'in Redis');
--- request
GET /t?k=t3
--- error_code: 200
--- response_headers
RateLimit-Remaining: 0



=== TEST 4: the password from redis_password_file=, the user in the URI
--- http_config
    rate_limit_zone $arg_k zone=r:1m rate=10r/m burst=1
                    redis=redis://gw@127.0.0.1:$TEST_NGINX_ACL_PORT
                    redis_password_file=$TEST_NGINX_PW_DIR/gw.pw;
    rate_limit_redis_timeout 2s;
--- config
    location = /t {
        rate_limit zone=r;
        alias html/ok.txt;
    }
--- init
Test::More::is(GwHttp::http_get('/t?k=t4'), 200, 'passed');
Test::More::is(main::acl('EXISTS', 'rate_limit:r:t4'), '1', 'in Redis');
--- request
GET /t?k=t4
--- error_code: 200
--- response_headers
RateLimit-Remaining: 0



=== TEST 5: a wrong password, fail open: the local zone decides, one line for the outage, no password in it
--- http_config
    rate_limit_zone $arg_k zone=r:1m rate=10r/m burst=2
                    redis=redis://gw:Wrong-one@127.0.0.1:$TEST_NGINX_ACL_PORT;
    rate_limit_redis_timeout 2s;
--- config
    location = /t {
        rate_limit zone=r;
        add_header X-Zones $rate_limit_zones always;
        alias html/ok.txt;
    }
--- init
my @s = map { scalar GwHttp::http_get('/t?k=t5') } 1 .. 3;
Test::More::is("@s", '200 200 200', 'the local bucket');
Time::HiRes::sleep(0.3);    # past the first backoff: connected again
Test::More::is(GwHttp::http_get('/t?k=t5'), 429, 'the local bucket, full');
Test::More::is(main::acl('EXISTS', 'rate_limit:r:t5'), '0', 'not in Redis');
--- request
GET /t?k=t5
--- error_code: 429
--- response_headers
X-Zones: r:REJECTED:redis_failed
--- grep_error_log eval
qr/rate_limit: redis "[^"]+" [^;]+; retrying with backoff/
--- grep_error_log_out eval
qr/\Arate_limit: redis "redis:\/\/gw\@127\.0\.0\.1:\d+" refused AUTH: "WRONGPASS invalid username-password pair or user is disabled\."; retrying with backoff\n\z/



=== TEST 6: a wrong password, fail closed: 503
--- http_config
    rate_limit_zone $arg_k zone=r:1m rate=10r/m
                    redis=redis://:Wrong-one@127.0.0.1:$TEST_NGINX_PW_PORT;
    rate_limit_redis_timeout 2s;
--- config
    location = /t {
        rate_limit zone=r;
        rate_limit_redis_fail closed;
        add_header X-Zones $rate_limit_zones always;
        alias html/ok.txt;
    }
--- request
GET /t?k=t6
--- error_code: 503
--- response_headers
X-Zones: r:UNAVAILABLE:redis_failed
--- error_log eval
qr/\[error\] .*rate_limit: redis "redis:\/\/127\.0\.0\.1:\d+" refused AUTH: "WRONGPASS[^"]*"; retrying with backoff/



=== TEST 7: no password where one is needed: Redis's NOAUTH is an outage, one line
--- http_config
    rate_limit_zone $arg_k zone=r:1m rate=10r/m burst=5
                    redis=127.0.0.1:$TEST_NGINX_PW_PORT;
    rate_limit_redis_timeout 2s;
--- config
    location = /t {
        rate_limit zone=r;
        alias html/ok.txt;
    }
--- init
GwHttp::http_get('/t?k=t7') for 1 .. 3;
--- request
GET /t?k=t7
--- error_code: 200
--- response_headers
RateLimit-Remaining: 2
--- grep_error_log eval
qr/rate_limit: redis "[^"]+" [^;]+; retrying with backoff/
--- grep_error_log_out eval
qr/\Arate_limit: redis "127\.0\.0\.1:\d+" answered "NOAUTH Authentication required\."; retrying with backoff\n\z/



=== TEST 8: two nginx instances, one Redis with an ACL user: 10 of 30 requests pass
--- http_config
    rate_limit_zone $arg_k zone=r:1m rate=10r/m burst=9
                    redis=redis://gw:Gw-secret-1@127.0.0.1:$TEST_NGINX_ACL_PORT/1;
    rate_limit_redis_timeout 2s;
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
                    redis=redis://gw\@127.0.0.1:$ENV{TEST_NGINX_ACL_PORT}/1
                    redis_password_file=$ENV{TEST_NGINX_PW_DIR}/gw.pw;
    rate_limit_redis_timeout 2s;
    server {
        listen 127.0.0.1:$port;
        location = /t { rate_limit zone=r; alias \@DIR\@/ok.txt; }
    }
CONF
my ($here, $there) = (0, 0);
for my $i (1 .. 15) {
    $here++ if GwHttp::http_get('/t?k=t8') == 200;
    $there++ if GwHttp::http_get('/t?k=t8', port => $port) == 200;
}
GwRedis::stop_nginx();
Test::More::is($here + $there, 10, '10 of 30 passed over both');
Test::More::ok($here > 0 && $there > 0, "both admitted some ($here, $there)");
--- request
GET /t?k=t8
--- error_code: 429
--- no_error_log
[error]
Gw-secret-1



=== TEST 9: a password in the URI is never in a configuration error
--- http_config
    rate_limit_zone $arg_k zone=r:1m rate=10r/m
                    redis=redis://gw:Gw-secret-1@127.0.0.1:99999;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid redis address "redis:\/\/gw\@127\.0\.0\.1:99999": invalid port/



=== TEST 10: a user without a password
--- http_config
    rate_limit_zone $arg_k zone=r:1m rate=10r/m redis=redis://gw@127.0.0.1;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*redis "redis:\/\/gw\@127\.0\.0\.1" names a user without a password/



=== TEST 11: a password in the URI and a password file
--- http_config
    rate_limit_zone $arg_k zone=r:1m rate=10r/m
                    redis=redis://gw:Gw-secret-1@127.0.0.1
                    redis_password_file=$TEST_NGINX_PW_DIR/gw.pw;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*redis "redis:\/\/gw\@127\.0\.0\.1" has a password in the address and "redis_password_file="/



=== TEST 12: password files that cannot be used
--- http_config
    rate_limit_zone $arg_k zone=r:1m rate=10r/m redis=redis://gw@127.0.0.1
                    redis_password_file=$TEST_NGINX_PW_DIR/bad.pw;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid "redis_password_file=\S+bad\.pw": more than one line/



=== TEST 13: an empty password file
--- http_config
    rate_limit_zone $arg_k zone=r:1m rate=10r/m redis=redis://gw@127.0.0.1
                    redis_password_file=$TEST_NGINX_PW_DIR/empty.pw;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid "redis_password_file=\S+empty\.pw": no password in it/



=== TEST 14: a password file that is not there
--- http_config
    rate_limit_zone $arg_k zone=r:1m rate=10r/m redis=redis://gw@127.0.0.1
                    redis_password_file=$TEST_NGINX_PW_DIR/none.pw;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*cannot open "redis_password_file=\S+none\.pw" \(2: No such file or directory\)/



=== TEST 15: redis_password_file without redis=
--- http_config
    rate_limit_zone $arg_k zone=r:1m rate=10r/m
                    redis_password_file=$TEST_NGINX_PW_DIR/gw.pw;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*"rate_limit_zone" directive has "redis_password_file=" without "redis="/



=== TEST 16: URIs that do not parse: what each says
--- http_config
    rate_limit_zone $arg_k zone=a:1m rate=10r/m redis=redis://127.0.0.1/x;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid redis address "redis:\/\/127\.0\.0\.1\/x": an invalid database/



=== TEST 17: two hosts for one server
--- http_config
    rate_limit_zone $arg_k zone=a:1m rate=10r/m
                    redis=redis://127.0.0.1:1,127.0.0.1:2;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid redis address "[^"]+": more than one host: that is Sentinel's form/



=== TEST 18: a query
--- http_config
    rate_limit_zone $arg_k zone=a:1m rate=10r/m
                    redis=redis://127.0.0.1:1/0?timeout=1;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid redis address "[^"]+": a query or a fragment/



=== TEST 19: Sentinel without a master's name
--- http_config
    rate_limit_zone $arg_k zone=a:1m rate=10r/m
                    redis=redis-sentinel://127.0.0.1:26379;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid redis address "redis-sentinel:\/\/127\.0\.0\.1:26379": no master name/



=== TEST 20: a Cluster in TLS is not supported: nginx -t says so
--- http_config
    rate_limit_zone $arg_k zone=a:1m rate=10r/m
                    redis=rediss-cluster://127.0.0.1:7000,127.0.0.1:7001;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*rate_limit_zone: "rediss-cluster:\/\/" is not supported, only redis:\/\/, rediss:\/\/, redis-sentinel:\/\/ and redis-cluster:\/\/ in /



=== TEST 21: no host
--- http_config
    rate_limit_zone $arg_k zone=a:1m rate=10r/m redis=redis://gw:pw@/0;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid redis address "redis:\/\/gw\@\/0": no host/
