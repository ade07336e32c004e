# auth_jwt_key_zone under a master process with two workers: one fetch
# serves both, a reload keeps the keys, an outage is said once for both,
# a rotated key is fetched once, and a flood of made-up kids spread over
# both workers costs at most one fetch per unknown_kid=. GwPeer's
# /jwks/TAG counts the fetches; X-Pid says which worker answered.
#
# Each block's locations are also served by a "reuseport" listener, on
# TEST_NGINX_SERVER_PORT + 50, which the parallel requests go to: the
# kernel then spreads the connections over both workers.
#
# Under valgrind the runner starts nginx without a master process, so
# these blocks are skipped there (007-key-zone.t runs there).

use lib 't/helpers';
use GwJwt;
use GwHttp ();
use GwPeer ();
use Time::HiRes ();
use Test::Nginx::Socket 'no_plan';

GwPeer::start();

master_on();
workers(2);
worker_connections(1024);

$ENV{TEST_NGINX_REUSE_PORT} //= ($ENV{TEST_NGINX_SERVER_PORT}
                                 || $ENV{TEST_NGINX_PORT} || 1984) + 50;

our %tok;
my $now = time;

%tok = (
    rs => jwt('RS256', { sub => 'alice', exp => $now + 3600 }),
    hs => jwt('HS256', { sub => 'bob', exp => $now + 3600 }),
);

sub unknown_kid {
    return jwt('HS256', { sub => 'mallory', exp => $now + 3600 },
               { kid => shift });
}

# GET /t with each token at once, each on its own connection, all sent
# before any is read: [status, $jwt_status, worker pid] per token; a
# token may be [token, query] for GET /t?query
sub parallel {
    return map {
        my ($status) = m{^HTTP/1\.\d (\d+)};
        my ($jwt) = /^X-JWT-Status: ([^\r]*)\r$/mi;
        my ($pid) = /^X-Pid: (\d+)\r$/mi;
        [ $status // 0, $jwt // '', $pid // 0 ]
    } GwPeer::exchange($ENV{TEST_NGINX_REUSE_PORT},
                       map { my ($t, $q) = ref $_ ? @$_ : ($_);
                             "GET /t" . (defined $q ? "?$q" : '')
                             . " HTTP/1.0\r\nHost: localhost\r\n"
                             . "Authorization: Bearer $t\r\n\r\n" } @_);
}

# "N x STATUS" for each status seen, and how many workers answered
sub summary {
    my %seen = map { $_->[0] => 0 } @_;
    my %pids = map { $_->[2] => 1 } @_;
    $seen{$_->[0]}++ for @_;
    return (join(', ', map { "$seen{$_} x $_" } sort keys %seen),
            scalar keys %pids);
}

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('user_files', ">>> ok.txt\nok\n")
        unless defined $block->user_files;
    $block->set_value('skip_eval', '1: $ENV{TEST_NGINX_USE_VALGRIND}')
        unless defined $block->skip_eval;
    $block->set_value('http_config', $block->http_config . <<"CONF");
    server {
        listen 127.0.0.1:\$TEST_NGINX_REUSE_PORT reuseport;
        server_name reuse;
@{[ $block->config ]}
    }
CONF
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: 100 requests at once on two workers, the key source slow:
one fetch serves both workers; the metrics count it once
--- http_config
    auth_jwt_key_zone jwks:1m;
    gateway_metrics_zone gw:1m;
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_key_request /jwks;
        auth_jwt_key_cache 1h;
        add_header X-JWT-Status $jwt_status always;
        add_header X-Pid $pid always;
        alias html/ok.txt;
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/jwks/w1?delay=0.5;
    }
    location = /metrics {
        gateway_metrics;
    }
--- init
my @r = main::parallel(($main::tok{rs}, $main::tok{hs}) x 50);
my ($statuses, $workers) = main::summary(@r);
Test::More::is($statuses, '100 x 200', 'all let in');
Test::More::is($workers, 2, 'by both workers');
Test::More::is(GwPeer::hits('w1'), 1, 'one fetch');
@r = main::parallel(($main::tok{rs}) x 20);
Test::More::is(join(' ', map { $_->[1] } grep { $_->[1] ne 'VALID' } @r), '',
               'later ones wait for nothing');
Test::More::is(GwPeer::hits('w1'), 1, 'still one fetch');
--- request
GET /metrics
--- response_body_filters eval
sub { CORE::join '', grep { /^gateway_jwt_key_fetches_total/ } split /^/m, shift }
--- response_body
gateway_jwt_key_fetches_total{result="ok"} 1
gateway_jwt_key_fetches_total{result="failed"} 0
--- no_error_log
[error]
[warn]



=== TEST 2: a reload keeps the keys: the new workers fetch nothing
--- http_config
    auth_jwt_key_zone jwks:1m;
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_key_request /jwks;
        auth_jwt_key_cache 1h;
        add_header X-JWT-Status $jwt_status always;
        add_header X-Pid $pid always;
        alias html/ok.txt;
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/jwks/w2;
    }
    location = /gen {
        return 200 "gen-1";
    }
--- init
my @r = main::parallel(($main::tok{rs}) x 10);
Test::More::is((main::summary(@r))[0], '10 x 200', 'let in');
Test::More::ok(GwHttp::reload_nginx(sub { s/gen-1/gen-2/g }, '/gen', 'gen-2'),
               'the new configuration serves');
@r = main::parallel(($main::tok{rs}, $main::tok{hs}) x 10);
Test::More::is((main::summary(@r))[0], '20 x 200', 'let in after it');
Test::More::is(join(' ', map { $_->[1] } grep { $_->[1] ne 'VALID' } @r), '',
               'none waited for keys');
Test::More::is(GwPeer::hits('w2'), 1, 'one fetch in all');
--- request
GET /gen
--- response_body chomp
gen-2
--- no_error_log
[error]
[alert]



=== TEST 3: the key source fails after a first success: both workers
serve the last keys past auth_jwt_key_cache, with one error line for the
outage in all, and one notice when it answers again; the metrics count
the stale checks and the failed fetches
--- http_config
    auth_jwt_key_zone jwks:1m stale=1h;
    gateway_metrics_zone gw:1m;
--- config
    location /t {
        gateway_metrics_route api;
        auth_jwt "api";
        auth_jwt_key_request /jwks;
        auth_jwt_key_cache 2s;
        add_header X-JWT-Status $jwt_status always;
        add_header X-Pid $pid always;
        alias html/ok.txt;
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/jwks/w3;
    }
    location = /metrics {
        gateway_metrics;
    }
--- init
my @r = main::parallel(($main::tok{rs}) x 4);
Test::More::is((main::summary(@r))[0], '4 x 200', 'the first fetch');
GwPeer::mode('w3', 'fail');
my (@all, %flags);
my $until = Time::HiRes::time() + 7;
while (Time::HiRes::time() < $until) {
    @r = main::parallel(($main::tok{hs}) x 6);
    push @all, @r;
    $flags{$_->[1]}++ for @r;
    Time::HiRes::sleep(0.3);
}
my ($statuses, $workers) = main::summary(@all);
Test::More::is($statuses, scalar(@all) . ' x 200', 'always let in');
Test::More::is($workers, 2, 'by both workers');
Test::More::ok($flags{'VALID:stale_keys'}, 'with stale keys past 2s');
my $failed = qr/\[error\].*auth_jwt: key request "\/jwks" failed with status 500, keeping the keys fetched \d+s ago/;
Test::More::is(GwHttp::log_count($failed), 1, 'one error line for both');
my (undef, undef, $body) = GwHttp::http_get('/metrics');
my ($stale) = $body =~ /^gateway_jwt_stale_keys_total\{route="api"\} (\d+)$/m;
Test::More::is($stale, $flags{'VALID:stale_keys'}, 'stale checks counted');
my ($nfailed) = $body =~ /^gateway_jwt_key_fetches_total\{result="failed"\} (\d+)$/m;
Test::More::ok($nfailed >= 1 && $nfailed <= 3,
               "failed fetches counted, a few for both workers: $nfailed");
GwPeer::mode('w3', 'keys');
Test::More::ok(GwHttp::wait_log(qr/\[notice\].*auth_jwt: key request "\/jwks" answers again/, 10),
               'a notice when it answers again');
Time::HiRes::sleep(0.5);
Test::More::is(GwHttp::log_count(qr/answers again/), 1, 'one notice');
@r = main::parallel(($main::tok{hs}) x 6);
Test::More::is(join(' ', map { "$_->[0] $_->[1]" } grep { $_->[1] ne 'VALID' } @r),
               '', 'fresh keys again on both');
--- request
GET /metrics
--- response_body_like eval
qr/^gateway_jwt_key_fetches_total\{result="ok"\} [2-4]$/m
--- no_error_log
[warn]
[alert]



=== TEST 4: key rotation on two workers: tokens with the new kid make one
fetch, and both workers let them in
--- http_config
    auth_jwt_key_zone jwks:1m;
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_key_request /jwks;
        auth_jwt_key_cache 1h;
        add_header X-JWT-Status $jwt_status always;
        add_header X-Pid $pid always;
        alias html/ok.txt;
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/jwks/w4?delay=0.3;
    }
--- init
GwPeer::mode('w4', 'hs');
my @r = main::parallel(($main::tok{hs}) x 10);
Test::More::is((main::summary(@r))[0], '10 x 200', 'the HMAC key alone');
GwPeer::mode('w4', 'keys');
@r = main::parallel(($main::tok{rs}) x 40);
my ($statuses, $workers) = main::summary(@r);
Test::More::is($statuses, '40 x 200', 'the new kid let in');
Test::More::is($workers, 2, 'by both workers');
Test::More::is(GwPeer::hits('w4'), 2, 'one fetch for the new kid');
--- request
GET /t
--- error_code: 401
--- no_error_log
[error]



=== TEST 5: 300 made-up kids at once and after, on two workers: at most
one fetch more per unknown_kid= for both
--- http_config
    auth_jwt_key_zone jwks:1m unknown_kid=4s;
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_key_request /jwks;
        auth_jwt_key_cache 1h;
        add_header X-JWT-Status $jwt_status always;
        add_header X-Pid $pid always;
        alias html/ok.txt;
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/jwks/w5;
    }
--- init
my @r = main::parallel(($main::tok{hs}) x 4);
Test::More::is((main::summary(@r))[0], '4 x 200', 'the first fetch');
my $start = Time::HiRes::time();
my @all;
for my $round (1 .. 3) {
    push @all, main::parallel(map { main::unknown_kid("made-up-$round-$_-"
                                                      . int(rand 1e9)) }
                                  1 .. 100);
}
my ($statuses, $workers) = main::summary(@all);
Test::More::is($statuses, '300 x 401', 'all refused');
Test::More::is($workers, 2, 'by both workers');
my $hits = GwPeer::hits('w5');
my $most = 2 + int((Time::HiRes::time() - $start) / 4);
Test::More::ok($hits >= 2 && $hits <= $most,
               "$hits fetches: one in 4s at most for both workers");
--- request
GET /t
--- error_code: 401
--- no_error_log
[error]



=== TEST 6: a key request with a variable, two tenants, two workers:
each tenant's URI is fetched once for both workers, and each tenant's
keys verify its own tokens only; the other tenant's kid makes each URI
be fetched once more (unknown_kid=), for both workers
--- http_config
    auth_jwt_key_zone jwks:1m unknown_kid=1h;
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_key_request /_jwks/$arg_t;
        auth_jwt_key_cache 1h;
        add_header X-JWT-Status $jwt_status always;
        add_header X-Pid $pid always;
        alias html/ok.txt;
    }
    location /_jwks/ {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/jwks/;
    }
--- init
GwPeer::mode('w6a', 'hs');
GwPeer::mode('w6b', 'rsa');
my @r = main::parallel(([$main::tok{hs}, 't=w6a'], [$main::tok{rs}, 't=w6b'])
                       x 30);
my ($statuses, $workers) = main::summary(@r);
Test::More::is($statuses, '60 x 200', 'each tenant its keys');
Test::More::is($workers, 2, 'on both workers');
Test::More::is(GwPeer::hits('w6a') . ' ' . GwPeer::hits('w6b'), '1 1',
               'one fetch for each tenant');
@r = main::parallel(([$main::tok{rs}, 't=w6a'], [$main::tok{hs}, 't=w6b'])
                    x 10);
Test::More::is((main::summary(@r))[0], '20 x 401',
               'no tenant takes the other\'s tokens');
Test::More::is(GwPeer::hits('w6a') . ' ' . GwPeer::hits('w6b'), '2 2',
               'one fetch more each, for the unknown kid');
--- request
GET /t?t=w6a
--- more_headers eval
"Authorization: Bearer $::tok{hs}"
--- error_code: 200
--- no_error_log
[error]
[warn]
