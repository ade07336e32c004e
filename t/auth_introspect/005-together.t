# auth_introspect with the other checks of the access phase: a JWT, an API
# key or an opaque token on one route under "satisfy any", all of them
# under "satisfy all", and allow/deny. auth_introspect runs last whatever
# the order of the modules: a request the others let in (any) or refuse
# (all) costs the authorization server nothing. GwPeer's endpoint counts
# its calls.
#
# "SHA(name)" in a --- user_files section stands for the SHA-256 of
# $key{name}.

use lib 't/helpers';
use GwJwt;
use GwPeer qw($CLIENT);
use Digest::SHA ();
use Test::Nginx::Socket 'no_plan';

GwPeer::start();

$ENV{TEST_NGINX_CLIENT} = $CLIENT;

our %key = (
    partner => 'ak_live_partner_5e1f2a3b4c5d',
    mallory => 'ak_live_mallory_not_in_any_file',
);

our %tok = (
    dave => jwt('HS256', { sub => 'dave', exp => time + 3600 }),
    expired => jwt('HS256', { sub => 'dave', exp => time - 60 }),
);

sub sha { Digest::SHA::sha256_hex($key{+shift}) }

# /any takes a JWT, an API key or an opaque token, all three as Bearer
# tokens but the key; /all needs a key and an opaque token
add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('config', <<'CONFIG') unless defined $block->config;
    location /any {
        satisfy any;
        auth_jwt "api";
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/hs.json;
        auth_api_key "api";
        auth_api_key_file ../html/keys.txt;
        auth_introspect "api";
        auth_introspect_request /introspect/any;
        add_header X-User "$jwt_claim_sub|$api_key_consumer|$introspect_claim_sub" always;
        add_header X-Statuses "$jwt_status|$introspect_status" always;
        alias html/ok.txt;
    }
    location /all {
        auth_api_key "api";
        auth_api_key_file ../html/keys.txt;
        auth_introspect "api";
        auth_introspect_request /introspect/all;
        add_header X-User "$api_key_consumer|$introspect_claim_sub" always;
        alias html/ok.txt;
    }
    location /introspect/ {
        internal;
        proxy_set_header Authorization "$TEST_NGINX_CLIENT";
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/introspect/$tag;
    }
    location /hits/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT;
    }
CONFIG

    $block->set_value('user_files', ">>> ok.txt\nok\n>>> keys.txt\n"
                                    . "SHA(partner) partner\n")
        unless defined $block->user_files;

    (my $files = $block->user_files) =~ s/SHA\((\w+)\)/sha($1)/ge;
    $block->set_value('user_files', $files);
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: satisfy any: a JWT gets in, and nothing is asked
--- http_config
    map $uri $tag { default t1; }
--- request eval
["GET /any", "GET /hits/t1"]
--- more_headers eval
["Authorization: Bearer $::tok{dave}", ""]
--- error_code eval
[200, 200]
--- response_headers eval
["X-User: dave||\nX-Statuses: VALID|\n!WWW-Authenticate", ""]
--- response_body_like eval
["ok", "^0\n\$"]



=== TEST 2: satisfy any: an API key gets in, and nothing is asked
--- http_config
    map $uri $tag { default t2; }
--- request eval
["GET /any", "GET /hits/t2"]
--- more_headers eval
["X-API-Key: $::key{partner}", ""]
--- response_headers eval
["X-User: |partner|\n!WWW-Authenticate", ""]
--- response_body_like eval
["ok", "^0\n\$"]



=== TEST 3: satisfy any: an opaque token, which is no JWT, gets in once
the authorization server says it is active; no challenge is left
--- http_config
    map $uri $tag { default t3; }
--- request eval
["GET /any", "GET /hits/t3"]
--- more_headers eval
["Authorization: Bearer alice", ""]
--- response_headers eval
["X-User: ||alice\nX-Statuses: MALFORMED|VALID\n!WWW-Authenticate", ""]
--- response_body_like eval
["ok", "^1\n\$"]



=== TEST 4: satisfy any: an expired JWT is asked about as an opaque
token, and is not active there: 401 with the challenges of all three
--- http_config
    map $uri $tag { default t4; }
--- request
GET /any
--- more_headers eval
"Authorization: Bearer $::tok{expired}"
--- error_code: 401
--- response_headers
X-Statuses: EXPIRED|INACTIVE
--- raw_response_headers_like eval
qr/^(?=.*\r\nWWW-Authenticate: Key realm="api"\r\n)(?=(?:.*?WWW-Authenticate: Bearer realm="api", error="invalid_token"\r\n){2})/s



=== TEST 5: satisfy any: an unknown key and an inactive token: 401
--- http_config
    map $uri $tag { default t5; }
--- request
GET /any
--- more_headers eval
"X-API-Key: $::key{mallory}\r\nAuthorization: Bearer revoked"
--- error_code: 401
--- response_headers
X-Statuses: MALFORMED|INACTIVE



=== TEST 6: satisfy all: a key and an active token get in
--- http_config
    map $uri $tag { default t6; }
--- request
GET /all
--- more_headers eval
"X-API-Key: $::key{partner}\r\nAuthorization: Bearer bob"
--- response_headers
X-User: partner|bob
!WWW-Authenticate



=== TEST 7: satisfy all: without a valid key the token is never asked
about; an inactive one with a key: 401
--- http_config
    map $uri $tag { default t7; }
--- request eval
["GET /all", "GET /all", "GET /hits/t7"]
--- more_headers eval
["X-API-Key: $::key{mallory}\r\nAuthorization: Bearer bob",
 "X-API-Key: $::key{partner}\r\nAuthorization: Bearer revoked", ""]
--- error_code eval
[401, 401, 200]
--- response_body_like eval
["401", "401", "^1\n\$"]



=== TEST 8: allow and deny run first too: a denied address is never asked
about, and under satisfy any an allowed one needs no token
--- http_config
    map $uri $tag { default t8; }
--- config
    location /denied {
        deny all;
        auth_introspect "api";
        auth_introspect_request /introspect/t8;
        alias html/ok.txt;
    }
    location /allowed {
        satisfy any;
        allow 127.0.0.1;
        deny all;
        auth_introspect "api";
        auth_introspect_request /introspect/t8;
        alias html/ok.txt;
    }
    location /introspect/ {
        internal;
        proxy_set_header Authorization "$TEST_NGINX_CLIENT";
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/introspect/$tag;
    }
    location /hits/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT;
    }
--- request eval
["GET /denied", "GET /allowed", "GET /allowed", "GET /hits/t8"]
--- more_headers eval
["Authorization: Bearer alice", "", "Authorization: Bearer revoked", ""]
--- error_code eval
[403, 200, 200, 200]
--- response_body_like eval
["403", "ok", "ok", "^0\n\$"]
