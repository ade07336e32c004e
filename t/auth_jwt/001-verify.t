# auth_jwt: what gets in and what does not.

use lib 't/helpers';
use GwJwt;
use Test::Nginx::Socket 'no_plan';

our %tok;
my $now = time;

$tok{$_} = jwt($_, { sub => 'alice', exp => $now + 3600 }) for @ALGS;

my $rsa_pub = do { local (@ARGV, $/) = "$JWT_DATA/rsa.pub.pem"; <> };
my $claims = '{"sub":"alice"}';

%tok = (%tok,
    # algorithm confusion: HMAC keyed with the RSA public key's bytes
    confused => do {
        my $in = b64('{"alg":"HS256","kid":"rsa"}') . '.' . b64($claims);
        "$in." . b64(Digest::SHA::hmac_sha256($in, $rsa_pub));
    },
    confused_nokid => do {
        my $in = b64('{"alg":"HS256"}') . '.' . b64($claims);
        "$in." . b64(Digest::SHA::hmac_sha256($in, $rsa_pub));
    },
    none => b64('{"alg":"none"}') . '.' . b64($claims) . '.',
    none_signed => jws('HS256', '{"alg":"none","kid":"hs"}', $claims),
    None_signed => jws('HS256', '{"alg":"None","kid":"hs"}', $claims),
    unknown_alg => jws('HS256', '{"alg":"HS1","kid":"hs"}', $claims),
    expired => jwt('HS256', { sub => 'a', exp => $now - 10 }),
    expired_leeway => jwt('HS256', { sub => 'a', exp => $now - 10 }),
    not_yet => jwt('HS256', { sub => 'a', nbf => $now + 60 }),
    exp_string => jws('HS256', '{"alg":"HS256"}', '{"exp":"9999999999"}'),
    nbf_string => jws('HS256', '{"alg":"HS256"}', '{"nbf":"0"}'),
    exp_float => jws('HS256', '{"alg":"HS256"}',
                     '{"exp":' . ($now + 100) . '.5}'),
    exp_inf => jws('HS256', '{"alg":"HS256"}', '{"exp":1e400}'),
    exp_huge => jws('HS256', '{"alg":"HS256"}', '{"exp":100000000000000000}'),
    two_segments => b64('{"alg":"HS256"}') . '.' . b64($claims),
    five_segments => 'a.b.c.d.e',
    bad_chars => jwt('HS256', { sub => 'a' }) =~ s/^(.)/+/r,
    padded => do {
        my ($h, $p, $s) = split /\./, jws('HS256', '{"alg":"HS256"}',
                                           '{"a":"b"}');
        "$h.$p==.$s";
    },
    noncanonical => do {
        # "e30" is "{}"; "e31" decodes to the same byte with a stray bit
        my $t = jws('HS256', '{"alg":"HS256"}', '{}');
        $t =~ s/\.e30\./.e31./ or die "no e30";
        $t;
    },
    header_array => jws('HS256', '["HS256"]', $claims),
    payload_array => jws('HS256', '{"alg":"HS256"}', '[1]'),
    payload_trailing => jws('HS256', '{"alg":"HS256"}', '{"a":1} x'),
    payload_two => jws('HS256', '{"alg":"HS256"}', '{"a":1}{}'),
    payload_dup => jws('HS256', '{"alg":"HS256"}', '{"sub":"a","sub":"b"}'),
    nested_dup => jws('HS256', '{"alg":"HS256"}',
                      '{"o":{"x":1,"y":2,"x":3}}'),
    escaped_dup => jws('HS256', '{"alg":"HS256"}',
                       '{"sub":"a","s\u0075b":"b"}'),
    header_dup => jws('HS256', '{"alg":"HS256","alg":"none"}', $claims),
    deep => jws('HS256', '{"alg":"HS256"}',
                '{"a":' . ('[' x 40) . (']' x 40) . '}'),
    crit => jws('HS256', '{"alg":"HS256","crit":["exp"]}', $claims),
    b64_false => jws('HS256', '{"alg":"HS256","b64":false,"crit":["b64"]}',
                     $claims),
    bad_utf8 => jws('HS256', '{"alg":"HS256"}', qq({"sub":"\xff"})),
    lone_surrogate => jws('HS256', '{"alg":"HS256"}', '{"sub":"\ud800"}'),
    huge => jwt('HS256', { sub => 'a', pad => 'x' x 20000 }),
    wrong_kid => jwt('HS256', { sub => 'a' }, { kid => 'nope' }),
    rsa_short => do {
        my ($h, $p, $s) = split /\./, $tok{RS256};
        "$h.$p." . b64(substr(MIME::Base64::decode_base64url($s), 0, -1));
    },
    ecdsa_der => do {
        my $in = b64('{"alg":"ES256","kid":"ec256"}') . '.' . b64($claims);
        my $der = Crypt::PK::ECC->new("$JWT_DATA/ec256.pem")
                  ->sign_message($in, 'SHA256');
        "$in." . b64($der);
    },
    ecdsa_zero => jws('ES256', '{"alg":"ES256","kid":"ec256"}', $claims,
                      signature => "\0" x 64),
    es256_as_es384 => do {
        my ($h, $p, $s) = split /\./, $tok{ES256};
        b64('{"alg":"ES384","kid":"ec256"}') . ".$p.$s";
    },
    rs_as_ps => do {
        my ($h, $p, $s) = split /\./, $tok{RS256};
        b64('{"alg":"PS256","kid":"rsa"}') . ".$p.$s";
    },
);

our @rejected = qw(confused confused_nokid none none_signed None_signed
    unknown_alg expired not_yet exp_string nbf_string two_segments
    five_segments bad_chars padded noncanonical header_array payload_array
    payload_trailing payload_two payload_dup nested_dup escaped_dup
    header_dup deep crit b64_false bad_utf8 lone_surrogate huge wrong_kid
    exp_inf exp_huge
    rsa_short ecdsa_der ecdsa_zero es256_as_es384 rs_as_ps);

# most blocks protect /t, taking the token from ?t=, with every key type
add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('config', <<'CONFIG') unless defined $block->config;
    large_client_header_buffers 4 32k;

    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        alias html/ok.txt;
    }
CONFIG

    $block->set_value('user_files', ">>> ok.txt\nok\n")
        unless defined $block->user_files;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: no token: 401 with the realm, and no error attribute
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        alias html/ok.txt;
    }
--- user_files
>>> ok.txt
ok
--- request
GET /t
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="api"
--- error_log
auth_jwt: no token



=== TEST 2: every algorithm, each with its key from one JWK Set
--- request eval
[map { "GET /t?t=$::tok{$_}" } @GwJwt::ALGS]
--- error_code eval
[(200) x @GwJwt::ALGS]
--- response_body eval
[("ok\n") x @GwJwt::ALGS]
--- no_error_log
auth_jwt: rejected



=== TEST 3: Bearer scheme in any case, from the Authorization header
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        alias html/ok.txt;
    }
--- user_files
>>> ok.txt
ok
--- request
GET /t
--- more_headers eval
"Authorization: bEARER   $::tok{HS256}"
--- error_code: 200
--- response_body
ok



=== TEST 4: another scheme is no token
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        alias html/ok.txt;
    }
--- request
GET /t
--- more_headers eval
"Authorization: Basic $::tok{HS256}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="api"
--- error_log
auth_jwt: no token



=== TEST 5: every forged or malformed token: 401 with error="invalid_token"
--- request eval
[map { "GET /t?t=$::tok{$_}" } @::rejected]
--- error_code eval
[(401) x @::rejected]
--- response_headers eval
[('WWW-Authenticate: Bearer realm="api", error="invalid_token"')
 x @::rejected]
--- no_error_log
[error]
[crit]
[alert]



=== TEST 6: the rejection says why in one info line: none_signed
--- request eval
"GET /t?t=$::tok{none_signed}"
--- error_code: 401
--- error_log
auth_jwt: rejected token: "alg" is "none"



=== TEST 7: the rejection says why in one info line: unknown_alg
--- request eval
"GET /t?t=$::tok{unknown_alg}"
--- error_code: 401
--- error_log
auth_jwt: rejected token: unsupported "alg"



=== TEST 8: the rejection says why in one info line: expired
--- request eval
"GET /t?t=$::tok{expired}"
--- error_code: 401
--- error_log
auth_jwt: rejected token: token expired



=== TEST 9: the rejection says why in one info line: not_yet
--- request eval
"GET /t?t=$::tok{not_yet}"
--- error_code: 401
--- error_log
auth_jwt: rejected token: token not yet valid



=== TEST 10: the rejection says why in one info line: exp_string
--- request eval
"GET /t?t=$::tok{exp_string}"
--- error_code: 401
--- error_log
auth_jwt: rejected token: "exp" is not a number of seconds



=== TEST 11: the rejection says why in one info line: payload_dup
--- request eval
"GET /t?t=$::tok{payload_dup}"
--- error_code: 401
--- error_log
auth_jwt: rejected token: duplicate member name



=== TEST 12: the rejection says why in one info line: crit
--- request eval
"GET /t?t=$::tok{crit}"
--- error_code: 401
--- error_log
auth_jwt: rejected token: unsupported "crit" header



=== TEST 13: the rejection says why in one info line: confused
--- request eval
"GET /t?t=$::tok{confused}"
--- error_code: 401
--- error_log
auth_jwt: rejected token: no key fits "kid" and "alg"



=== TEST 14: the rejection says why in one info line: huge
--- request eval
"GET /t?t=$::tok{huge}"
--- error_code: 401
--- error_log
auth_jwt: rejected token: token too long



=== TEST 15: the rejection says why in one info line: five_segments
--- request eval
"GET /t?t=$::tok{five_segments}"
--- error_code: 401
--- error_log
auth_jwt: rejected token: a JWE (five segments) where a JWS is expected



=== TEST 16: the rejection says why in one info line: two_segments
--- request eval
"GET /t?t=$::tok{two_segments}"
--- error_code: 401
--- error_log
auth_jwt: rejected token: not three segments



=== TEST 17: the rejection says why in one info line: padded
--- request eval
"GET /t?t=$::tok{padded}"
--- error_code: 401
--- error_log
auth_jwt: rejected token: segment is not base64url



=== TEST 18: the rejection says why in one info line: payload_array
--- request eval
"GET /t?t=$::tok{payload_array}"
--- error_code: 401
--- error_log
auth_jwt: rejected token: not an object



=== TEST 19: the rejection says why in one info line: payload_trailing
--- request eval
"GET /t?t=$::tok{payload_trailing}"
--- error_code: 401
--- error_log
auth_jwt: rejected token: trailing characters



=== TEST 20: the rejection says why in one info line: deep
--- request eval
"GET /t?t=$::tok{deep}"
--- error_code: 401
--- error_log
auth_jwt: rejected token: nesting too deep



=== TEST 21: the rejection says why in one info line: bad_utf8
--- request eval
"GET /t?t=$::tok{bad_utf8}"
--- error_code: 401
--- error_log
auth_jwt: rejected token: invalid UTF-8



=== TEST 22: the rejection says why in one info line: lone_surrogate
--- request eval
"GET /t?t=$::tok{lone_surrogate}"
--- error_code: 401
--- error_log
auth_jwt: rejected token: unpaired surrogate



=== TEST 23: the rejection says why in one info line: rsa_short
--- request eval
"GET /t?t=$::tok{rsa_short}"
--- error_code: 401
--- error_log
auth_jwt: rejected token: signature mismatch



=== TEST 24: the rejection says why in one info line: ecdsa_zero
--- request eval
"GET /t?t=$::tok{ecdsa_zero}"
--- error_code: 401
--- error_log
auth_jwt: rejected token: signature mismatch



=== TEST 25: leeway admits a token expired within it, and nbf within it
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        auth_jwt_leeway 10m;
        alias html/ok.txt;
    }
--- user_files
>>> ok.txt
ok
--- request eval
["GET /t?t=$::tok{expired_leeway}", "GET /t?t=$::tok{not_yet}",
 "GET /t?t=$::tok{exp_float}"]
--- error_code eval
[200, 200, 200]



=== TEST 26: claims and header members as variables, exactly as sent
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        add_header X-Sub $jwt_claim_sub;
        add_header X-Big $jwt_claim_big;
        add_header X-Float $jwt_claim_float;
        add_header X-Yes $jwt_claim_yes;
        add_header X-Null "[$jwt_claim_nothing]";
        add_header X-Roles $jwt_claim_roles;
        add_header X-Obj $jwt_claim_obj;
        add_header X-Esc $jwt_claim_esc;
        add_header X-Missing "[$jwt_claim_missing]";
        add_header X-Alg $jwt_header_alg;
        add_header X-Kid $jwt_header_kid;
        alias html/ok.txt;
    }
--- user_files
>>> ok.txt
ok
--- request eval
"GET /t?t=" . GwJwt::jws('HS256', '{"alg":"HS256","kid":"hs"}',
    '{"sub":"alice","big":9007199254740993,"float":1.50e+3,"yes":true,'
    . '"nothing":null,"roles":["admin","ops",3,null,""],'
    . '"obj":{"a":[1,2],"b":"c"},"esc":"a\"b\\\\c\u0041"}')
--- error_code: 200
--- response_headers
X-Sub: alice
X-Big: 9007199254740993
X-Float: 1.50e+3
X-Yes: true
X-Null: []
X-Roles: admin,ops,3,,
X-Obj: {"a":[1,2],"b":"c"}
X-Esc: a"b\cA
X-Missing: []
X-Alg: HS256
X-Kid: hs



=== TEST 27: $jwt_payload is the decoded payload
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/hs.json;
        add_header X-Payload $jwt_payload;
        alias html/ok.txt;
    }
--- user_files
>>> ok.txt
ok
--- request eval
"GET /t?t=" . GwJwt::jws('HS512', '{"alg":"HS512"}', '{"sub":"bob","n":1}')
--- error_code: 200
--- response_headers
X-Payload: {"sub":"bob","n":1}



=== TEST 28: claims are forwarded to the service behind, and are empty
when the token was rejected
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        proxy_set_header X-User $jwt_claim_sub;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location /backend {
        return 200 "user=[$http_x_user]\n";
    }
--- request eval
["GET /t?t=$::tok{HS256}", "GET /t?t=$::tok{expired}",
 "GET /t?t=$::tok{ES256}"]
--- error_code eval
[200, 401, 200]
--- response_body_like eval
["user=\\[alice\\]", "401", "user=\\[alice\\]"]



=== TEST 29: claims drive other directives before the access phase
--- http_config
    map $jwt_claim_plan $plan_header {
        premium  "gold";
        default  "basic";
    }
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        add_header X-Plan $plan_header;
        alias html/ok.txt;
    }
--- user_files
>>> ok.txt
ok
--- request eval
"GET /t?t=" . GwJwt::jwt('RS256', { sub => 'a', plan => 'premium' })
--- error_code: 200
--- response_headers
X-Plan: gold



=== TEST 30: token from a cookie
--- config
    location /t {
        auth_jwt "api" token=$cookie_session;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        alias html/ok.txt;
    }
--- user_files
>>> ok.txt
ok
--- request
GET /t
--- more_headers eval
"Cookie: theme=dark; session=$::tok{EdDSA}"
--- error_code: 200



=== TEST 31: auth_jwt off in a nested location; realm from a variable
--- config
    location /api/ {
        auth_jwt "realm of $host";
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        alias html/;

        location /api/public/ {
            auth_jwt off;
            alias html/;
        }
    }
--- user_files
>>> ok.txt
ok
--- request eval
["GET /api/ok.txt", "GET /api/public/ok.txt"]
--- error_code eval
[401, 200]
--- response_headers eval
['WWW-Authenticate: Bearer realm="realm of localhost"', '!WWW-Authenticate']



=== TEST 32: satisfy any: an allowed address needs no token
--- config
    location /t {
        satisfy any;
        allow 127.0.0.1;
        deny all;
        auth_jwt "api";
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        alias html/ok.txt;
    }
--- user_files
>>> ok.txt
ok
--- request
GET /t
--- error_code: 200
--- response_headers
!WWW-Authenticate



=== TEST 33: satisfy any: a denied address gets in with a valid token only
--- config
    location /t {
        satisfy any;
        deny all;
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        alias html/ok.txt;
    }
--- user_files
>>> ok.txt
ok
--- request eval
["GET /t?t=$::tok{PS384}", "GET /t?t=$::tok{expired}", "GET /t"]
--- error_code eval
[200, 401, 401]



=== TEST 33a: satisfy any: auth_basic refuses after auth_jwt and takes
over the challenge pointer, auth_request lets the request in, and neither
challenge is left
--- config
    location /t {
        satisfy any;
        auth_request /yes;
        auth_basic "basic";
        auth_basic_user_file ../html/htpasswd;
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        alias html/ok.txt;
    }
    location = /yes {
        return 204;
    }
--- user_files
>>> ok.txt
ok
>>> htpasswd
bob:{PLAIN}secret
--- request eval
["GET /t", "GET /t?t=$::tok{expired}"]
--- error_code eval
[200, 200]
--- response_headers eval
["!WWW-Authenticate", "!WWW-Authenticate"]



=== TEST 33b: satisfy any: auth_jwt and auth_basic both refuse: 401 with
both challenges
--- config
    location /t {
        satisfy any;
        auth_basic "basic";
        auth_basic_user_file ../html/htpasswd;
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        alias html/ok.txt;
    }
--- user_files
>>> ok.txt
ok
>>> htpasswd
bob:{PLAIN}secret
--- request eval
"GET /t?t=$::tok{expired}"
--- error_code: 401
--- raw_response_headers_like eval
qr/^(?=.*\r\nWWW-Authenticate: Basic realm="basic"\r\n)(?=.*\r\nWWW-Authenticate: Bearer realm="api", error="invalid_token"\r\n)/s



=== TEST 34: a rejected token leaves nothing behind for the next request
on the same connection
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        add_header X-Sub "[$jwt_claim_sub]" always;
        alias html/ok.txt;
    }
--- user_files
>>> ok.txt
ok
--- pipelined_requests eval
["GET /t?t=$::tok{HS256}", "GET /t?t=$::tok{confused}",
 "GET /t?t=$::tok{HS256}", "GET /t"]
--- error_code eval
[200, 401, 200, 401]
--- response_headers eval
["X-Sub: [alice]", "X-Sub: []", "X-Sub: [alice]", "X-Sub: []"]



=== TEST 35: a JWK bound to one alg refuses the others of its kind
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/rs256-only.json;
        alias html/ok.txt;
    }
--- user_files
>>> ok.txt
ok
--- request eval
["GET /t?t=$::tok{RS256}", "GET /t?t=$::tok{PS256}",
 "GET /t?t=$::tok{RS512}"]
--- error_code eval
[200, 401, 401]



=== TEST 36: the token never reaches the error log
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        alias html/ok.txt;
    }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer $::tok{expired}"
--- log_level: info
--- error_code: 401
--- error_log
auth_jwt: rejected token: token expired
--- no_error_log eval
[qr/eyJ/]



=== TEST 39: an exp beyond any time is refused
--- request eval
"GET /t?t=$::tok{exp_inf}"
--- error_code: 401
--- error_log
auth_jwt: rejected token: "exp" is not a number of seconds



=== TEST 40: a verdict does not follow the request to a location with other
keys (a rewrite); claims read at the server level, where auth_jwt is off,
are empty
--- config
    set $user $jwt_claim_sub;

    location /a/ {
        auth_jwt "a" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/rsa.json;
        rewrite ^/a/(.*) /hs/$1 last;
    }
    location /hs/ {
        auth_jwt "hs" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/hs.json;
        alias html/;
    }
    location /rsa/ {
        auth_jwt "rsa" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/rsa.json;
        add_header X-User $user;
        alias html/;
    }
--- request eval
["GET /a/ok.txt?t=$::tok{RS256}", "GET /hs/ok.txt?t=$::tok{RS256}",
 "GET /rsa/ok.txt?t=$::tok{RS256}", "GET /a/ok.txt?t=$::tok{HS256}"]
--- error_code eval
[401, 401, 200, 200]
--- response_headers eval
['WWW-Authenticate: Bearer realm="hs", error="invalid_token"',
 'WWW-Authenticate: Bearer realm="hs", error="invalid_token"',
 "!X-User", "!WWW-Authenticate"]



=== TEST 41: keys the module cannot use are skipped, the others serve
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file ../html/mixed.json;
        alias html/ok.txt;
    }
--- user_files eval
">>> ok.txt\nok\n>>> mixed.json\n" . do {
    local $/;
    open my $f, '<', "$GwJwt::JWT_DATA/jwks.json" or die;
    my $jwks = <$f>;
    my $bad = '{"kty":"OKP","crv":"X25519","kid":"x25519",'
              . '"x":"hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"},'
              . '{"kty":"EC","crv":"secp256k1","kid":"k1","x":"AA","y":"AA"},';
    $jwks =~ s/"keys" : \[/"keys" : [$bad/ or die;
    $jwks;
}
--- request eval
"GET /t?t=$::tok{ES256}"
--- error_code: 200
--- error_log
auth_jwt: skipped JWK "x25519": X25519 JWK without its private part
auth_jwt: skipped JWK "k1": EC JWK on an unsupported curve
