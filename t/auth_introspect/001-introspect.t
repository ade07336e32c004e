# auth_introspect: what the authorization server's answer lets in, what
# the request to it holds, and the variables the answer gives. GwPeer's
# introspection endpoint knows a few tokens by name (alice, bob, expired,
# later, revoked...); the others are not active.

use lib 't/helpers';
use GwPeer qw($CLIENT);
use Test::Nginx::Socket 'no_plan';

GwPeer::start();

$ENV{TEST_NGINX_CLIENT} = $CLIENT;

# /t is protected by the endpoint at /introspect, and shows the verdict
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
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/introspect/t;
    }
CONFIG

    $block->set_value('user_files', ">>> ok.txt\nok\n")
        unless defined $block->user_files;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: an active token gets in, with its claims
--- request
GET /t
--- more_headers
Authorization: Bearer alice
--- response_headers
X-Status: VALID
X-Sub: alice
!WWW-Authenticate
--- response_body
ok



=== TEST 2: a token the server does not know is not active: 401
--- log_level: info
--- request
GET /t
--- more_headers
Authorization: Bearer nobody-knows-me
--- error_code: 401
--- response_headers
X-Status: INACTIVE
WWW-Authenticate: Bearer realm="api", error="invalid_token"
--- error_log
auth_introspect: rejected token: inactive token
--- no_error_log
nobody-knows-me



=== TEST 3: no token: 401 with the realm alone, and no request to the server
--- config
    location /t {
        auth_introspect "api";
        auth_introspect_request /introspect;
        add_header X-Status $introspect_status always;
        alias html/ok.txt;
    }
    location = /introspect {
        internal;
        proxy_set_header Authorization "$TEST_NGINX_CLIENT";
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/introspect/t3;
    }
    location /hits/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT;
    }
--- request eval
["GET /t", "GET /t", "GET /hits/t3"]
--- more_headers eval
["", "Authorization: Basic YTpi", ""]
--- error_code eval
[401, 401, 200]
--- response_headers eval
["X-Status: MISSING\nWWW-Authenticate: Bearer realm=\"api\"",
 "X-Status: MISSING", ""]
--- response_body_like eval
["401", "401", "^0\n\$"]



=== TEST 4: no token: one info line
--- log_level: info
--- request
GET /t
--- error_code: 401
--- error_log
auth_introspect: no token



=== TEST 5: active says true but "exp" has passed: expired
--- log_level: info
--- request
GET /t
--- more_headers
Authorization: Bearer expired
--- error_code: 401
--- response_headers
X-Status: EXPIRED
!X-Sub
--- error_log
auth_introspect: rejected token: token expired



=== TEST 6: "nbf" ahead: not yet valid, unless the leeway covers it
--- config
    location /t {
        auth_introspect "api";
        auth_introspect_request /introspect;
        add_header X-Status $introspect_status always;
        alias html/ok.txt;

        location /t/lenient {
            auth_introspect_leeway 11m;
            alias html/ok.txt;
        }
    }
    location = /introspect {
        internal;
        proxy_set_header Authorization "$TEST_NGINX_CLIENT";
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/introspect/t;
    }
--- request eval
["GET /t", "GET /t/lenient", "GET /t/lenient"]
--- more_headers eval
["Authorization: Bearer later", "Authorization: Bearer later",
 "Authorization: Bearer expired"]
--- error_code eval
[401, 200, 200]
--- response_headers eval
["X-Status: NOT_YET_VALID", "X-Status: VALID", "X-Status: VALID"]



=== TEST 7: "nbf" ahead: one info line
--- log_level: info
--- request
GET /t
--- more_headers
Authorization: Bearer later
--- error_code: 401
--- error_log
auth_introspect: rejected token: token not yet valid



=== TEST 8: the claims of the answer as variables: strings, arrays,
objects, numbers, booleans, and a missing member
--- config
    location /t {
        auth_introspect "api";
        auth_introspect_request /introspect;
        add_header X-Scope $introspect_claim_scope;
        add_header X-Client $introspect_claim_client_id;
        add_header X-Aud $introspect_claim_aud;
        add_header X-Iss $introspect_claim_iss;
        add_header X-Ext $introspect_claim_ext;
        add_header X-Active $introspect_claim_active;
        add_header X-Type $introspect_claim_token_type;
        add_header X-None "[$introspect_claim_nothing]";
        alias html/ok.txt;
    }
    location = /introspect {
        internal;
        proxy_set_header Authorization "$TEST_NGINX_CLIENT";
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/introspect/t;
    }
--- request
GET /t
--- more_headers
Authorization: Bearer alice
--- response_headers
X-Scope: orders:read orders:write
X-Client: app-1
X-Aud: orders,billing
X-Iss: https://as.example
X-Ext: {"roles":["admin","ops"],"tenant":"acme"}
X-Active: true
X-Type: Bearer
X-None: []



=== TEST 9: membership in the scope and in aud, a nested list, and
conditions: 403 for a scope missing, 401 for an audience missing
--- http_config
    auth_introspect_claim_contains $can_write scope orders:write;
    auth_introspect_claim_contains $can_read scope orders:read;
    auth_introspect_claim_contains $for_billing aud billing;
    auth_introspect_claim_contains $is_admin ext roles admin;
    auth_introspect_claim_contains $scope_part scope orders;
--- config
    location /t {
        auth_introspect "api";
        auth_introspect_request /introspect;
        add_header X-Status $introspect_status always;
        add_header X-Flags "$can_write$can_read$for_billing$is_admin$scope_part" always;
        alias html/ok.txt;

        location /t/write {
            auth_introspect_require $can_write error=403;
            alias html/ok.txt;
        }

        location /t/billing {
            auth_introspect_require $for_billing;
            alias html/ok.txt;
        }
    }
    location = /introspect {
        internal;
        proxy_set_header Authorization "$TEST_NGINX_CLIENT";
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/introspect/t;
    }
--- request eval
["GET /t", "GET /t", "GET /t/write", "GET /t/write", "GET /t/billing",
 "GET /t/billing", "GET /t"]
--- more_headers eval
["Authorization: Bearer alice", "Authorization: Bearer bob",
 "Authorization: Bearer alice", "Authorization: Bearer bob",
 "Authorization: Bearer alice", "Authorization: Bearer bob",
 "Authorization: Bearer revoked"]
--- error_code eval
[200, 200, 200, 403, 200, 401, 401]
--- response_headers eval
["X-Flags: 11110", "X-Flags: 01000", "X-Status: VALID",
 "X-Status: REQUIRE_FAILED", "X-Status: VALID",
 "X-Status: REQUIRE_FAILED\nWWW-Authenticate: Bearer realm=\"api\", error=\"invalid_token\"",
 "X-Flags: "]



=== TEST 10: the request to the authorization server as RFC 7662 has it:
a POST of the form, the gateway's credentials, none of the client's
headers, the token percent-encoded
--- config
    location /t {
        auth_introspect "api";
        auth_introspect_request /introspect;
        add_header X-Method $introspect_claim_method;
        add_header X-Form $introspect_claim_form;
        add_header X-Headers $introspect_claim_headers;
        add_header X-Type $introspect_claim_content_type;
        add_header X-Sub $introspect_claim_sub;
        alias html/ok.txt;
    }
    location = /introspect {
        internal;
        proxy_set_header Authorization "$TEST_NGINX_CLIENT";
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/introspect/t;
    }
--- request
GET /t
--- more_headers
Authorization: Bearer echo+a/b=c%d~e.f_g-h
Cookie: session=secret
X-Custom: private
User-Agent: test-agent
--- response_headers
X-Method: POST
X-Form: token=echo%2Ba%2Fb%3Dc%25d~e.f_g-h
X-Headers: Accept,Authorization,Connection,Content-Length,Content-Type,Host
X-Type: application/x-www-form-urlencoded
X-Sub: echo+a/b=c%d~e.f_g-h



=== TEST 11: token_type_hint, sent after the token
--- config
    location /t {
        auth_introspect "api";
        auth_introspect_request /introspect token_type_hint=access_token;
        add_header X-Form $introspect_claim_form;
        alias html/ok.txt;
    }
    location = /introspect {
        internal;
        proxy_set_header Authorization "$TEST_NGINX_CLIENT";
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/introspect/t;
    }
--- request
GET /t
--- more_headers
Authorization: Bearer echo
--- response_headers
X-Form: token=echo&token_type_hint=access_token



=== TEST 12: the token from any variable: a session cookie, and the
Authorization header is then not read
--- config
    location /t {
        auth_introspect "api" token=$cookie_session;
        auth_introspect_request /introspect;
        add_header X-Status $introspect_status always;
        add_header X-Sub $introspect_claim_sub always;
        alias html/ok.txt;
    }
    location = /introspect {
        internal;
        proxy_set_header Authorization "$TEST_NGINX_CLIENT";
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/introspect/t;
    }
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
["Cookie: theme=dark; session=bob", "Authorization: Bearer alice"]
--- error_code eval
[200, 401]
--- response_headers eval
["X-Sub: bob", "X-Status: MISSING"]



=== TEST 13: the Bearer scheme in any case, spaces around the token
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
["Authorization: bearer    alice  ", "Authorization: BEARER bob"]
--- response_headers eval
["X-Sub: alice", "X-Sub: bob"]



=== TEST 14: a token longer than 16 KB is refused without a request
--- config
    large_client_header_buffers 4 32k;
    location /t {
        auth_introspect "api";
        auth_introspect_request /introspect;
        add_header X-Status $introspect_status always;
        alias html/ok.txt;
    }
    location = /introspect {
        internal;
        proxy_set_header Authorization "$TEST_NGINX_CLIENT";
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/introspect/t11;
    }
    location /hits/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT;
    }
--- request eval
["GET /t", "GET /hits/t11"]
--- more_headers eval
["Authorization: Bearer " . ("a" x 16385), ""]
--- error_code eval
[401, 200]
--- response_headers eval
["X-Status: MALFORMED", ""]
--- response_body_like eval
["401", "^0\n\$"]



=== TEST 15: a token longer than 16 KB: one info line
--- log_level: info
--- config
    large_client_header_buffers 4 32k;
    location /t {
        auth_introspect "api";
        auth_introspect_request /introspect;
        alias html/ok.txt;
    }
    location = /introspect {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/introspect/t11;
    }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer " . ("a" x 16385)
--- error_code: 401
--- error_log
auth_introspect: rejected token: longer than 16k



=== TEST 16: $introspect_response, the whole answer; $introspect_status
empty where auth_introspect is off
--- config
    location /t {
        auth_introspect "api";
        auth_introspect_request /introspect;
        add_header X-Response $introspect_response;
        alias html/ok.txt;

        location /t/open {
            auth_introspect off;
            add_header X-Status "[$introspect_status]";
            alias html/ok.txt;
        }
    }
    location = /introspect {
        internal;
        proxy_set_header Authorization "$TEST_NGINX_CLIENT";
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/introspect/t;
    }
--- request eval
["GET /t", "GET /t/open"]
--- more_headers eval
["Authorization: Bearer noexp", "Authorization: Bearer noexp"]
--- response_headers eval
["X-Response: {\"active\":true,\"sub\":\"noexp\"}", "X-Status: []"]



=== TEST 17: after error_page to a location without auth_introspect,
$introspect_status still tells the verdict
--- config
    location /t {
        auth_introspect "api";
        auth_introspect_request /introspect;
        error_page 401 /denied;
        alias html/ok.txt;
    }
    location = /denied {
        return 401 "denied: $introspect_status\n";
    }
    location = /introspect {
        internal;
        proxy_set_header Authorization "$TEST_NGINX_CLIENT";
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/introspect/t;
    }
--- request
GET /t
--- more_headers
Authorization: Bearer revoked
--- error_code: 401
--- response_body
denied: INACTIVE
