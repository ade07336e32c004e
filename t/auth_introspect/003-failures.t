# auth_introspect: an authorization server that is down, slow or failing
# (500, or 503 with auth_introspect_fail 503, and one error line for an
# outage), and answers that RFC 7662 does not allow (the token is not
# valid, with one error line for each): malformed JSON, no boolean
# "active", a huge answer; and members with control characters, which
# never reach a variable.

use lib 't/helpers';
use GwHttp ();
use GwPeer qw($CLIENT);
use Test::Nginx::Socket 'no_plan';

GwPeer::start();

$ENV{TEST_NGINX_CLIENT} = $CLIENT;

# a port nothing listens on, for an endpoint that is down
$ENV{TEST_NGINX_DOWN_PORT} = GwHttp::free_ports(1);

sub get {
    my ($uri, $token) = @_;
    my ($status) = GwPeer::burst(1, "GET $uri HTTP/1.0\r\nHost: localhost\r\n"
        . "Authorization: Bearer $token\r\n\r\n");
    return $status;
}

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('config', <<'CONFIG') unless defined $block->config;
    location /t {
        auth_introspect "api";
        auth_introspect_request /introspect;
        auth_introspect_cache zone=tokens:1m;
        add_header X-Status $introspect_status always;
        add_header X-Sub "[$introspect_claim_sub]" always;
        alias html/ok.txt;
    }
    location = /introspect {
        internal;
        proxy_set_header Authorization "$TEST_NGINX_CLIENT";
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/introspect/t;
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

=== TEST 1: the endpoint is down: 500, one error line naming the
request, and info lines for the requests after it
--- config
    location /t {
        auth_introspect "api";
        auth_introspect_request /introspect;
        add_header X-Status $introspect_status always;
        alias html/ok.txt;
    }
    location = /introspect {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_DOWN_PORT/introspect;
    }
--- init
Test::More::is(main::get('/t', 'alice'), 500, 'first');
Test::More::is(main::get('/t', 'bob'), 500, 'second');
--- log_level: info
--- request
GET /t
--- more_headers
Authorization: Bearer alice
--- error_code: 500
--- response_headers
X-Status: UNAVAILABLE
--- grep_error_log eval
qr/\[(?:error|info)\] .*auth_introspect: introspection request "\/introspect" failed with status 502/
--- grep_error_log_out eval
qr/\A\[error\][^\n]*\n\[info\][^\n]*\n\[info\][^\n]*\n\z/



=== TEST 2: auth_introspect_fail 503; the endpoint back, and failing
again: a notice, then an error line again
--- http_config
    map $request_uri $fail {
        ~fail    "?status=500";
        default  "";
    }
--- config
    location /t {
        auth_introspect "api";
        auth_introspect_request /introspect;
        auth_introspect_fail 503;
        add_header X-Status $introspect_status always;
        alias html/ok.txt;
    }
    location = /introspect {
        internal;
        proxy_set_header Authorization "$TEST_NGINX_CLIENT";
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/introspect/t2$fail;
    }
--- init
Test::More::is(main::get('/t?fail', 'alice'), 503, 'failing');
Test::More::is(main::get('/t', 'alice'), 200, 'back');
--- request
GET /t?fail
--- more_headers
Authorization: Bearer alice
--- error_code: 503
--- response_headers
X-Status: UNAVAILABLE
--- grep_error_log eval
qr/\[\w+\] [^\n]*auth_introspect: introspection request "[^"]+" (?:failed with status \d+|answers again)/
--- grep_error_log_out eval
qr/\A\[error\][^\n]*failed with status 500\n\[notice\][^\n]*answers again\n\[error\][^\n]*failed with status 500\n\z/



=== TEST 3: the endpoint is slow: the location's proxy_read_timeout
gives up (504), and every request that waited for it fails with it
--- config
    location /t {
        auth_introspect "api";
        auth_introspect_request /introspect;
        add_header X-Status $introspect_status always;
        alias html/ok.txt;
    }
    location = /introspect {
        internal;
        proxy_read_timeout 300ms;
        proxy_set_header Authorization "$TEST_NGINX_CLIENT";
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/introspect/t3?delay=1;
    }
    location /hits/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT;
    }
--- init
my @status = GwPeer::burst(5, "GET /t HTTP/1.0\r\nHost: localhost\r\n"
                              . "Authorization: Bearer alice\r\n\r\n");
Test::More::is("@status", '500 500 500 500 500', 'all fail at once');
Time::HiRes::sleep(1);
--- request
GET /hits/t3
--- response_body
1
--- error_log
auth_introspect: introspection request "/introspect" failed with status 504
upstream timed out



=== TEST 4: the gateway's credentials refused by the server (401 from
the endpoint): a failure, not a verdict on the token
--- config
    location /t {
        auth_introspect "api";
        auth_introspect_request /introspect;
        add_header X-Status $introspect_status always;
        alias html/ok.txt;
    }
    location = /introspect {
        internal;
        proxy_set_header Authorization "Basic d3Jvbmc6d3Jvbmc=";
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/introspect/t;
    }
--- request
GET /t
--- more_headers
Authorization: Bearer alice
--- error_code: 500
--- response_headers
X-Status: UNAVAILABLE
--- error_log
auth_introspect: introspection request "/introspect" failed with status 401



=== TEST 5: malformed JSON: the token is not valid, one error line; the
verdict is kept as an inactive one would be
--- config
    location /t {
        auth_introspect "api";
        auth_introspect_request /introspect;
        auth_introspect_cache zone=tokens:1m;
        add_header X-Status $introspect_status always;
        alias html/ok.txt;
    }
    location = /introspect {
        internal;
        proxy_set_header Authorization "$TEST_NGINX_CLIENT";
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/introspect/t5;
    }
--- init
Test::More::is(main::get('/t', 'malformed'), 401, 'not valid');
Test::More::is(main::get('/t', 'malformed'), 401, 'not valid, kept');
Test::More::is(GwPeer::hits('t5'), 1, 'asked once');
--- request
GET /t
--- more_headers
Authorization: Bearer malformed
--- error_code: 401
--- response_headers
X-Status: INVALID_ANSWER
WWW-Authenticate: Bearer realm="api", error="invalid_token"
--- grep_error_log eval
qr/\[\w+\] [^\n]*auth_introspect: introspection request "\/introspect" answered an invalid response: .*?(?= while |, client)/
--- grep_error_log_out eval
qr/\A\[error\] [^\n]*answered an invalid response: unexpected end of input\n\z/



=== TEST 6: no boolean "active"
--- request
GET /t
--- more_headers
Authorization: Bearer noactive
--- error_code: 401
--- response_headers
X-Status: INVALID_ANSWER
--- error_log
answered an invalid response: no boolean "active"



=== TEST 7: "active" a string
--- request
GET /t
--- more_headers
Authorization: Bearer activestr
--- error_code: 401
--- error_log
answered an invalid response: no boolean "active"



=== TEST 8: "exp" a string
--- request
GET /t
--- more_headers
Authorization: Bearer badexp
--- error_code: 401
--- error_log
answered an invalid response: "exp" is not a number of seconds



=== TEST 9: "active" twice
--- request
GET /t
--- more_headers
Authorization: Bearer dup
--- error_code: 401
--- error_log
answered an invalid response: duplicate member name



=== TEST 10: an empty body, and HTML
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
["Authorization: Bearer empty", "Authorization: Bearer html"]
--- error_code eval
[401, 401]
--- response_headers eval
[("X-Status: INVALID_ANSWER") x 2]
--- error_log eval
qr/answered an invalid response: \S/



=== TEST 11: a huge answer (100 KB) is not read past 16 KB: not valid,
one error line
--- request
GET /t
--- more_headers
Authorization: Bearer huge
--- error_code: 401
--- response_headers
X-Status: INVALID_ANSWER
--- grep_error_log eval
qr/answered an invalid response: .*?(?= while |, client)/
--- grep_error_log_out
answered an invalid response: larger than 16k



=== TEST 12: an answer of 15 KB is taken
--- request
GET /t
--- more_headers
Authorization: Bearer big
--- response_headers
X-Status: VALID
X-Sub: [big]



=== TEST 13: a member with CR and LF never reaches a header or the log:
the variable is empty, one info line a request; the other members are
still there, and $introspect_response stays JSON
--- log_level: info
--- config
    location /t {
        auth_introspect "api";
        auth_introspect_request /introspect;
        add_header X-Sub "[$introspect_claim_sub]" always;
        add_header X-Sub-Again "[$introspect_claim_sub]" always;
        add_header X-Name $introspect_claim_name always;
        add_header X-Response $introspect_response always;
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
Authorization: Bearer crlf
--- response_headers
X-Sub: []
X-Sub-Again: []
X-Name: Eve
!X-Injected
--- response_headers_like
X-Response: ^\{.*"sub":"eve\\r\\nX-Injected: 1".*\}$
--- grep_error_log eval
qr/auth_introspect: \$\w+ holds a control character: left empty/
--- grep_error_log_out
auth_introspect: $introspect_claim_sub holds a control character: left empty



=== TEST 14: NUL in a string, a line break in an array's element: empty
--- config
    location /t {
        auth_introspect "api";
        auth_introspect_request /introspect;
        add_header X-Sub "[$introspect_claim_sub]" always;
        add_header X-Roles "[$introspect_claim_roles]" always;
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
Authorization: Bearer nul
--- response_headers
X-Sub: []
X-Roles: []
