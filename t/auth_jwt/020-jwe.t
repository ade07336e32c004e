# auth_jwt: encrypted (JWE) and nested tokens that get in, with every key
# management algorithm and every content encryption, made by Crypt::JWT and
# CryptX; their variables, the verified-token cache, and the keys.

use lib 't/helpers';
use GwJwt;
use Test::Nginx::Socket 'no_plan';
use MIME::Base64 qw(decode_base64url);

our (%tok, @every, @curves, @sigs);
my $now = time;

# every "alg" with every "enc"
for my $alg (@JWE_ALGS) {
    for my $enc (@ENCS) {
        push @every, "$alg/$enc";
        $tok{"$alg/$enc"} = jwe($alg, $enc, { sub => "$alg/$enc",
                                              exp => $now + 3600 });
    }
}

# ECDH-ES on each curve, with the shortest and the longest content keys
# (a Concat KDF of one round and of two), and with "apu" and "apv"
for my $curve (qw(ec256 ec384 ec521 x25519)) {
    for my $alg (grep { /^ECDH/ } @JWE_ALGS) {
        for my $enc (qw(A128GCM A256CBC-HS512)) {
            push @curves, "$curve/$alg/$enc";
            $tok{"$curve/$alg/$enc"} =
                jwe($alg, $enc, { sub => $curve, exp => $now + 3600 },
                    { apu => b64('Alice'), apv => b64('Bob') }, $curve);
        }
    }
}

# nested: each signature algorithm inside a JWE; $jwt_payload is the JWS
our %inner;
for my $sig (@ALGS) {
    push @sigs, $sig;
    $inner{$sig} = jwt($sig, { sub => "nested-$sig", role => 'admin',
                               address => { city => 'Oslo' },
                               exp => $now + 3600 });
    $tok{"nested/$sig"} = jwe('RSA-OAEP-256', 'A256GCM', $inner{$sig},
                              { cty => 'JWT' });
}

$tok{"nested/dir"} = nested('HS256', 'dir', 'A128CBC-HS256',
                            { sub => 'dir', exp => $now + 3600 });
$tok{"nested/x25519"} = nested('EdDSA', 'ECDH-ES+A256KW', 'A192GCM',
                               { sub => 'x25519', exp => $now + 3600 },
                               undef, 'x25519');
$tok{"nested/lower"} = nested('ES256', 'A128KW', 'A128GCM',
                              { sub => 'lower', exp => $now + 3600 },
                              { cty => 'application/jwt' });

# RFC 7518, Appendix C: Alice's ephemeral key, Bob's key, "apu" Alice and
# "apv" Bob give the content key VqqN6vgjbSBcIijNcacQGg for A128GCM
our $rfc_bob = '{"keys": [{"kty": "EC", "crv": "P-256", "kid": "bob",'
    . ' "x": "weNJy2HscCSM6AEDTDg04biOvhFhyyWvOHQfeF_PxMQ",'
    . ' "y": "e8lnCO-AlStT-NJVX-crhB7QRYhiix03illJOVAOyck",'
    . ' "d": "VEmDZpDXXK8p8N0Cndsxs924q6nS1RXFASRl6BfUqdw"}]}';
$tok{rfc7518} = jwe_seal('A128GCM',
    '{"alg":"ECDH-ES","enc":"A128GCM","apu":"QWxpY2U","apv":"Qm9i",'
    . '"epk":{"kty":"EC","crv":"P-256",'
    . '"x":"gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0",'
    . '"y":"SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps"}}',
    qq({"sub":"bob","exp":@{[ $now + 3600 ]}}),
    decode_base64url('VqqN6vgjbSBcIijNcacQGg'), '');

$tok{expired} = jwe('dir', 'A256GCM', { sub => 'a', exp => $now - 10 });
$tok{not_yet} = jwe('A256KW', 'A256GCM', { sub => 'a', nbf => $now + 86400 });
$tok{nested_expired} = nested('RS256', 'RSA-OAEP', 'A256GCM',
                              { sub => 'a', exp => $now - 10 });
$tok{no_kid} = jwe('RSA-OAEP-256', 'A128GCM',
                   { sub => 'no-kid', exp => $now + 3600 }, { kid => undef });
our $claims = { sub => 'alice', roles => [ 'a', 'b' ], org => { id => 7 },
                exp => $now + 3600 };
$tok{claims} = jwe('A128GCMKW', 'A256GCM', $claims);
$tok{hs_enc} = Crypt::JWT::encode_jwt(payload => { sub => 'x' },
    alg => 'HS256', key => decode_base64url(enc_keys()->{oct16}{k}),
    extra_headers => { kid => 'oct16' });
$tok{JWS} = jwt('RS256', { sub => 'signed', exp => $now + 3600 });

# most blocks take encrypted tokens from ?t=, with every decryption key
add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('config', <<'CONFIG') unless defined $block->config;
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_type encrypted;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwe.json;
        add_header X-Sub $jwt_claim_sub;
        add_header X-Alg $jwt_header_alg;
        add_header X-Enc $jwt_header_enc;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
CONFIG

    $block->set_value('user_files', ">>> ok.txt\nok\n")
        unless defined $block->user_files;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: every key management algorithm with every content encryption
--- request eval
[map { "GET /t?t=$::tok{$_}" } @::every]
--- error_code eval
[(200) x @::every]
--- response_headers eval
[map { my ($a, $e) = split m{/}; "X-Sub: $_\nX-Alg: $a\nX-Enc: $e\n"
       . "X-JWT-Status: VALID" } @::every]
--- response_body eval
[("ok\n") x @::every]



=== TEST 2: ECDH-ES and ECDH-ES+A*KW on P-256, P-384, P-521 and X25519,
with "apu" and "apv", and a content key of two rounds of the Concat KDF
--- request eval
[map { "GET /t?t=$::tok{$_}" } @::curves]
--- error_code eval
[(200) x @::curves]
--- response_headers eval
[map { "X-Sub: " . (split m{/})[0] } @::curves]



=== TEST 3: the Concat KDF gives the key of RFC 7518, Appendix C
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_type encrypted;
        auth_jwt_key_file ../html/bob.json;
        add_header X-Sub $jwt_claim_sub;
        alias html/ok.txt;
    }
--- user_files eval
">>> ok.txt\nok\n>>> bob.json\n$::rfc_bob"
--- request eval
"GET /t?t=$::tok{rfc7518}"
--- error_code: 200
--- response_headers
X-Sub: bob



=== TEST 4: nested tokens: each signature algorithm inside a JWE; claims
are the inner JWS's, the header variables the JWE's, as in NGINX Plus,
and $jwt_payload is the inner JWS
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_type nested;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwe.json;
        add_header X-Sub $jwt_claim_sub;
        add_header X-Alg $jwt_header_alg;
        add_header X-Cty $jwt_header_cty;
        add_header X-Kid $jwt_header_kid;
        add_header X-Payload $jwt_payload;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
--- request eval
[map { "GET /t?t=$::tok{qq(nested/$_)}" } @::sigs]
--- error_code eval
[(200) x @::sigs]
--- response_headers eval
[map { "X-Sub: nested-$_\nX-Alg: RSA-OAEP-256\nX-Cty: JWT\n"
       . "X-Kid: rsa-enc\nX-Payload: $::inner{$_}\nX-JWT-Status: VALID" }
 @::sigs]



=== TEST 5: nested with dir, with ECDH-ES+A256KW to X25519 and EdDSA
inside, and "cty" as a media type in another case
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_type nested;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwe.json;
        add_header X-Sub $jwt_claim_sub;
        alias html/ok.txt;
    }
--- request eval
["GET /t?t=$::tok{'nested/dir'}", "GET /t?t=$::tok{'nested/x25519'}",
 "GET /t?t=$::tok{'nested/lower'}"]
--- error_code eval
[200, 200, 200]
--- response_headers eval
["X-Sub: dir", "X-Sub: x25519", "X-Sub: lower"]



=== TEST 6: claims of an encrypted token as variables, auth_jwt_claim_set
and auth_jwt_header_set paths, and $jwt_payload the decrypted JSON
--- http_config
    auth_jwt_claim_set $org_id org id;
    auth_jwt_header_set $iv_len iv;
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_type encrypted;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwe.json;
        add_header X-Sub $jwt_claim_sub;
        add_header X-Roles $jwt_claim_roles;
        add_header X-Org $org_id;
        add_header X-Has-Iv $iv_len;
        add_header X-Payload $jwt_payload;
        alias html/ok.txt;
    }
--- request eval
"GET /t?t=$::tok{claims}"
--- error_code: 200
--- response_headers eval
"X-Sub: alice\nX-Roles: a,b\nX-Org: 7\n"
. "X-Has-Iv: " . JSON::PP->new->decode(MIME::Base64::decode_base64url(
      (split /\./, $::tok{claims})[0]))->{iv} . "\n"
. "X-Payload: " . JSON::PP->new->canonical->encode($::claims)



=== TEST 7: auth_jwt_require works on the claims of a nested token
--- http_config
    map $jwt_claim_role $is_admin {
        admin    1;
        default  0;
    }
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_type nested;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwe.json;
        auth_jwt_require $is_admin error=403;
        alias html/ok.txt;
    }
--- request eval
["GET /t?t=$::tok{'nested/RS256'}", "GET /t?t=$::tok{'nested/dir'}"]
--- error_code eval
[200, 403]



=== TEST 8: times come from the decrypted claims: expired, not yet valid,
an expired nested token; the leeway admits the expired one
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_type encrypted;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwe.json;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
    location /nested {
        auth_jwt "api" token=$arg_t;
        auth_jwt_type nested;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwe.json;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
    location /leeway {
        auth_jwt "api" token=$arg_t;
        auth_jwt_type encrypted;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwe.json;
        auth_jwt_leeway 1h;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
--- request eval
["GET /t?t=$::tok{expired}", "GET /t?t=$::tok{not_yet}",
 "GET /nested?t=$::tok{nested_expired}", "GET /leeway?t=$::tok{expired}"]
--- error_code eval
[401, 401, 401, 200]
--- response_headers eval
["X-JWT-Status: EXPIRED", "X-JWT-Status: NOT_YET_VALID",
 "X-JWT-Status: EXPIRED", "X-JWT-Status: VALID"]



=== TEST 9: a token without "kid" finds its key by "alg" and size
--- request eval
"GET /t?t=$::tok{no_kid}"
--- error_code: 200
--- response_headers
X-Sub: no-kid
X-Alg: RSA-OAEP-256



=== TEST 10: a JWE seen again comes from the verified-token cache, and its
claims are decrypted again with the content key the cache kept (an
internal redirect checks the token a second time)
--- config
    auth_jwt "api" token=$arg_t;
    auth_jwt_type encrypted;
    auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwe.json;

    location /t {
        try_files /nonexistent @claims;
    }
    location @claims {
        root html;
        add_header X-Sub $jwt_claim_sub;
        add_header X-Alg $jwt_header_alg;
        try_files /ok.txt =404;
    }
--- request eval
"GET /t?t=$::tok{'RSA-OAEP-256/A256CBC-HS512'}"
--- error_code: 200
--- response_headers
X-Sub: RSA-OAEP-256/A256CBC-HS512
X-Alg: RSA-OAEP-256
--- grep_error_log: auth_jwt: token in the verified-token cache
--- grep_error_log_out
auth_jwt: token in the verified-token cache



=== TEST 11: a nested token from the cache shows the inner claims again
--- config
    auth_jwt "api" token=$arg_t;
    auth_jwt_type nested;
    auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
    auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwe.json;

    location /t {
        try_files /nonexistent @claims;
    }
    location @claims {
        root html;
        add_header X-Sub $jwt_claim_sub;
        add_header X-Payload $jwt_payload;
        try_files /ok.txt =404;
    }
--- request eval
"GET /t?t=$::tok{'nested/ES384'}"
--- error_code: 200
--- response_headers eval
"X-Sub: nested-ES384\nX-Payload: $::inner{ES384}"
--- grep_error_log: auth_jwt: token in the verified-token cache
--- grep_error_log_out
auth_jwt: token in the verified-token cache



=== TEST 12: the cache keeps auth_jwt_type apart: a token cached under one
type is checked again under another with the same keys
--- config
    auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
    auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwe.json;

    location /signed {
        auth_jwt "api" token=$arg_t;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
    location /encrypted {
        auth_jwt "api" token=$arg_t;
        auth_jwt_type encrypted;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
    location /nested {
        auth_jwt "api" token=$arg_t;
        auth_jwt_type nested;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
--- request eval
["GET /signed?t=$::tok{JWS}", "GET /encrypted?t=$::tok{JWS}",
 "GET /nested?t=$::tok{'nested/PS256'}",
 "GET /encrypted?t=$::tok{'nested/PS256'}",
 "GET /encrypted?t=$::tok{'dir/A256GCM'}",
 "GET /nested?t=$::tok{'dir/A256GCM'}"]
--- error_code eval
[200, 401, 200, 401, 200, 401]
--- response_headers eval
["X-JWT-Status: VALID", "X-JWT-Status: MALFORMED", "X-JWT-Status: VALID",
 "X-JWT-Status: MALFORMED", "X-JWT-Status: VALID",
 "X-JWT-Status: MALFORMED"]



=== TEST 13: decryption keys fetched with auth_jwt_key_request
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_type nested;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        auth_jwt_key_request /_keys;
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
--- request eval
"GET /t?t=$::tok{'nested/ES512'}"
--- error_code: 200
--- response_headers
X-Sub: nested-ES512



=== TEST 14: a key chosen by "kid", "use" and its "alg": an oct key for
signatures never decrypts, a key pinned to RSA-OAEP-256 never serves
RSA-OAEP, and a decryption key never verifies a JWS
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_type encrypted;
        auth_jwt_key_file ../html/keys.json;
        add_header X-Sub $jwt_claim_sub;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
    location /signed {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file ../html/keys.json;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
--- user_files eval
">>> ok.txt\nok\n>>> keys.json\n" . JSON::PP->new->encode({ keys => [
    { %{ GwJwt::enc_keys()->{oct32} }, use => 'sig' },
    { %{ GwJwt::enc_keys()->{'rsa-enc'} }, alg => 'RSA-OAEP-256' },
    GwJwt::enc_keys()->{oct16},
] })
--- request eval
["GET /t?t=$::tok{'dir/A256GCM'}", "GET /t?t=$::tok{'RSA-OAEP-256/A128GCM'}",
 "GET /t?t=$::tok{'RSA-OAEP/A128GCM'}", "GET /t?t=$::tok{'A128KW/A128GCM'}",
 "GET /signed?t=$::tok{hs_enc}"]
--- error_code eval
[401, 200, 401, 200, 401]
--- response_headers eval
["X-JWT-Status: NO_KEY", "X-Sub: RSA-OAEP-256/A128GCM",
 "X-JWT-Status: NO_KEY", "X-Sub: A128KW/A128GCM", "X-JWT-Status: NO_KEY"]
