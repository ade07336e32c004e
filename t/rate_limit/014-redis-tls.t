# rate_limit with its zone in Redis over TLS (rediss://): certificates of
# a CA the test makes, verified with their names (a DNS name, or an IP
# address in the subjectAltName), SNI, a session resumed on the next
# connection, and the failures: a name that does not match, a CA not
# trusted, a server that does not speak TLS, each an outage with one line.
# A TLS proxy (an nginx stream server) in front of a plain Redis logs what
# the client sent: its SNI, and whether it resumed a session.  Needs
# redis-server (built with TLS, as Debian's) and openssl.

use lib 't/helpers';
use GwRedis;
use GwHttp ();
use Test::Nginx::Socket 'no_plan';

$ENV{TEST_NGINX_CA} = GwRedis::tls_files('localhost');
GwRedis::tls_files($_) for 'other.example', 'untrusted';

$ENV{TEST_NGINX_TLS_PORT} = GwRedis::server(tls => 1,
                                           args => ['--requirepass', 'Tls-pw']);
$ENV{TEST_NGINX_OTHER_PORT} = GwRedis::server(tls => 1,
                                             cert => 'other.example');
$ENV{TEST_NGINX_UNTRUSTED_PORT} = GwRedis::server(tls => 1,
                                                 cert => 'untrusted');
$ENV{TEST_NGINX_PROXY_PORT} = GwRedis::start_tls_proxy($GwRedis::PORT);

sub tls_cli {
    my ($port, @args) = @_;
    return GwRedis::cli($port, ['--tls', '--cacert', $ENV{TEST_NGINX_CA},
                                '-a', 'Tls-pw'], @args);
}

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('user_files', ">>> ok.txt\nok\n")
        unless defined $block->user_files;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: rediss:// to a name: verified, with AUTH and a database
--- http_config
    rate_limit_zone $arg_k zone=r:1m rate=10r/m burst=2
                    redis=rediss://:Tls-pw@localhost:$TEST_NGINX_TLS_PORT/2;
    rate_limit_redis_ssl_trusted_certificate $TEST_NGINX_CA;
    rate_limit_redis_timeout 2s;
--- config
    location = /t {
        rate_limit zone=r;
        rate_limit_log_level info;
        alias html/ok.txt;
    }
--- init
my @s = map { scalar GwHttp::http_get('/t?k=t1') } 1 .. 3;
Test::More::is("@s", '200 200 200', '3 pass');
Test::More::is(main::tls_cli($ENV{TEST_NGINX_TLS_PORT}, '-n', 2, 'EXISTS',
                             'rate_limit:r:t1'),
               '1', 'the bucket is in Redis, database 2');
--- request
GET /t?k=t1
--- error_code: 429
--- response_headers
RateLimit-Remaining: 0
Retry-After: 6
--- no_error_log
[error]
[warn]
Tls-pw



=== TEST 2: rediss:// to an IP address: its subjectAltName verified
--- http_config
    rate_limit_zone $arg_k zone=r:1m rate=10r/m burst=1
                    redis=rediss://:Tls-pw@127.0.0.1:$TEST_NGINX_TLS_PORT;
    rate_limit_redis_ssl_trusted_certificate $TEST_NGINX_CA;
    rate_limit_redis_timeout 2s;
--- config
    location = /t {
        rate_limit zone=r;
        alias html/ok.txt;
    }
--- init
Test::More::is(GwHttp::http_get('/t?k=t2'), 200, 'passed');
Test::More::is(main::tls_cli($ENV{TEST_NGINX_TLS_PORT}, 'EXISTS',
                             'rate_limit:r:t2'), '1', 'in Redis');
--- request
GET /t?k=t2
--- error_code: 200
--- response_headers
RateLimit-Remaining: 0
--- no_error_log
[error]



=== TEST 3: a certificate for another name: an outage, one line, the local zone decides
--- http_config
    rate_limit_zone $arg_k zone=r:1m rate=10r/m burst=2
                    redis=rediss://localhost:$TEST_NGINX_OTHER_PORT;
    rate_limit_redis_ssl_trusted_certificate $TEST_NGINX_CA;
    rate_limit_redis_timeout 2s;
--- config
    location = /t {
        rate_limit zone=r;
        add_header X-Zones $rate_limit_zones always;
        alias html/ok.txt;
    }
--- init
GwHttp::http_get('/t?k=t3');
Time::HiRes::sleep(0.3);    # past the backoff: tried again
--- request
GET /t?k=t3
--- error_code: 200
--- response_headers
RateLimit-Remaining: 1
X-Zones: r:PASSED:redis_failed
--- grep_error_log eval
qr/rate_limit: redis "[^"]+" [^;]+; retrying with backoff/
--- grep_error_log_out eval
qr/\Arate_limit: redis "rediss:\/\/localhost:\d+" sent a certificate that does not name it: "localhost"; retrying with backoff\n\z/



=== TEST 4: a certificate of a CA not trusted, fail closed: 503
--- http_config
    rate_limit_zone $arg_k zone=r:1m rate=10r/m
                    redis=rediss://localhost:$TEST_NGINX_UNTRUSTED_PORT;
    rate_limit_redis_ssl_trusted_certificate $TEST_NGINX_CA;
    rate_limit_redis_timeout 2s;
--- config
    location = /t {
        rate_limit zone=r;
        rate_limit_redis_fail closed;
        alias html/ok.txt;
    }
--- request
GET /t?k=t4
--- error_code: 503
--- error_log eval
qr/\[error\] .*rate_limit: redis "rediss:\/\/localhost:\d+" sent a certificate that does not verify: "unable to verify the first certificate"; retrying with backoff/



=== TEST 5: a server that does not speak TLS (nginx's own HTTP port): the handshake fails
--- http_config
    rate_limit_zone $arg_k zone=r:1m rate=10r/m burst=2
                    redis=rediss://127.0.0.1:$TEST_NGINX_SERVER_PORT;
    rate_limit_redis_ssl_trusted_certificate $TEST_NGINX_CA;
    rate_limit_redis_timeout 2s;
--- config
    location = /t {
        rate_limit zone=r;
        add_header X-Zones $rate_limit_zones always;
        alias html/ok.txt;
    }
--- request
GET /t?k=t5
--- error_code: 200
--- response_headers
X-Zones: r:PASSED:redis_failed
--- error_log eval
qr/\[error\] .*rate_limit: redis "rediss:\/\/127\.0\.0\.1:\d+" TLS handshake failed; retrying with backoff/



=== TEST 6: a plain Redis, which waits for a command: the handshake times out
--- http_config
    rate_limit_zone $arg_k zone=r:1m rate=10r/m burst=2
                    redis=rediss://127.0.0.1:$TEST_NGINX_REDIS_PORT;
    rate_limit_redis_ssl_trusted_certificate $TEST_NGINX_CA;
--- config
    location = /t {
        rate_limit zone=r;
        add_header X-Zones $rate_limit_zones always;
        alias html/ok.txt;
    }
--- init
Test::More::is(GwHttp::http_get('/t?k=t6'), 200, 'the local zone, at once');
Time::HiRes::sleep(1.2);    # the setup's second
--- request
GET /t?k=t6
--- error_code: 200
--- response_headers
X-Zones: r:PASSED:redis_failed
--- error_log eval
qr/\[error\] .*rate_limit: redis "rediss:\/\/127\.0\.0\.1:\d+" timed out in the TLS handshake; retrying with backoff/



=== TEST 7: rate_limit_redis_ssl_verify off: a warning at load, and any certificate
--- http_config
    rate_limit_zone $arg_k zone=r:1m rate=10r/m
                    redis=rediss://localhost:$TEST_NGINX_UNTRUSTED_PORT;
    rate_limit_redis_ssl_verify off;
    rate_limit_redis_timeout 2s;
--- config
    location = /t {
        rate_limit zone=r;
        rate_limit_log_level info;
        alias html/ok.txt;
    }
--- init
Test::More::is(GwHttp::http_get('/t?k=t6'), 200, 'passed');
--- request
GET /t?k=t6
--- error_code: 429
--- error_log eval
qr/\[warn\] .*"rate_limit_redis_ssl_verify" is off: the certificates of "rediss" servers are not checked/
--- no_error_log
[error]



=== TEST 8: rediss:// without a trusted certificate
--- http_config
    rate_limit_zone $arg_k zone=r:1m rate=10r/m
                    redis=rediss://localhost:$TEST_NGINX_TLS_PORT;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*a "rediss" server needs "rate_limit_redis_ssl_trusted_certificate"/



=== TEST 9: SNI with a name, none with an address; the next connection resumes the session
--- http_config
    rate_limit_zone $arg_k zone=n:1m rate=10r/m burst=20
                    redis=rediss://localhost:$TEST_NGINX_PROXY_PORT;
    rate_limit_zone $arg_k zone=a:1m rate=10r/m burst=20
                    redis=rediss://127.0.0.1:$TEST_NGINX_PROXY_PORT;
    rate_limit_redis_ssl_trusted_certificate $TEST_NGINX_CA;
    rate_limit_redis_timeout 2s;
--- config
    location = /n {
        rate_limit zone=n;
        alias html/ok.txt;
    }
    location = /a {
        rate_limit zone=a;
        alias html/ok.txt;
    }
--- init
# each Redis connection through the proxy is closed (which the proxy
# logs), and made again after the backoff
sub round {
    my @s = map { scalar GwHttp::http_get($_) } '/n?k=t8', '/a?k=t8';
    GwRedis::command('CLIENT', 'KILL', 'TYPE', 'normal');
    Time::HiRes::sleep(0.3);
    return "@s";
}
Test::More::is(round(), '200 200', 'first connections');
Test::More::is(round(), '200 200', 'second connections');
my @log = sort(GwRedis::proxy_log());
Test::More::is_deeply(\@log, ['"-" .', '"-" r', '"localhost" .',
                              '"localhost" r'],
                      'SNI for the name; sessions resumed')
    or Test::More::diag(join "\n", GwRedis::proxy_log());
--- request
GET /n?k=t8
--- error_code: 200



=== TEST 10: two nginx instances, one Redis over TLS: 10 of 30 requests pass
--- http_config
    rate_limit_zone $arg_k zone=r:1m rate=10r/m burst=9
                    redis=rediss://:Tls-pw@localhost:$TEST_NGINX_TLS_PORT;
    rate_limit_redis_ssl_trusted_certificate $TEST_NGINX_CA;
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
                    redis=rediss://:Tls-pw\@localhost:$ENV{TEST_NGINX_TLS_PORT};
    rate_limit_redis_ssl_trusted_certificate $ENV{TEST_NGINX_CA};
    rate_limit_redis_timeout 2s;
    server {
        listen 127.0.0.1:$port;
        location = /t { rate_limit zone=r; alias \@DIR\@/ok.txt; }
    }
CONF
my ($here, $there) = (0, 0);
for my $i (1 .. 15) {
    $here++ if GwHttp::http_get('/t?k=t9') == 200;
    $there++ if GwHttp::http_get('/t?k=t9', port => $port) == 200;
}
GwRedis::stop_nginx();
Test::More::is($here + $there, 10, '10 of 30 passed over both');
Test::More::ok($here > 0 && $there > 0, "both admitted some ($here, $there)");
--- request
GET /t?k=t9
--- error_code: 429
--- no_error_log
[error]
