# auth_jwt: the decryption keys of JWK Sets: private RSA, EC and X25519
# keys and oct keys for "use" "enc", and the keys that are refused or
# skipped, with the reason.

use lib 't/helpers';
use GwJwt;
use Test::Nginx::Socket 'no_plan';
use JSON::PP;

my $keys = enc_keys();

# a JWK Set of the keys given, as text
sub set { JSON::PP->new->canonical->encode({ keys => [ @_ ] }) }

sub key { my ($kid, %more) = @_; return { %{ $keys->{$kid} }, %more } }

sub without { my ($key, @names) = @_; my %k = %$key; delete @k{@names};
              return \%k }

our %set = (
    crt_partial => set(without(key('rsa-enc'), 'qi')),
    d_only => set(without(key('rsa-enc'), qw(p q dp dq qi))),
    d_wrong => set(key('rsa-enc', d => key('rsa-enc')->{p})),
    oth => set(key('rsa-enc', oth => []), key('oct32')),
    ec_d_wrong => set(key('ec256-enc', d => key('ec384-enc')->{d})),
    ec_d_mismatch => set(key('ec256-enc',
                             d => b64("\1" . "\0" x 30 . "\1"))),
    x25519_mismatch => set(key('x25519-enc', x => key('ec256-enc')->{x})),
    x25519_public => set(without(key('x25519-enc'), 'd')),
    x25519_sig => set(key('x25519-enc', use => 'sig'), key('oct32')),
    alg_use => set(key('rsa-enc', alg => 'RSA-OAEP-256', use => 'sig')),
    alg_kty => set(key('oct16', alg => 'RSA-OAEP')),
    oct_size => set(key('oct16', alg => 'A256KW'), key('oct32')),
    ed25519_enc => set({ kty => 'OKP', crv => 'Ed25519', use => 'enc',
                         kid => 'ed', x => b64('e' x 32) }, key('oct32')),
    ec_public_enc => set(without(key('ec256-enc'), 'd'), key('oct32')),
    rsa1_5 => set(key('rsa-enc', alg => 'RSA1_5'),
                  key('oct32')),
);

our $nested = nested('ES256', 'RSA-OAEP-256', 'A128GCM',
                     { sub => 'alice', exp => time + 3600 });
our $d_only = jwe('RSA-OAEP', 'A256GCM', { sub => 'd-only',
                                           exp => time + 3600 });

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('config', <<'CONFIG') unless defined $block->config;
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_type encrypted;
        auth_jwt_key_file ../html/keys.json;
        add_header X-Sub $jwt_claim_sub;
        alias html/ok.txt;
    }
CONFIG

    $block->set_value('request', "GET /t\n") unless defined $block->request;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: a private RSA key with "d" but only some CRT values
--- user_files eval
">>> keys.json\n$::set{crt_partial}"
--- must_die
--- error_log
invalid key file



=== TEST 2: the reason: some CRT values
--- user_files eval
">>> keys.json\n$::set{crt_partial}"
--- must_die
--- error_log
RSA JWK with "d" and only some of "p", "q", "dp", "dq", "qi"



=== TEST 3: a private RSA key with "d" alone decrypts
--- user_files eval
">>> ok.txt\nok\n>>> keys.json\n$::set{d_only}"
--- request eval
"GET /t?t=$::d_only"
--- error_code: 200
--- response_headers
X-Sub: d-only



=== TEST 4: a "d" that does not fit "n" and "e"
--- user_files eval
">>> keys.json\n$::set{d_wrong}"
--- must_die
--- error_log
RSA JWK private part does not fit its public part



=== TEST 5: more than two primes are skipped
--- user_files eval
">>> ok.txt\nok\n>>> keys.json\n"
. $::set{oth}
--- error_code: 401
--- error_log
auth_jwt: skipped JWK "rsa-enc": RSA JWK of more than two primes



=== TEST 6: an EC "d" of another size, and one of another point
--- user_files eval
">>> keys.json\n$::set{ec_d_wrong}"
--- must_die
--- error_log
EC JWK "d" is not base64url of the field size



=== TEST 7: an EC "d" that is not the point's
--- user_files eval
">>> keys.json\n$::set{ec_d_mismatch}"
--- must_die
--- error_log
EC JWK "d" does not fit its point



=== TEST 8: an X25519 "d" that is not "x"'s
--- user_files eval
">>> keys.json\n$::set{x25519_mismatch}"
--- must_die
--- error_log
X25519 JWK "d" does not fit its "x"



=== TEST 9: an X25519 public key decrypts nothing: skipped, and a set
left with no key is an error
--- user_files eval
">>> keys.json\n$::set{x25519_public}"
--- must_die
--- error_log eval
[qr/auth_jwt: skipped JWK "x25519-enc": X25519 JWK without its private part/,
 qr/invalid key file "\S+keys\.json": no usable keys in "keys"/]



=== TEST 10: an EC public key for encryption is skipped, with the reason
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_type encrypted;
        auth_jwt_key_file ../html/ec.json;
        alias html/ok.txt;
    }
--- user_files eval
">>> ok.txt\nok\n>>> ec.json\n" . $::set{ec_public_enc}
--- error_code: 401
--- error_log
auth_jwt: skipped JWK "ec256-enc": EC JWK for encryption without its private part



=== TEST 11: an X25519 key for signatures is skipped
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_type encrypted;
        auth_jwt_key_file ../html/sig.json;
        alias html/ok.txt;
    }
--- user_files eval
">>> ok.txt\nok\n>>> sig.json\n" . $::set{x25519_sig}
--- error_code: 401
--- error_log
auth_jwt: skipped JWK "x25519-enc": OKP JWK on a curve that does not sign



=== TEST 12: an Ed25519 key for encryption is skipped
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_type encrypted;
        auth_jwt_key_file ../html/ed.json;
        alias html/ok.txt;
    }
--- user_files eval
">>> ok.txt\nok\n>>> ed.json\n" . $::set{ed25519_enc}
--- error_code: 401
--- error_log
auth_jwt: skipped JWK "ed": OKP JWK on a curve that does not decrypt



=== TEST 13: a JWE "alg" with "use" "sig"
--- user_files eval
">>> keys.json\n$::set{alg_use}"
--- must_die
--- error_log
JWK "alg" does not fit its "use"



=== TEST 14: a JWE "alg" of another key type
--- user_files eval
">>> keys.json\n$::set{alg_kty}"
--- must_die
--- error_log
JWK "alg" does not fit its "kty"



=== TEST 15: an oct key of another size than its "alg" takes
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_type encrypted;
        auth_jwt_key_file ../html/keys.json;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwe.json;
        alias html/ok.txt;
    }
--- user_files eval
">>> ok.txt\nok\n>>> keys.json\n" . $::set{oct_size}
--- error_code: 401
--- error_log
auth_jwt: skipped JWK "oct16": oct JWK of another size than its "alg" takes



=== TEST 16: a key for RSA1_5 is skipped as an unsupported "alg"
--- user_files eval
">>> ok.txt\nok\n>>> keys.json\n$::set{rsa1_5}"
--- error_code: 401
--- error_log
auth_jwt: skipped JWK "rsa-enc" with unsupported "alg" "RSA1_5"
