# auth_jwt: key requests, key cache, require, claim_set, type, the
# verified-token cache, and configuration errors.

use lib 't/helpers';
use GwJwt;
use Test::Nginx::Socket 'no_plan';

our %tok;
my $now = time;

$tok{$_} = jwt($_, { sub => 'alice', exp => $now + 3600 }) for @ALGS;
$tok{admin} = jwt('RS256', { sub => 'root', role => 'admin',
                             address => { city => 'Oslo', zip => '0150' },
                             exp => $now + 3600 });
$tok{user} = jwt('RS256', { sub => 'bob', role => 'user',
                            exp => $now + 3600 });
($tok{flipped} = $tok{RS256}) =~ s/(.)$/$1 eq 'A' ? 'Q' : 'A'/e;

# NGINX Plus takes HMAC keys shorter than the hash, such as the 12 bytes of
# its own example ("fantasticjwt"): so does auth_jwt, with a warning
our %short = (k12 => 'fantasticjwt', k13 => 'fantasticjwt!',
              k40 => 'x' x 40, k64 => 'y' x 64);
for my $kid (sort keys %short) {
    $tok{"${kid}_$_"} = Crypt::JWT::encode_jwt(
        payload => { sub => $kid, exp => $now + 3600 }, alg => $_,
        key => $short{$kid}, extra_headers => { kid => $kid })
        for qw(HS256 HS384 HS512);
}
our $short_jwks = '{"keys": ['
    . join(',', map { qq({"kty": "oct", "kid": "$_", "k": ")
                      . b64($short{$_}) . '"}' } qw(k12 k40 k64))
    . qq(, {"kty": "oct", "kid": "k13", "alg": "HS384", "k": ")
    . b64($short{k13}) . '"}]}';

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('user_files', ">>> ok.txt\nok\n")
        unless defined $block->user_files;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: keys fetched through a subrequest to an internal location
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_request /jwks;
        alias html/ok.txt;
    }
    location = /jwks {
        internal;
        subrequest_output_buffer_size 64k;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/keys/jwks.json;
    }
    location /keys/ {
        alias $TEST_NGINX_JWT_DATA/;
    }
--- request eval
["GET /t?t=$::tok{HS256}", "GET /t?t=$::tok{ES384}",
 "GET /t?t=$::tok{flipped}", "GET /t"]
--- error_code eval
[200, 200, 401, 401]



=== TEST 2: a key source that fails: 500, one line naming it
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_request /jwks;
        alias html/ok.txt;
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/broken;
    }
    location = /broken {
        return 503;
    }
--- request eval
"GET /t?t=$::tok{HS256}"
--- error_code: 500
--- error_log
auth_jwt: key request "/jwks" failed with status 503



=== TEST 3: a key source that answers garbage: 500, and why
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_request /jwks;
        alias html/ok.txt;
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/garbage;
    }
    location = /garbage {
        return 200 '{"keys": [{"kty": "RSA", "n": "!!"';
    }
--- request eval
"GET /t?t=$::tok{RS256}"
--- error_code: 500
--- error_log
auth_jwt: key request "/jwks" answered an invalid JWK Set: unexpected end of input



=== TEST 4: a key source that is down
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_request /jwks;
        alias html/ok.txt;
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:1/;
    }
--- request eval
"GET /t?t=$::tok{RS256}"
--- error_code: 500
--- error_log
auth_jwt: key request "/jwks" failed with status 502



=== TEST 5: a key source that times out
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_request /jwks;
        alias html/ok.txt;
    }
    location = /jwks {
        internal;
        proxy_read_timeout 300ms;
        subrequest_output_buffer_size 64k;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/slow;
    }
    location = /slow {
        limit_rate 1;
        alias $TEST_NGINX_JWT_DATA/jwks.json;
    }
--- request eval
"GET /t?t=$::tok{RS256}"
--- error_code: 500
--- error_log
auth_jwt: key request "/jwks" failed with status 504



=== TEST 6: a JWK Set over 1m fails clearly
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_request /jwks;
        alias html/ok.txt;
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/big;
    }
    location = /big {
        alias html/big.json;
    }
--- user_files eval
">>> ok.txt\nok\n>>> big.json\n" . '{"keys":[],"pad":"' . ('x' x 1100000) . '"}'
--- request eval
"GET /t?t=$::tok{RS256}"
--- error_code: 500
--- error_log
auth_jwt: key request "/jwks" failed: JWK Set larger than 1m



=== TEST 7: subrequest_output_buffer_size does not limit key requests
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_request /jwks;
        alias html/ok.txt;
    }
    location = /jwks {
        internal;
        subrequest_output_buffer_size 1k;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/keys/jwks.json;
    }
    location /keys/ {
        alias $TEST_NGINX_JWT_DATA/;
    }
--- request eval
"GET /t?t=$::tok{RS256}"
--- error_code: 200



=== TEST 8: without auth_jwt_key_cache, keys are fetched for every request
(the key source answers once a minute here)
--- http_config
    limit_req_zone $server_name zone=once:1m rate=1r/m;
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_request /jwks;
        alias html/ok.txt;
    }
    location = /jwks {
        internal;
        subrequest_output_buffer_size 64k;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/keys/jwks.json;
    }
    location /keys/ {
        limit_req zone=once;
        alias $TEST_NGINX_JWT_DATA/;
    }
--- request eval
["GET /t?t=$::tok{RS256}", "GET /t?t=$::tok{RS256}"]
--- error_code eval
[200, 500]



=== TEST 9: auth_jwt_key_cache keeps the fetched keys
--- http_config
    limit_req_zone $server_name zone=once:1m rate=1r/m;
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_request /jwks;
        auth_jwt_key_cache 1h;
        alias html/ok.txt;
    }
    location = /jwks {
        internal;
        subrequest_output_buffer_size 64k;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/keys/jwks.json;
    }
    location /keys/ {
        limit_req zone=once;
        alias $TEST_NGINX_JWT_DATA/;
    }
--- request eval
["GET /t?t=$::tok{RS256}", "GET /t?t=$::tok{EdDSA}",
 "GET /t?t=$::tok{flipped}"]
--- error_code eval
[200, 200, 401]



=== TEST 10: the key subrequest does not inherit headers that would spoil it
--- config
    gzip on;
    gzip_types application/json;
    gzip_min_length 1;

    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_request /jwks;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/ok;
    }
    location = /ok {
        return 200 "ok\n";
    }
    location = /jwks {
        internal;
        subrequest_output_buffer_size 64k;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/keys/jwks.json;
    }
    location /keys/ {
        default_type application/json;
        alias $TEST_NGINX_JWT_DATA/;
    }
--- request eval
"GET /t?t=$::tok{RS256}"
--- more_headers
Accept-Encoding: gzip
Range: bytes=0-10
If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT
--- error_code: 200
--- response_body
ok



=== TEST 11: key files and key requests together
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/hs.json;
        auth_jwt_key_request /jwks;
        alias html/ok.txt;
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/keys/rsa.json;
    }
    location /keys/ {
        alias $TEST_NGINX_JWT_DATA/;
    }
--- request eval
["GET /t?t=$::tok{HS512}", "GET /t?t=$::tok{PS512}",
 "GET /t?t=$::tok{ES256}"]
--- error_code eval
[200, 200, 401]



=== TEST 12: claims are there for subrequests of the request
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        auth_request /check;
        alias html/ok.txt;
    }
    location = /check {
        internal;
        proxy_set_header X-Sub $jwt_claim_sub;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/is-alice;
    }
    location = /is-alice {
        if ($http_x_sub != "alice") {
            return 403;
        }
        return 204;
    }
--- request eval
["GET /t?t=$::tok{ES512}", "GET /t?t=$::tok{user}"]
--- error_code eval
[200, 403]



=== TEST 13: auth_jwt_require with error=403 for authorization
--- http_config
    map $jwt_claim_role $is_admin {
        admin    1;
        default  0;
    }
--- config
    location /admin {
        auth_jwt "admin" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        auth_jwt_require $is_admin error=403;
        alias html/ok.txt;
    }
--- request eval
["GET /admin?t=$::tok{admin}", "GET /admin?t=$::tok{user}", "GET /admin"]
--- error_code eval
[200, 403, 401]
--- response_headers eval
["!WWW-Authenticate", "!WWW-Authenticate",
 'WWW-Authenticate: Bearer realm="admin"']



=== TEST 14: auth_jwt_require fails with 401 and the reason by default
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        auth_jwt_require $jwt_claim_sub $jwt_claim_role;
        alias html/ok.txt;
    }
--- request eval
"GET /t?t=$::tok{HS256}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="api", error="invalid_token"
--- error_log
auth_jwt: token does not satisfy "auth_jwt_require $jwt_claim_role"



=== TEST 15: auth_jwt_require is inherited, and several apply
--- config
    auth_jwt_require $jwt_claim_sub;

    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        alias html/ok.txt;
    }
    location /u {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        auth_jwt_require $jwt_claim_sub;
        auth_jwt_require $jwt_claim_role error=403;
        alias html/ok.txt;
    }
--- request eval
["GET /t?t=$::tok{HS256}", "GET /u?t=$::tok{HS256}",
 "GET /u?t=$::tok{user}"]
--- error_code eval
[200, 403, 200]



=== TEST 16: auth_jwt_claim_set and auth_jwt_header_set, with nested paths
--- http_config
    auth_jwt_claim_set $jwt_city address city;
    auth_jwt_claim_set $jwt_zip address zip;
    auth_jwt_claim_set $jwt_nowhere address street name;
    auth_jwt_claim_set $jwt_role role;
    auth_jwt_header_set $jwt_alg alg;
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        add_header X-City $jwt_city;
        add_header X-Zip $jwt_zip;
        add_header X-Nowhere "[$jwt_nowhere]";
        add_header X-Role $jwt_role;
        add_header X-Alg $jwt_alg;
        alias html/ok.txt;
    }
--- request eval
"GET /t?t=$::tok{admin}"
--- error_code: 200
--- response_headers
X-City: Oslo
X-Zip: 0150
X-Nowhere: []
X-Role: admin
X-Alg: RS256



=== TEST 17: auth_jwt_type signed is accepted
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_type signed;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        alias html/ok.txt;
    }
--- request eval
"GET /t?t=$::tok{HS256}"
--- error_code: 200



=== TEST 18: the verified-token cache never serves a token that differs
--- http_config
    auth_jwt_verified_cache 4 valid=1h;
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        alias html/ok.txt;
    }
--- request eval
["GET /t?t=$::tok{RS256}", "GET /t?t=$::tok{RS256}",
 "GET /t?t=$::tok{flipped}", "GET /t?t=$::tok{ES256}",
 "GET /t?t=$::tok{PS256}", "GET /t?t=$::tok{EdDSA}",
 "GET /t?t=$::tok{HS256}", "GET /t?t=$::tok{RS256}"]
--- error_code eval
[200, 200, 401, 200, 200, 200, 200, 200]



=== TEST 19: the same token under other keys is checked again
--- config
    location /all {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        alias html/ok.txt;
    }
    location /hs {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/hs.json;
        alias html/ok.txt;
    }
--- request eval
["GET /all?t=$::tok{RS256}", "GET /hs?t=$::tok{RS256}"]
--- error_code eval
[200, 401]



=== TEST 20: auth_jwt_verified_cache off
--- http_config
    auth_jwt_verified_cache off;
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        alias html/ok.txt;
    }
--- request eval
["GET /t?t=$::tok{ES256}", "GET /t?t=$::tok{ES256}"]
--- error_code eval
[200, 200]



=== TEST 21: auth_jwt without a key is a configuration error
--- config
    location /t {
        auth_jwt "api";
    }
--- must_die
--- error_log eval
qr/"auth_jwt" in \S+nginx\.conf:\d+ has no key: add "auth_jwt_key_file" or "auth_jwt_key_request" where it applies/



=== TEST 22: a key file that does not exist
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_key_file /nonexistent/jwks.json;
    }
--- must_die
--- error_log
open() "/nonexistent/jwks.json" failed



=== TEST 23: a key file that is not a JWK Set
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/rsa.pem;
    }
--- must_die
--- error_log eval
qr/invalid key file "\S+rsa\.pem": not an object/



=== TEST 24: RSA keys shorter than 2048 bits are refused
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/rsa1024.json;
    }
--- must_die
--- error_log eval
[qr/auth_jwt: skipped JWK "rsa1024": RSA JWK shorter than 2048 bits/,
 qr/invalid key file "\S+rsa1024\.json": no usable keys in "keys"/]



=== TEST 25: HMAC keys shorter than the hash are loaded, with one warning
each naming the kid, the size, and what RFC 7518, 3.2 asks for
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file ../html/short.json;
        alias html/ok.txt;
    }
--- user_files eval
">>> ok.txt\nok\n>>> short.json\n$::short_jwks"
--- request eval
"GET /t?t=$::tok{k12_HS256}"
--- error_code: 200
--- error_log eval
[qr/\[warn\] .*auth_jwt: JWK "k12" is an HMAC key of 12 bytes; RFC 7518, 3\.2 asks for 32 bytes for HS256, 48 for HS384, 64 for HS512$/,
 qr/\[warn\] .*auth_jwt: JWK "k40" is an HMAC key of 40 bytes; RFC 7518, 3\.2 asks for 48 bytes for HS384, 64 for HS512$/,
 qr/\[warn\] .*auth_jwt: JWK "k13" is an HMAC key of 13 bytes; RFC 7518, 3\.2 asks for 48 bytes for HS384$/]
--- no_error_log eval
[qr/JWK "k64" is an HMAC key/, qr/skipped JWK/]



=== TEST 25a: short HMAC keys serve every algorithm they may, as NGINX
Plus's do; one pinned to HS384 serves only HS384
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file ../html/short.json;
        add_header X-Sub $jwt_claim_sub;
        alias html/ok.txt;
    }
--- user_files eval
">>> ok.txt\nok\n>>> short.json\n$::short_jwks"
--- request eval
[map { "GET /t?t=$::tok{$_}" }
 qw(k12_HS256 k12_HS384 k12_HS512 k40_HS512 k64_HS512 k13_HS384 k13_HS256)]
--- error_code eval
[200, 200, 200, 200, 200, 200, 401]
--- response_headers eval
["X-Sub: k12", "X-Sub: k12", "X-Sub: k12", "X-Sub: k40", "X-Sub: k64",
 "X-Sub: k13", "!X-Sub"]



=== TEST 25b: an empty HMAC key is refused
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_key_file ../html/empty.json;
    }
--- user_files
>>> empty.json
{"keys": [{"kty": "oct", "kid": "e", "k": ""}]}
--- must_die
--- error_log eval
[qr/auth_jwt: skipped JWK "e": oct JWK with an empty "k"/,
 qr/invalid key file "\S+empty\.json": no usable keys in "keys"/]



=== TEST 25c: a fetched set with a short key: the line stays at info, as
the set is parsed again at each fetch
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_request /_keys;
        alias html/ok.txt;
    }

    location = /_keys {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/keys/short.json;
    }

    location /keys/ {
        alias html/;
    }
--- user_files eval
">>> ok.txt\nok\n>>> short.json\n$::short_jwks"
--- request eval
"GET /t?t=$::tok{k12_HS256}"
--- error_code: 200
--- error_log eval
qr/\[info\] .*auth_jwt: JWK "k12" is an HMAC key of 12 bytes/
--- no_error_log eval
qr/\[warn\] .*HMAC key/



=== TEST 26: a JWK whose alg does not fit its type
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_key_file ../html/mixed.json;
    }
--- user_files
>>> mixed.json
{"keys": [{"kty": "oct", "alg": "RS256",
  "k": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"}]}
--- must_die
--- error_log eval
qr/JWK "alg" does not fit its "kty"/



=== TEST 27: auth_jwt_type encrypted with key files that decrypt nothing
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_type encrypted;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/rsa.json;
    }
--- must_die
--- error_log eval
qr/"auth_jwt" in \S+nginx\.conf:\d+ with "auth_jwt_type encrypted" has no decryption key in its key files/



=== TEST 27a: auth_jwt_type nested needs signature keys too
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_type nested;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwe.json;
    }
--- must_die
--- error_log eval
qr/"auth_jwt" in \S+nginx\.conf:\d+ with "auth_jwt_type nested" has no signature key in its key files/



=== TEST 27b: auth_jwt_type signed with decryption keys only
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_key_file ../html/enc.json;
    }
--- user_files
>>> enc.json
{"keys": [{"kty": "oct", "kid": "e", "use": "enc", "k": "MDEyMzQ1Njc4OWFiY2RlZg"}]}
--- must_die
--- error_log eval
qr/"auth_jwt" in \S+nginx\.conf:\d+ with "auth_jwt_type signed" has no signature key in its key files/



=== TEST 27c: auth_jwt_type takes signed, encrypted or nested, once
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_type jwe;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwe.json;
    }
--- must_die
--- error_log
invalid value "jwe": "signed", "encrypted" or "nested" expected



=== TEST 27d: auth_jwt_type given twice
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_type encrypted;
        auth_jwt_type nested;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwe.json;
    }
--- must_die
--- error_log
"auth_jwt_type" directive is duplicate



=== TEST 27e: with a key request, the keys are known only when fetched
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_type encrypted;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        auth_jwt_key_request /_keys;
        alias html/ok.txt;
    }
    location = /_keys {
        internal;
        return 404;
    }
--- request
GET /t
--- error_code: 401



=== TEST 28: token= needs a variable
--- config
    location /t {
        auth_jwt "api" token=abc;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
    }
--- must_die
--- error_log
invalid parameter "token=abc": "token=$variable" expected



=== TEST 29: auth_jwt_require with an unknown error code
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        auth_jwt_require $jwt_claim_sub error=500;
    }
--- must_die
--- error_log
invalid parameter "error=500": "error=401" or "error=403" expected



=== TEST 30: auth_jwt_key_request needs a URI
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_key_request jwks;
    }
--- must_die
--- error_log
"auth_jwt_key_request" directive needs a URI starting with "/"



=== TEST 31: auth_jwt_claim_set belongs to http
--- config
    auth_jwt_claim_set $x sub;
--- must_die
--- error_log
"auth_jwt_claim_set" directive is not allowed here



=== TEST 32: keys for other uses and types are skipped, with a note
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
  {"kty": "RSA", "use": "enc", "kid": "e1", "n": "AQAB", "e": "AQAB"},
  {"kty": "oct", "use": "wrap", "kid": "w1", "k": "AQAB"},
  {"kty": "XYZ", "kid": "x1"},
  {"kty": "oct", "kid": "hs",
   "k": "Z2F0ZXdheS10ZXN0LXNlY3JldDowMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYg"}
]}
--- request eval
"GET /t?t=$::tok{HS384}"
--- error_code: 200
--- error_log
auth_jwt: skipped JWK "e1": RSA JWK for encryption without its private part
auth_jwt: skipped JWK "w1" with "use" "wrap"
auth_jwt: skipped JWK "x1" of unknown "kty" "XYZ"



=== TEST 34: claims in log_format
--- http_config
    log_format jwt "sub=$jwt_claim_sub kid=$jwt_header_kid";
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        access_log logs/access.log jwt;
        alias html/ok.txt;
    }
--- request eval
"GET /t?t=$::tok{ES256}"
--- error_code: 200
--- access_log
sub=alice kid=ec256



=== TEST 35: auth_jwt in limit_except guards the other methods only
--- config
    location /t {
        limit_except GET {
            auth_jwt "writes" token=$arg_t;
            auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        }
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        return 200 "$request_method\n";
    }
--- request eval
["GET /t", "POST /t", "POST /t?t=$::tok{HS256}"]
--- error_code eval
[200, 401, 200]



=== TEST 36: a token remembered as verified still shows its claims, and
its times are still checked
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        add_header X-Sub $jwt_claim_sub;
        add_header X-Alg $jwt_header_alg;
        alias html/ok.txt;
    }
    location /leeway {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        auth_jwt_leeway 1h;
        alias html/ok.txt;
    }
--- request eval
["GET /t?t=$::tok{HS256}", "GET /t?t=$::tok{HS256}",
 "GET /t?t=$::tok{ES256}", "GET /t?t=$::tok{ES256}"]
--- error_code eval
[200, 200, 200, 200]
--- response_headers eval
["X-Sub: alice", "X-Sub: alice", "X-Alg: ES256", "X-Alg: ES256"]
