# auth_introspect's directives at nginx -t: what each refuses, with the
# reason; and what is inherited.

use lib 't/helpers';
use GwPeer qw($CLIENT);
use Test::Nginx::Socket 'no_plan';

GwPeer::start();

$ENV{TEST_NGINX_CLIENT} = $CLIENT;

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('user_files', ">>> ok.txt\nok\n")
        unless defined $block->user_files;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: auth_introspect without auth_introspect_request
--- config
    location /t {
        auth_introspect "api";
    }
--- must_die
--- error_log eval
qr/"auth_introspect" in \S+nginx\.conf:\d+ has no "auth_introspect_request" where it applies/



=== TEST 2: a request URI that is not a local URI
--- config
    location /t {
        auth_introspect "api";
        auth_introspect_request http://as.example/introspect;
    }
--- must_die
--- error_log
"auth_introspect_request" directive needs a URI starting with "/"



=== TEST 3: a parameter of auth_introspect_request other than
token_type_hint=
--- config
    location /t {
        auth_introspect "api";
        auth_introspect_request /introspect hint=access_token;
    }
--- must_die
--- error_log
invalid parameter "hint=access_token": "token_type_hint=type" expected



=== TEST 4: one URI named with two hints
--- config
    location /a {
        auth_introspect "api";
        auth_introspect_request /introspect token_type_hint=access_token;
    }
    location /b {
        auth_introspect "api";
        auth_introspect_request /introspect;
    }
--- must_die
--- error_log
"auth_introspect_request" directive names a URI named before with another "token_type_hint"



=== TEST 5: token= without a variable
--- config
    location /t {
        auth_introspect "api" token=session;
        auth_introspect_request /introspect;
    }
--- must_die
--- error_log
invalid parameter "token=session": "token=$variable" expected



=== TEST 6: auth_introspect twice at one level
--- config
    location /t {
        auth_introspect "api";
        auth_introspect "api";
        auth_introspect_request /introspect;
    }
--- must_die
--- error_log
"auth_introspect" directive is duplicate



=== TEST 7: off with a parameter
--- config
    location /t {
        auth_introspect off token=$arg_t;
    }
--- must_die
--- error_log
"auth_introspect" directive takes no parameters with "off"



=== TEST 8: a cache without zone=
--- config
    location /t {
        auth_introspect_cache tokens:1m;
    }
--- must_die
--- error_log
invalid parameter "tokens:1m": "zone=name:size" expected



=== TEST 9: a zone without a size
--- config
    location /t {
        auth_introspect_cache zone=tokens;
    }
--- must_die
--- error_log
invalid zone "zone=tokens": "zone=name:size" expected



=== TEST 10: a zone too small for a slab pool
--- config
    location /t {
        auth_introspect_cache zone=tokens:8k;
    }
--- must_die
--- error_log eval
qr/zone "zone=tokens:8k" is too small: \d+ bytes or more expected/



=== TEST 11: a time that is none
--- config
    location /t {
        auth_introspect_cache zone=tokens:1m valid=soon;
    }
--- must_die
--- error_log
invalid time "valid=soon"



=== TEST 12: an unknown parameter
--- config
    location /t {
        auth_introspect_cache zone=tokens:1m ttl=1m;
    }
--- must_die
--- error_log
invalid parameter "ttl=1m"



=== TEST 13: one zone named with two sizes
--- config
    location /a {
        auth_introspect_cache zone=tokens:1m;
    }
    location /b {
        auth_introspect_cache zone=tokens:2m;
    }
--- must_die
--- error_log eval
qr/the size \d+ of shared memory zone "tokens" conflicts with already declared size \d+/



=== TEST 14: auth_introspect_fail takes 500 or 503
--- config
    location /t {
        auth_introspect_fail 502;
    }
--- must_die
--- error_log
invalid value "502"



=== TEST 15: auth_introspect_require with a value that is no variable
--- config
    location /t {
        auth_introspect_require yes;
    }
--- must_die
--- error_log
invalid value "yes": a variable expected



=== TEST 16: auth_introspect_require error=500
--- config
    location /t {
        auth_introspect_require $arg_a error=500;
    }
--- must_die
--- error_log
invalid parameter "error=500": "error=401" or "error=403" expected



=== TEST 17: auth_introspect_claim_contains without a value
--- http_config
    auth_introspect_claim_contains $x scope;
--- config
--- must_die
--- error_log
"auth_introspect_claim_contains" directive needs a claim and a value



=== TEST 18: an empty value
--- http_config
    auth_introspect_claim_contains $x scope "";
--- config
--- must_die
--- error_log
"auth_introspect_claim_contains" directive has an empty value



=== TEST 19: a variable in the value
--- http_config
    auth_introspect_claim_contains $x scope $arg_s;
--- config
--- must_die
--- error_log
"auth_introspect_claim_contains" directive with variables is not supported



=== TEST 20: not a variable name
--- http_config
    auth_introspect_claim_contains x scope read;
--- config
--- must_die
--- error_log
invalid variable name "x"



=== TEST 21: everything inherited from the server level, and off below
--- config
    auth_introspect "api";
    auth_introspect_request /introspect;
    auth_introspect_cache zone=tokens:1m;
    auth_introspect_fail 503;

    location /t {
        add_header X-Sub $introspect_claim_sub;
        alias html/ok.txt;
    }
    location /open {
        auth_introspect off;
        alias html/ok.txt;
    }
    location = /introspect {
        internal;
        proxy_set_header Authorization "$TEST_NGINX_CLIENT";
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/introspect/t19;
    }
--- request eval
["GET /t", "GET /t", "GET /open"]
--- more_headers eval
["Authorization: Bearer alice", "", ""]
--- error_code eval
[200, 401, 200]
--- response_headers eval
["X-Sub: alice", "WWW-Authenticate: Bearer realm=\"api\"", ""]



=== TEST 22: the introspection location itself, under a server-level
auth_introspect: subrequests skip the access phase, so it is never
asked about its own request
--- config
    auth_introspect "api";
    auth_introspect_request /introspect;

    location /t {
        alias html/ok.txt;
    }
    location = /introspect {
        internal;
        proxy_set_header Authorization "$TEST_NGINX_CLIENT";
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/introspect/t20;
    }
--- request
GET /t
--- more_headers
Authorization: Bearer bob
--- response_body
ok
