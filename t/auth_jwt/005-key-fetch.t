# auth_jwt: what key requests cost. A token is read before any key is
# fetched, so requests without a usable one never reach the key source; a
# worker has one fetch in flight per key source, which the requests that
# need it wait for; and a key source that failed is not asked again for
# 5 seconds. GwPeer's key source counts what it is asked.

use lib 't/helpers';
use GwJwt;
use GwPeer ();
use Test::Nginx::Socket 'no_plan';

GwPeer::start();

our %tok;
my $now = time;

%tok = (
    valid => jwt('RS256', { sub => 'alice', exp => $now + 3600 }),
    hs => jwt('HS256', { sub => 'bob', exp => $now + 3600 }),
    expired => jwt('HS256', { sub => 'a', exp => $now - 10 }),
    not_yet => jwt('HS256', { sub => 'a', nbf => $now + 600 }),
    none => GwJwt::jws('HS256', '{"alg":"none"}', '{"sub":"a"}'),
    two => b64('{"alg":"HS256"}') . '.' . b64('{"sub":"a"}'),
);

sub get {
    my ($uri, $token) = @_;
    my ($status) = GwPeer::burst(1, "GET $uri HTTP/1.0\r\nHost: localhost\r\n"
        . (defined $token ? "Authorization: Bearer $token\r\n" : '')
        . "\r\n");
    return $status;
}

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('user_files', ">>> ok.txt\nok\n")
        unless defined $block->user_files;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: no token, a malformed one or an expired one: 401 without a
fetch; a valid token then fetches once
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
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/keys/t1;
    }
    location /hits/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT;
    }
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t", "GET /t", "GET /t", "GET /t",
 "GET /hits/t1", "GET /t", "GET /t", "GET /hits/t1"]
--- more_headers eval
["", "Authorization: Basic x", "Authorization: Bearer abc",
 "Authorization: Bearer $::tok{two}", "Authorization: Bearer $::tok{none}",
 "Authorization: Bearer $::tok{expired}",
 "Authorization: Bearer $::tok{not_yet}", "",
 "Authorization: Bearer $::tok{valid}", "Authorization: Bearer $::tok{hs}",
 ""]
--- error_code eval
[401, 401, 401, 401, 401, 401, 401, 200, 200, 200, 200]
--- response_headers eval
["X-JWT-Status: MISSING", "X-JWT-Status: MISSING",
 "X-JWT-Status: MALFORMED", "X-JWT-Status: MALFORMED",
 "X-JWT-Status: MALFORMED", "X-JWT-Status: EXPIRED",
 "X-JWT-Status: NOT_YET_VALID", "", "X-JWT-Status: VALID",
 "X-JWT-Status: VALID", ""]
--- response_body_like eval
["401", "401", "401", "401", "401", "401", "401", "^0\n\$", "^ok\n\$",
 "^ok\n\$", "^1\n\$"]



=== TEST 2: the same without auth_jwt_key_cache, where every request with
a token fetches
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_key_request /jwks;
        alias html/ok.txt;
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/keys/t2;
    }
    location /hits/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT;
    }
--- request eval
["GET /t", "GET /t", "GET /t", "GET /hits/t2", "GET /t", "GET /t",
 "GET /hits/t2"]
--- more_headers eval
["", "Authorization: Bearer a.b.c", "Authorization: Bearer $::tok{expired}",
 "", "Authorization: Bearer $::tok{valid}", "Authorization: Bearer $::tok{hs}",
 ""]
--- error_code eval
[401, 401, 401, 200, 200, 200, 200]
--- response_body_like eval
["401", "401", "401", "^0\n\$", "^ok\n\$", "^ok\n\$", "^2\n\$"]



=== TEST 3: 20 requests at once with an empty cache: one fetch, which
they all wait for (the key source answers half a second late)
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_key_request /jwks;
        auth_jwt_key_cache 1h;
        alias html/ok.txt;
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/keys/t3?delay=0.5;
    }
    location /hits/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT;
    }
--- init
my @status = GwPeer::burst(20, "GET /t HTTP/1.0\r\nHost: localhost\r\n"
                               . "Authorization: Bearer $main::tok{valid}\r\n\r\n");
Test::More::is("@status", join(' ', (200) x 20), '20 requests let in');
Test::More::is(main::get('/t', $main::tok{hs}), 200, 'cached keys');
--- request
GET /hits/t3
--- response_body
1



=== TEST 4: without auth_jwt_key_cache, requests at once share the fetch
in flight too; a request after it fetches again (the key source answers
2 seconds late, time for all 20 to arrive, under valgrind too)
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_key_request /jwks;
        alias html/ok.txt;
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/keys/t4?delay=2;
    }
    location /hits/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT;
    }
--- init
my @status = GwPeer::burst(20, "GET /t HTTP/1.0\r\nHost: localhost\r\n"
                               . "Authorization: Bearer $main::tok{valid}\r\n\r\n");
Test::More::is("@status", join(' ', (200) x 20), '20 requests let in');
Test::More::is(GwPeer::hits('t4'), 1, 'one fetch for them all');
Test::More::is(main::get('/t', $main::tok{hs}), 200, 'a later request');
--- request
GET /hits/t4
--- response_body
2



=== TEST 5: a key source that fails is asked once in 5 seconds: requests
with a token meanwhile get 500 at once, requests without a usable one
401; one error line for each failure
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_key_request /jwks;
        auth_jwt_key_cache 1h;
        alias html/ok.txt;
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/fail/t5;
    }
    location /hits/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT;
    }
--- init
Test::More::is(main::get('/t', $main::tok{valid}), 500, 'the fetch fails');
my $start = Time::HiRes::time();
my @status = GwPeer::burst(5, "GET /t HTTP/1.0\r\nHost: localhost\r\n"
                              . "Authorization: Bearer $main::tok{hs}\r\n\r\n");
Test::More::is("@status", '500 500 500 500 500', 'not asked again');
Test::More::is(main::get('/t'), 401, 'no token');
Test::More::is(main::get('/t', 'a.b.c'), 401, 'a malformed token');
Test::More::is(GwPeer::hits('t5'), 1, 'asked once');
my $left = $start + 5.3 - Time::HiRes::time();
Time::HiRes::sleep($left) if $left > 0;
Test::More::is(main::get('/t', $main::tok{valid}), 500, 'asked again');
Test::More::is(main::get('/t', $main::tok{valid}), 500, 'not asked again');
--- request
GET /hits/t5
--- response_body
2
--- grep_error_log eval
qr/auth_jwt: key request "\/jwks" failed with status \d+/
--- grep_error_log_out
auth_jwt: key request "/jwks" failed with status 500
auth_jwt: key request "/jwks" failed with status 500



=== TEST 6: requests waiting for a fetch that fails all get 500, after
one fetch and one error line
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_key_request /jwks;
        alias html/ok.txt;
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/fail/t6?delay=0.5;
    }
--- init
my @status = GwPeer::burst(10, "GET /t HTTP/1.0\r\nHost: localhost\r\n"
                               . "Authorization: Bearer $main::tok{valid}\r\n\r\n");
Test::More::is("@status", join(' ', (500) x 10), '10 requests refused');
Test::More::is(GwPeer::hits('t6'), 1, 'one fetch for them all');
--- request
GET /t
--- error_code: 401
--- grep_error_log eval
qr/auth_jwt: key request "\/jwks" failed with status \d+/
--- grep_error_log_out
auth_jwt: key request "/jwks" failed with status 500



=== TEST 7: $jwt_status while the key source is not asked again: the
failure for a token, MISSING or MALFORMED otherwise; the line says why
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_request /jwks;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/fail/t7;
    }
--- init
Test::More::is(main::get("/t?t=$main::tok{valid}"), 500, 'the fetch fails');
--- request eval
"GET /t?t=$::tok{hs}"
--- error_code: 500
--- response_headers
X-JWT-Status: KEY_FETCH_FAILED
--- error_log
auth_jwt: key request "/jwks" is not asked again within 5s of a failure



=== TEST 8: a key source that answers again is used after the 5 seconds
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_key_request /jwks;
        auth_jwt_key_cache 1h;
        alias html/ok.txt;
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/flaky/t8;
    }
    location /hits/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT;
    }
--- init
Test::More::is(main::get('/t', $main::tok{valid}), 500, 'the fetch fails');
my $start = Time::HiRes::time();
Test::More::is(main::get('/t', $main::tok{valid}), 500, 'not asked again');
my $left = $start + 5.3 - Time::HiRes::time();
Time::HiRes::sleep($left) if $left > 0;
Test::More::is(main::get('/t', $main::tok{valid}), 200, 'asked again');
Test::More::is(main::get('/t', $main::tok{hs}), 200, 'cached');
--- request
GET /hits/t8
--- response_body
2



=== TEST 9: a client that leaves while its fetch is in flight leaves no
failure behind: the request that waited for it is let in
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_key_request /jwks;
        auth_jwt_key_cache 1h;
        alias html/ok.txt;
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/keys/t9?delay=0.5;
    }
--- init
my @c = map {
    IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                          PeerPort => $Test::Nginx::Util::ServerPortForClient)
        or die "cannot connect: $!\n";
} 1 .. 2;
for my $i (0, 1) {
    syswrite $c[$i], "GET /t HTTP/1.0\r\nHost: localhost\r\n"
                     . "Authorization: Bearer $main::tok{valid}\r\n\r\n";
    Time::HiRes::sleep(0.1);
}
close $c[0];
my $resp = do { local $/; readline $c[1] } // '';
Test::More::like($resp, qr{^HTTP/1\.\d 200}, 'the one that waited gets in');
Test::More::cmp_ok(GwPeer::hits('t9'), '<=', 2, 'a fetch or two');
--- request
GET /t
--- error_code: 401
--- no_error_log
failed with status
