# auth_introspect: what the authorization server is asked. Answers kept in
# the auth_introspect_cache zone (an active token's until its "exp" or for
# valid=, any other for invalid=), one question in flight for a token
# however many requests carry it, and none for the requests another check
# decides. GwPeer's endpoint counts its calls: /hits/TAG.

use lib 't/helpers';
use GwPeer qw($CLIENT);
use Time::HiRes ();
use Test::Nginx::Socket 'no_plan';

GwPeer::start();

$ENV{TEST_NGINX_CLIENT} = $CLIENT;

sub get {
    my ($uri, $token) = @_;
    my ($status) = GwPeer::burst(1, "GET $uri HTTP/1.0\r\nHost: localhost\r\n"
        . (defined $token ? "Authorization: Bearer $token\r\n" : '')
        . "\r\n");
    return $status;
}

# /t asks /introspect, which reaches GwPeer's endpoint as /introspect/TAG;
# a block names its TAG in --- http_config as $tag
add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('config', <<'CONFIG') unless defined $block->config;
    location /t {
        auth_introspect "api";
        auth_introspect_request /introspect;
        add_header X-Status $introspect_status always;
        add_header X-Sub $introspect_claim_sub always;
        alias html/ok.txt;
    }
    location = /introspect {
        internal;
        proxy_set_header Authorization "$TEST_NGINX_CLIENT";
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/introspect/$tag;
    }
    location /hits/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT;
    }
CONFIG

    $block->set_value('user_files', ">>> ok.txt\nok\n")
        unless defined $block->user_files;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: without a cache, every request asks
--- http_config
    map $uri $tag { default t1; }
--- request eval
["GET /t", "GET /t", "GET /t", "GET /hits/t1"]
--- more_headers eval
["Authorization: Bearer alice", "Authorization: Bearer alice",
 "Authorization: Bearer revoked", ""]
--- error_code eval
[200, 200, 401, 200]
--- response_body_like eval
["ok", "ok", "401", "^3\n\$"]



=== TEST 2: with a cache, ten requests with one token ask once, and
the claims come from the zone
--- http_config
    map $uri $tag { default t2; }
    auth_introspect_cache zone=tokens:1m valid=1h;
--- request eval
[("GET /t") x 10, "GET /hits/t2"]
--- more_headers eval
[("Authorization: Bearer alice") x 10, ""]
--- response_headers eval
[("X-Sub: alice") x 10, ""]
--- response_body_like eval
[("ok") x 10, "^1\n\$"]



=== TEST 3: an inactive token is kept for invalid= (negative cache), and
asked about again after it
--- http_config
    map $uri $tag { default t3; }
    auth_introspect_cache zone=tokens:1m valid=1h invalid=3s;
--- init
Test::More::is(main::get('/t', 'revoked'), 401, 'inactive');
Test::More::is(main::get('/t', 'revoked'), 401, 'inactive, from the zone');
Test::More::is(main::get('/t', 'revoked'), 401, 'inactive, from the zone');
Test::More::is(GwPeer::hits('t3'), 1, 'asked once');
Time::HiRes::sleep(4.1);
Test::More::is(main::get('/t', 'revoked'), 401, 'inactive, asked again');
--- request
GET /hits/t3
--- response_body
2



=== TEST 4: invalid=0: inactive tokens are not kept; active ones are
--- http_config
    map $uri $tag { default t4; }
    auth_introspect_cache zone=tokens:1m invalid=0;
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t", "GET /hits/t4"]
--- more_headers eval
["Authorization: Bearer revoked", "Authorization: Bearer revoked",
 "Authorization: Bearer bob", "Authorization: Bearer bob", ""]
--- error_code eval
[401, 401, 200, 200, 200]
--- response_body_like eval
["401", "401", "ok", "ok", "^3\n\$"]



=== TEST 5: an active answer is kept until its "exp" when that comes
before valid=: "soon" expires 3 seconds after it is asked about (the
endpoint then gives it 3 seconds more)
--- http_config
    map $uri $tag { default t5; }
    auth_introspect_cache zone=tokens:1m valid=1h invalid=1h;
--- init
Test::More::is(main::get('/t', 'soon'), 200, 'active');
Test::More::is(main::get('/t', 'soon'), 200, 'active, from the zone');
Test::More::is(GwPeer::hits('t5'), 1, 'asked once');
Time::HiRes::sleep(4.1);
--- request eval
["GET /t", "GET /hits/t5"]
--- more_headers eval
["Authorization: Bearer soon", ""]
--- response_headers eval
["X-Status: VALID", ""]
--- response_body_like eval
["ok", "^2\n\$"]



=== TEST 6: valid= bounds an answer without "exp"; valid=0 keeps no
active answer at all
--- http_config
    map $uri $tag { default t6; }
    auth_introspect_cache zone=tokens:1m valid=3s;
--- config
    location /t {
        auth_introspect "api";
        auth_introspect_request /introspect;
        alias html/ok.txt;

        location /t/now {
            auth_introspect_cache zone=tokens:1m valid=0;
            alias html/ok.txt;
        }
    }
    location = /introspect {
        internal;
        proxy_set_header Authorization "$TEST_NGINX_CLIENT";
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/introspect/$tag;
    }
    location /hits/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT;
    }
--- init
Test::More::is(main::get('/t', 'noexp'), 200, 'active');
Test::More::is(main::get('/t', 'noexp'), 200, 'active, from the zone');
Test::More::is(GwPeer::hits('t6'), 1, 'asked once');
Time::HiRes::sleep(4.1);
Test::More::is(main::get('/t', 'noexp'), 200, 'asked again');
Test::More::is(GwPeer::hits('t6'), 2, 'asked again after valid=');
Test::More::is(main::get('/t/now', 'bob'), 200, 'valid=0');
Test::More::is(main::get('/t/now', 'bob'), 200, 'valid=0');
--- request
GET /hits/t6
--- response_body
4



=== TEST 7: 20 requests at once with a new token: one question, which
they all wait for (the endpoint answers half a second late)
--- http_config
    map $uri $tag { default t7; }
--- config
    location /t {
        auth_introspect "api";
        auth_introspect_request /introspect;
        alias html/ok.txt;
    }
    location = /introspect {
        internal;
        proxy_set_header Authorization "$TEST_NGINX_CLIENT";
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/introspect/t7?delay=0.5;
    }
    location /hits/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT;
    }
--- init
my @status = GwPeer::burst(20, "GET /t HTTP/1.0\r\nHost: localhost\r\n"
                               . "Authorization: Bearer alice\r\n\r\n");
Test::More::is("@status", join(' ', (200) x 20), '20 requests let in');
@status = GwPeer::burst(10, "GET /t HTTP/1.0\r\nHost: localhost\r\n"
                            . "Authorization: Bearer revoked\r\n\r\n");
Test::More::is("@status", join(' ', (401) x 10), '10 requests refused');
--- request
GET /hits/t7
--- response_body
2



=== TEST 8: the same with a cache: one question, and the next requests
find the answer in the zone
--- http_config
    map $uri $tag { default t8; }
    auth_introspect_cache zone=tokens:1m;
--- config
    location /t {
        auth_introspect "api";
        auth_introspect_request /introspect;
        add_header X-Sub $introspect_claim_sub;
        alias html/ok.txt;
    }
    location = /introspect {
        internal;
        proxy_set_header Authorization "$TEST_NGINX_CLIENT";
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/introspect/t8?delay=0.5;
    }
    location /hits/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT;
    }
--- init
my @status = GwPeer::burst(20, "GET /t HTTP/1.0\r\nHost: localhost\r\n"
                               . "Authorization: Bearer bob\r\n\r\n");
Test::More::is("@status", join(' ', (200) x 20), '20 requests let in');
Test::More::is(main::get('/t', 'bob'), 200, 'from the zone');
--- request eval
["GET /t", "GET /hits/t8"]
--- more_headers eval
["Authorization: Bearer bob", ""]
--- response_headers eval
["X-Sub: bob", ""]
--- response_body_like eval
["ok", "^1\n\$"]



=== TEST 9: a client that goes away while its question is in flight:
a request that waited for it asks anew, and gets in
--- http_config
    map $uri $tag { default t9; }
--- config
    location /t {
        auth_introspect "api";
        auth_introspect_request /introspect;
        alias html/ok.txt;
    }
    location = /introspect {
        internal;
        proxy_set_header Authorization "$TEST_NGINX_CLIENT";
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/introspect/t9?delay=1;
    }
    location /hits/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT;
    }
--- init
my $gone = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                 PeerPort => $ENV{TEST_NGINX_SERVER_PORT})
    or die "cannot connect: $!\n";
syswrite $gone, "GET /t HTTP/1.0\r\nHost: localhost\r\n"
                . "Authorization: Bearer alice\r\n\r\n";
Time::HiRes::sleep(0.2);
my $pid = fork // die "fork: $!\n";
if ($pid == 0) {
    Time::HiRes::sleep(0.2);
    close $gone;
    POSIX::_exit(0);
}
close $gone;
Test::More::is(main::get('/t', 'alice'), 200, 'the one that waited');
waitpid $pid, 0;
--- request
GET /hits/t9
--- response_body
2



=== TEST 10: a small zone, which holds one 15 KB answer: the least
recently used answer makes room for a new one
--- http_config
    map $uri $tag { default t10; }
    auth_introspect_cache zone=small:32k valid=1h;
--- init
Test::More::is(main::get('/t', 'big'), 200, 'big, asked');
Test::More::is(main::get('/t', 'big2'), 200, 'big2, asked: big goes');
Test::More::is(main::get('/t', 'big'), 200, 'big, asked again');
Test::More::is(main::get('/t', 'big'), 200, 'big, from the zone');
Test::More::is(GwPeer::hits('t10'), 3, 'three questions');
Test::More::is(main::get('/t', 'alice'), 200, 'alice, asked');
Test::More::is(main::get('/t', 'big2'), 200, 'big2, asked: big goes');
--- request eval
["GET /t", "GET /hits/t10"]
--- more_headers eval
["Authorization: Bearer alice", ""]
--- response_headers eval
["X-Sub: alice", ""]
--- response_body_like eval
["ok", "^5\n\$"]



=== TEST 11: a claim read before the access phase (in the rewrite phase
here, as a rate-limit key would be in the preaccess phase) is empty
while the token is still to be asked about, and there once it is in the
zone
--- http_config
    map $uri $tag { default t11; }
    auth_introspect_cache zone=tokens:1m;
--- config
    location /t {
        set $early "[$introspect_claim_sub]";
        auth_introspect "api";
        auth_introspect_request /introspect;
        add_header X-Early $early;
        add_header X-Late "[$introspect_claim_sub]";
        alias html/ok.txt;
    }
    location = /introspect {
        internal;
        proxy_set_header Authorization "$TEST_NGINX_CLIENT";
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/introspect/$tag;
    }
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
[("Authorization: Bearer alice") x 2]
--- response_headers eval
["X-Early: []\nX-Late: [alice]", "X-Early: [alice]\nX-Late: [alice]"]
