# auth_jwt_key_zone in one worker: keys fetched once and kept in the zone,
# refreshed in the background before auth_jwt_key_cache runs out, kept
# past it while their source fails (one error line, a notice when it
# answers again), and fetched again, seldom, for a token whose kid they
# lack. GwPeer's /jwks/TAG counts the fetches; its mode says what it
# answers. The blocks with two workers are in 008-key-zone-workers.t.

use lib 't/helpers';
use GwJwt;
use GwHttp ();
use GwPeer ();
use Time::HiRes ();
use Test::Nginx::Socket 'no_plan';

GwPeer::start();

our %tok;
my $now = time;

%tok = (
    rs => jwt('RS256', { sub => 'alice', exp => $now + 3600 }),
    hs => jwt('HS256', { sub => 'bob', exp => $now + 3600 }),
    es => jwt('ES256', { sub => 'carol', exp => $now + 3600 }),
    dir => jwe('dir', 'A256GCM', { sub => 'dave', exp => $now + 3600 }),
    oaep => jwe('RSA-OAEP-256', 'A128GCM',
                { sub => 'erin', exp => $now + 3600 }),
    jwe_kid => jwe('dir', 'A256GCM', { sub => 'frank', exp => $now + 3600 },
                   { kid => 'rotated' }),
);

# a token signed with the HMAC secret under a kid no key set has
sub unknown_kid {
    return jwt('HS256', { sub => 'mallory', exp => $now + 3600 },
               { kid => shift });
}

# GET uri with a token: (status, $jwt_status, seconds taken)
sub get {
    my ($uri, $token) = @_;
    my $start = Time::HiRes::time();
    my ($status, $h) = GwHttp::request('GET', $uri,
        headers => [defined $token ? "Authorization: Bearer $token" : ()]);
    return ($status, $h->{'x-jwt-status'} // '',
            Time::HiRes::time() - $start);
}

# under valgrind a request may take a while of its own
our $SLOW = $ENV{TEST_NGINX_USE_VALGRIND} ? 3 : 0.5;

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('user_files', ">>> ok.txt\nok\n")
        unless defined $block->user_files;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: auth_jwt_key_zone needs name:size
--- http_config
    auth_jwt_key_zone jwks;
--- config
--- must_die
--- error_log
invalid zone "jwks": "name:size" expected



=== TEST 2: auth_jwt_key_zone: an invalid stale= time
--- http_config
    auth_jwt_key_zone jwks:1m stale=soon;
--- config
--- must_die
--- error_log
invalid time "stale=soon"



=== TEST 3: auth_jwt_key_zone: an unknown parameter
--- http_config
    auth_jwt_key_zone jwks:1m refresh=1m;
--- config
--- must_die
--- error_log
invalid parameter "refresh=1m"



=== TEST 4: auth_jwt_key_zone is one for the http block
--- http_config
    auth_jwt_key_zone jwks:1m;
    auth_jwt_key_zone other:1m;
--- config
--- must_die
--- error_log
"auth_jwt_key_zone" directive is duplicate



=== TEST 5: one fetch, kept in the zone: the request that waited for it
says key_wait, the others nothing more; $jwt_key_fetches counts it; a
location without auth_jwt_key_cache fetches for every request, as before
--- http_config
    auth_jwt_key_zone jwks:1m;
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_key_request /jwks;
        auth_jwt_key_cache 1h;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
    location /uncached {
        auth_jwt "api";
        auth_jwt_key_request /jwks0;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/jwks/z5;
    }
    location = /jwks0 {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/jwks/z5u;
    }
    location = /fetches {
        return 200 "$jwt_key_fetches\n";
    }
--- init
my @r = main::get('/t', $main::tok{rs});
Test::More::is("@r[0, 1]", '200 VALID:key_wait', 'the first request waits');
@r = main::get('/t', $main::tok{hs});
Test::More::is("@r[0, 1]", '200 VALID', 'the next uses the zone');
@r = main::get('/t', $main::tok{es});
Test::More::is("@r[0, 1]", '200 VALID', 'and the next');
Test::More::is(GwPeer::hits('z5'), 1, 'one fetch');
@r = main::get('/uncached', $main::tok{rs});
Test::More::is("@r[0, 1]", '200 VALID', 'no flags without a key cache');
main::get('/uncached', $main::tok{hs});
Test::More::is(GwPeer::hits('z5u'), 2, 'a fetch for each request');
--- request
GET /fetches
--- response_body
ok:1, failed:0
--- no_error_log
[error]
[warn]



=== TEST 6: refresh ahead: with auth_jwt_key_cache 6s the keys are
fetched again after 3s, in the background: for 9 seconds of requests no
request waits, though the key source takes half a second to answer
--- http_config
    auth_jwt_key_zone jwks:1m;
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_key_request /jwks;
        auth_jwt_key_cache 6s;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/jwks/z6?delay=0.5;
    }
--- init
my @r = main::get('/t', $main::tok{rs});
Test::More::is("@r[0, 1]", '200 VALID:key_wait', 'the first request waits');
my ($slow, $n, @bad) = (0, 0);
my $until = Time::HiRes::time() + 9;
while (Time::HiRes::time() < $until) {
    @r = main::get('/t', $main::tok{hs});
    $n++;
    push @bad, "@r[0, 1]" unless "@r[0, 1]" eq '200 VALID';
    $slow++ if $r[2] > $main::SLOW;
    Time::HiRes::sleep(0.2);
}
Test::More::is("@bad", '', "$n requests in 9s, none waited nor used old keys");
Test::More::is($slow, 0, 'none took as long as a fetch');
my $hits = GwPeer::hits('z6');
Test::More::ok($hits >= 3 && $hits <= 4, "1 fetch and 2 or 3 refreshes: $hits");
--- request
GET /t
--- error_code: 401
--- no_error_log
[error]
[warn]



=== TEST 7: stale if error: the key source fails after a first success;
past auth_jwt_key_cache the last keys serve (stale_keys), with one error
line for the outage, info lines for the retries, every 5s, and a notice
when it answers again
--- http_config
    auth_jwt_key_zone jwks:1m stale=1h;
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_key_request /jwks;
        auth_jwt_key_cache 2s;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/jwks/z7;
    }
--- init
my @r = main::get('/t', $main::tok{rs});
Test::More::is($r[0], 200, 'the first fetch');
GwPeer::mode('z7', 'fail');
my %seen;
my $until = Time::HiRes::time() + 8;
while (Time::HiRes::time() < $until) {
    @r = main::get('/t', $main::tok{hs});
    $seen{"@r[0, 1]"}++;
    Time::HiRes::sleep(0.2);
}
# how soon the keys turn stale is the machine's pace (valgrind): not asked
Test::More::is(join(', ', grep { !/^200 VALID(:stale_keys)?$/ } keys %seen),
               '', 'always let in');
Test::More::ok($seen{'200 VALID:stale_keys'}, 'with stale keys past 2s');
my $failed = qr/\[error\].*auth_jwt: key request "\/jwks" failed with status 500, keeping the keys fetched \d+s ago for up to \d+s more/;
Test::More::is(GwHttp::log_count($failed), 1, 'one error line');
my $retried = qr/\[info\].*auth_jwt: key request "\/jwks" failed with status 500/;
Test::More::ok(GwHttp::log_count($retried) >= 1, 'the retries at info');
GwPeer::mode('z7', 'keys');
Test::More::ok(GwHttp::wait_log(qr/\[notice\].*auth_jwt: key request "\/jwks" answers again/, 10),
               'a notice when it answers again');
@r = main::get('/t', $main::tok{hs});
Test::More::is("@r[0, 1]", '200 VALID', 'fresh keys again');
Test::More::is(GwHttp::log_count($failed), 1, 'still one error line');
--- request
GET /t
--- error_code: 401
--- no_error_log
[warn]



=== TEST 8: stale= is a bound: past auth_jwt_key_cache plus stale=, a
source that still fails gets its tokens 500, said once at warn
--- http_config
    auth_jwt_key_zone jwks:1m stale=4s;
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_key_request /jwks;
        auth_jwt_key_cache 1s;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/jwks/z8;
    }
--- init
my @r = main::get('/t', $main::tok{rs});
Test::More::is($r[0], 200, 'the first fetch');
GwPeer::mode('z8', 'fail');
Time::HiRes::sleep(1.5);
@r = main::get('/t', $main::tok{hs});
Test::More::is("@r[0, 1]", '200 VALID:stale_keys', 'stale keys');
Time::HiRes::sleep(8);
@r = main::get('/t', $main::tok{hs});
Test::More::is("@r[0, 1]", '500 KEY_FETCH_FAILED:key_wait', 'past stale=');
Test::More::ok(GwHttp::wait_log(qr/\[warn\].*auth_jwt: key request "\/jwks" still fails, and its last keys are past stale=/, 6),
               'said at warn');
--- request
GET /t
--- error_code: 401



=== TEST 9: key rotation: a token with a kid the keys lack makes them be
fetched again at once, and passes with the new key; the next one with it
costs no fetch
--- http_config
    auth_jwt_key_zone jwks:1m;
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_key_request /jwks;
        auth_jwt_key_cache 1h;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/jwks/z9;
    }
--- init
GwPeer::mode('z9', 'hs');
my @r = main::get('/t', $main::tok{hs});
Test::More::is($r[0], 200, 'the HMAC key alone');
GwPeer::mode('z9', 'keys');
@r = main::get('/t', $main::tok{rs});
Test::More::is("@r[0, 1]", '200 VALID:key_wait', 'the new kid: one fetch');
@r = main::get('/t', $main::tok{rs});
Test::More::is("@r[0, 1]", '200 VALID', 'then known');
Test::More::is(GwPeer::hits('z9'), 2, 'two fetches in all');
--- request
GET /t
--- error_code: 401
--- no_error_log
[error]



=== TEST 10: made-up kids: 200 tokens with random kids cost one fetch
more than the first, within unknown_kid=; after it, one more
--- http_config
    auth_jwt_key_zone jwks:1m unknown_kid=4s;
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_key_request /jwks;
        auth_jwt_key_cache 1h;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/jwks/z10;
    }
--- init
my @r = main::get('/t', $main::tok{hs});
Test::More::is($r[0], 200, 'the first fetch');
my $start = Time::HiRes::time();
my %seen;
for my $i (1 .. 200) {
    @r = main::get('/t', main::unknown_kid("made-up-$i-" . int(rand 1e9)));
    $seen{$r[0]}++;
}
Test::More::is(join(', ', map { "$_ x$seen{$_}" } sort keys %seen), '401 x200',
               'all refused');
my $hits = GwPeer::hits('z10');
my $most = 2 + int((Time::HiRes::time() - $start) / 4);
Test::More::ok($hits >= 2 && $hits <= $most,
               "$hits fetches: the first made-up kid's, one in 4s at most");
my $left = $start + 4.2 - Time::HiRes::time();
Time::HiRes::sleep($left) if $left > 0;
@r = main::get('/t', main::unknown_kid('later'));
Test::More::is($r[0], 401, 'unknown_kid= later');
Test::More::is(GwPeer::hits('z10'), $hits + 1, 'one more fetch');
--- request
GET /t
--- error_code: 401
--- no_error_log
[error]



=== TEST 11: unknown_kid=0: no fetch for a kid the keys lack
--- http_config
    auth_jwt_key_zone jwks:1m unknown_kid=0;
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_key_request /jwks;
        auth_jwt_key_cache 1h;
        alias html/ok.txt;
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/jwks/z11;
    }
--- init
GwPeer::mode('z11', 'hs');
Test::More::is((main::get('/t', $main::tok{hs}))[0], 200, 'the first fetch');
GwPeer::mode('z11', 'keys');
Test::More::is((main::get('/t', $main::tok{rs}))[0], 401, 'not fetched again');
Test::More::is(GwPeer::hits('z11'), 1, 'one fetch');
--- request
GET /t
--- error_code: 401



=== TEST 12: a background refresh goes through the key location as a
request's fetch does: here a static file, whose subrequests
log_subrequest counts; the module's own request is not logged
--- http_config
    auth_jwt_key_zone jwks:1m;
    log_format keys "$uri $status";
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_key_request /jwks;
        auth_jwt_key_cache 4s;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
    location = /jwks {
        internal;
        log_subrequest on;
        access_log logs/keys.log keys;
        alias $TEST_NGINX_JWT_DATA/jwks.json;
    }
--- init
my ($n, @bad) = (0);
main::get('/t', $main::tok{rs});
my $until = Time::HiRes::time() + 7;
while (Time::HiRes::time() < $until) {
    my @r = main::get('/t', $main::tok{hs});
    $n++;
    push @bad, "@r[0, 1]" unless "@r[0, 1]" eq '200 VALID';
    Time::HiRes::sleep(0.2);
}
Test::More::is("@bad", '', "$n requests, none waited");
open my $in, '<', "$Test::Nginx::Util::ServRoot/logs/keys.log" or die;
my @lines = <$in>;
Test::More::ok(@lines >= 3, scalar(@lines) . ' fetches logged');
Test::More::is(join('', grep { $_ ne "/jwks 200\n" } @lines), '',
               'each one the key location, 200');
--- request
GET /t
--- error_code: 401
--- no_error_log
[error]
[warn]



=== TEST 13: stale=0: past auth_jwt_key_cache, a source that fails gets
its tokens 500 at once
--- http_config
    auth_jwt_key_zone jwks:1m stale=0;
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_key_request /jwks;
        auth_jwt_key_cache 1s;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/jwks/z13;
    }
--- init
Test::More::is((main::get('/t', $main::tok{rs}))[0], 200, 'the first fetch');
GwPeer::mode('z13', 'fail');
Time::HiRes::sleep(2.2);
my @r = main::get('/t', $main::tok{hs});
Test::More::is("@r[0, 1]", '500 KEY_FETCH_FAILED:key_wait', 'no stale keys');
--- request
GET /t
--- error_code: 401
--- error_log eval
qr/\[error\] .*auth_jwt: key request "\/jwks" failed with status 500/



=== TEST 14: a client that leaves while its fetch is in flight gives the
fetch up: the request that waited for it fetches, and gets in
--- http_config
    auth_jwt_key_zone jwks:1m;
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_key_request /jwks;
        auth_jwt_key_cache 1h;
        alias html/ok.txt;
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/jwks/z14?delay=0.5;
    }
--- init
my @c = map {
    IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                          PeerPort => $Test::Nginx::Util::ServerPortForClient)
        or die "cannot connect: $!\n";
} 1 .. 2;
for my $i (0, 1) {
    syswrite $c[$i], "GET /t HTTP/1.0\r\nHost: localhost\r\n"
                     . "Authorization: Bearer $main::tok{rs}\r\n\r\n";
    Time::HiRes::sleep(0.1);
}
close $c[0];
my $resp = do { local $/; readline $c[1] } // '';
Test::More::like($resp, qr{^HTTP/1\.\d 200}, 'the one that waited gets in');
Test::More::cmp_ok(GwPeer::hits('z14'), '<=', 2, 'a fetch or two');
--- request
GET /t
--- error_code: 401
--- no_error_log
failed with status



=== TEST 15: a key request with variables must still be a URI: one that
can never start with "/" is refused at nginx -t
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_key_request keys-$host.json;
        alias html/ok.txt;
    }
--- must_die
--- error_log
"auth_jwt_key_request" directive needs a URI starting with "/"



=== TEST 16: encrypted tokens whose decryption keys are fetched into the
zone: one fetch serves a dir and an RSA-OAEP-256 token, and a JWE with a
kid the set lacks makes it be fetched again, then gets its 401
--- http_config
    auth_jwt_key_zone jwks:1m;
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_type encrypted;
        auth_jwt_key_request /_keys;
        auth_jwt_key_cache 1h;
        add_header X-JWT-Status $jwt_status always;
        add_header X-Sub $jwt_claim_sub;
        alias html/ok.txt;
    }
    location = /_keys {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/keys/jwe.json;
    }
    location /keys/ {
        alias $TEST_NGINX_JWT_DATA/;
    }
    location = /fetches {
        return 200 "$jwt_key_fetches\n";
    }
--- init
my @r = main::get('/t', $main::tok{dir});
Test::More::is("@r[0, 1]", '200 VALID:key_wait', 'dir: the keys fetched');
@r = main::get('/t', $main::tok{oaep});
Test::More::is("@r[0, 1]", '200 VALID', 'RSA-OAEP-256: from the zone');
@r = main::get('/t', $main::tok{jwe_kid});
Test::More::is("@r[0, 1]", '401 NO_KEY:key_wait', 'an unknown kid: refetched');
--- request
GET /fetches
--- response_body
ok:2, failed:0
--- no_error_log
[error]
[warn]
