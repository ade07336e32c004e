# auth_jwt: no variable ever hands a control character on, whatever the
# (validly signed) token holds: strings that have one are empty, JSON text
# has its line breaks dropped and DEL and C1 characters escaped.  Checked
# through proxy_set_header, against a service that shows every byte of
# the request head it got (GwPeer's /echo, without Host and Connection).

use lib 't/helpers';
use GwJwt;
use GwPeer ();
use Test::Nginx::Socket 'no_plan';

GwPeer::start();

our %tok;

sub hs { GwJwt::jws('HS256', '{"alg":"HS256","kid":"hs"}', shift) }

# "sub" values as JSON text inside the quotes, and what the service sees
our @subs = (
    [ 'alice'                 => "X-User-ID: alice\n" ],
    [ 'Zo\u00eb \u2603'       => "X-User-ID: Zo\\xc3\\xab \\xe2\\x98\\x83\n" ],
    [ 'two words'             => "X-User-ID: two words\n" ],
    [ 'alice\r\nX-Injected: 1' => '' ],
    [ 'alice\nX-Injected: 1'  => '' ],
    [ 'alice\rX-Injected: 1'  => '' ],
    [ 'alice\u000d\u000aX: 1' => '' ],
    [ 'alice\u0000admin'      => '' ],
    [ 'alice\tadmin'          => '' ],
    [ 'alice\u0001'           => '' ],
    [ 'alice\b'               => '' ],
    [ 'alice\f'               => '' ],
    [ 'alice\u000b'           => '' ],
    [ 'alice\u001b[31m'       => '' ],
    [ 'alice\u001f'           => '' ],
    [ 'alice\u007f'           => '' ],
    [ "alice\x7f"             => '' ],
    [ 'alice\u0085'           => '' ],
    [ "alice\xc2\x9b"         => '' ],
    [ '\u0000'                => '' ],
);

$tok{subs} = [ map { hs(qq({"sub":"$_->[0]"})) } @subs ];

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('user_files', ">>> ok.txt\nok\n")
        unless defined $block->user_files;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: $jwt_claim_sub through proxy_set_header: text passes as it
is, a string with any control character (C0, DEL, C1) is empty, so the
header is not sent at all and nothing is added to the request
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        proxy_set_header X-User-ID $jwt_claim_sub;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/echo;
    }
--- request eval
[map { "GET /t?t=$_" } @{ $::tok{subs} }]
--- error_code eval
[(200) x @::subs]
--- response_body eval
[map { $_->[1] } @::subs]



=== TEST 2: one info line a request, however often the value is read
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        proxy_set_header X-User-ID $jwt_claim_sub;
        proxy_set_header X-Again "[$jwt_claim_sub]";
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/echo;
    }
--- request eval
"GET /t?t=" . main::hs('{"sub":"alice\r\nX-Injected: 1"}')
--- error_code: 200
--- response_body
X-Again: []
--- grep_error_log eval
qr/auth_jwt: \S+ holds a control character: left empty/
--- grep_error_log_out
auth_jwt: $jwt_claim_sub holds a control character: left empty



=== TEST 3: JOSE header members, as $jwt_header_* and auth_jwt_header_set
--- http_config
    auth_jwt_header_set $jwt_typ typ;
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        proxy_set_header X-Typ $jwt_header_typ;
        proxy_set_header X-Typ-Set $jwt_typ;
        proxy_set_header X-Kid $jwt_header_kid;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/echo;
    }
--- request eval
["GET /t?t=" . GwJwt::jws('HS256', '{"alg":"HS256","kid":"hs","typ":"JWT"}',
                          '{"sub":"a"}'),
 "GET /t?t=" . GwJwt::jws('HS256',
     '{"alg":"HS256","kid":"hs","typ":"JWT\r\nX-Injected: 1"}', '{"sub":"a"}'),
 "GET /t?t=" . GwJwt::jws('HS256',
     qq({"alg":"HS256","kid":"hs","typ":"JWT\x7f"}), '{"sub":"a"}')]
--- error_code eval
[200, 200, 200]
--- response_body eval
["X-Typ: JWT\nX-Typ-Set: JWT\nX-Kid: hs\n", "X-Kid: hs\n", "X-Kid: hs\n"]



=== TEST 4: nested claims through auth_jwt_claim_set
--- http_config
    auth_jwt_claim_set $jwt_city address city;
    auth_jwt_claim_set $jwt_zip address zip;
    auth_jwt_claim_set $jwt_street address street name;
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        proxy_set_header X-City $jwt_city;
        proxy_set_header X-Zip $jwt_zip;
        proxy_set_header X-Street $jwt_street;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/echo;
    }
--- request eval
"GET /t?t=" . main::hs('{"address":{"city":"Oslo\r\nX-Injected: 1",'
                       . '"zip":"0150","street":{"name":"Main\u0000St"}}}')
--- error_code: 200
--- response_body
X-Zip: 0150



=== TEST 5: arrays: one element with a control character empties the
whole value, which would otherwise read as a shorter list; JSON elements
lose their line breaks
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        proxy_set_header X-Roles $jwt_claim_roles;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/echo;
    }
--- request eval
[map { "GET /t?t=" . main::hs(qq({"roles":$_})) }
 '["user","admin"]', '["user","ad\r\nmin"]', '["user\u0000","admin"]',
 '["user","admin\t"]', qq(["a\x7f"]), '["a\u009f"]',
 qq([{"a":\r\n\t1},"x",\n2]), '[["x\ny"],"z"]']
--- error_code eval
[(200) x 8]
--- response_body eval
["X-Roles: user,admin\n", "", "", "", "", "",
 qq(X-Roles: {"a":1},x,2\n), qq(X-Roles: ["x\\ny"],z\n)]



=== TEST 6: objects and $jwt_payload stay JSON: line breaks and tabs
between tokens are dropped, the escapes inside strings stay escapes, and
DEL and C1 characters sent raw in a string are escaped
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        proxy_set_header X-Obj $jwt_claim_obj;
        proxy_set_header X-Payload $jwt_payload;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/echo;
    }
--- request eval
"GET /t?t=" . main::hs(qq(\r\n{"obj": {"a":\r\n\t"x\\ny\\u0000",\n"b":"d\x7fe\xc2\x85"},\n)
                       . qq("sub":"bob"}\n))
--- error_code: 200
--- response_body eval
'X-Obj: {"a":"x\\ny\\u0000","b":"d\\u007fe\\u0085"}' . "\n"
. 'X-Payload: {"obj": {"a":"x\\ny\\u0000","b":"d\\u007fe\\u0085"},'
. '"sub":"bob"}' . "\n"



=== TEST 7: a claim required by auth_jwt_require fails when it was left
empty
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        auth_jwt_require $jwt_claim_sub;
        alias html/ok.txt;
    }
--- request eval
"GET /t?t=" . main::hs('{"sub":"alice\nX-Injected: 1"}')
--- error_code: 401
--- error_log
auth_jwt: token does not satisfy "auth_jwt_require $jwt_claim_sub"



=== TEST 8: the access log sees the empty value too
--- http_config
    log_format jwt "sub=[$jwt_claim_sub]";
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        access_log logs/access.log jwt;
        alias html/ok.txt;
    }
--- request eval
"GET /t?t=" . main::hs('{"sub":"alice\r\nX"}')
--- error_code: 200
--- access_log
sub=[]



=== TEST 9: strings of a JWK Set reach the log escaped: it may come from a
key request's answer
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file ../html/keys.json;
        alias html/ok.txt;
    }
--- user_files
>>> ok.txt
ok
>>> keys.json
{"keys": [
  {"kty": "XYZ\r\nfake", "kid": "a\n2026/01/01 [alert] \"x\"\u0000"},
  {"kty": "oct", "kid": "hs",
   "k": "Z2F0ZXdheS10ZXN0LXNlY3JldDowMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYg"}
]}
--- request eval
"GET /t?t=" . main::hs('{"sub":"a"}')
--- error_code: 200
--- error_log
auth_jwt: skipped JWK "a\x0A2026/01/01 [alert] \x22x\x22\x00" of unknown "kty" "XYZ\x0D\x0Afake"
--- no_error_log eval
qr{^2026/01/01}
