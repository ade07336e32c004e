# auth_jwt: encrypted and nested tokens that do not get in.  What is
# refused by its form says why; what does not decrypt (a wrong tag, a
# wrong key, a length that does not fit) reads the same whatever it was:
# one info line, one status.

use lib 't/helpers';
use GwJwt;
use Test::Nginx::Socket 'no_plan';
use MIME::Base64 qw(decode_base64url);
use Crypt::PK::RSA;
use Crypt::PK::ECC;

our %tok;
my $now = time;
my $claims = { sub => 'alice', exp => $now + 3600 };
my $json = qq({"sub":"alice","exp":@{[ $now + 3600 ]}});
my $keys = enc_keys();
my %oct = map { $_ => decode_base64url($keys->{"oct$_"}{k}) }
              16, 24, 32, 48, 64;

# dir with the 32-byte key: a header exactly as given
sub dir32 {
    my ($header, $payload) = @_;
    return jwe_seal('A256GCM', $header, $payload // $json, $oct{32}, '');
}

# the token with one segment replaced
sub with {
    my ($token, $i, $bytes) = @_;
    my @s = split /\./, $token, -1;
    $s[$i] = b64($bytes);
    return join '.', @s;
}

sub seg { decode_base64url((split /\./, $_[0], -1)[$_[1]]) }

# the bytes with one bit flipped
sub flip {
    my ($bytes, $at) = @_;
    substr($bytes, $at, 1) ^= "\x01";
    return $bytes;
}

my $other_rsa = Crypt::PK::RSA->new->generate_key(256);
my $other_ec = Crypt::PK::ECC->new->generate_key('secp256r1');

%tok = (
    # refused by their form, each with its reason
    rsa1_5 => Crypt::JWT::encode_jwt(payload => $claims, alg => 'RSA1_5',
        enc => 'A128GCM', key => GwJwt::jwe_key_object('rsa-enc'),
        extra_headers => { kid => 'rsa-enc' }),
    pbes2 => Crypt::JWT::encode_jwt(payload => $claims,
        alg => 'PBES2-HS256+A128KW', enc => 'A128GCM', key => 'secret'),
    zip => Crypt::JWT::encode_jwt(payload => $claims, alg => 'dir',
        enc => 'A256GCM', key => $oct{32}, zip => 'deflate'),
    crit => dir32('{"alg":"dir","enc":"A256GCM","crit":["exp"],"exp":1}'),
    enc_unknown => dir32('{"alg":"dir","enc":"A256CTR"}'),
    alg_unknown => dir32('{"alg":"A256XW","enc":"A256GCM"}'),
    alg_none => dir32('{"alg":"none","enc":"A256GCM"}'),
    no_enc => dir32('{"alg":"dir"}'),
    kid_number => dir32('{"alg":"dir","enc":"A256GCM","kid":7}'),
    four => join('.', (split /\./, dir32('{"alg":"dir","enc":"A256GCM"}'),
                       -1)[0 .. 3]),
    empty_iv => with(dir32('{"alg":"dir","enc":"A256GCM"}'), 2, ''),
    bad_b64 => dir32('{"alg":"dir","enc":"A256GCM"}') . '*',
    header_dup => dir32('{"alg":"dir","enc":"A256GCM","enc":"A128GCM"}'),
    header_array => dir32('["dir"]'),
    gcmkw_no_tag => do {
        my $t = jwe('A256GCMKW', 'A256GCM', $claims);
        my $h = JSON::PP->new->decode(seg($t, 0));
        delete $h->{tag};
        with($t, 0, JSON::PP->new->encode($h));
    },
    epk_missing => jwe_seal('A128GCM',
        '{"alg":"ECDH-ES","enc":"A128GCM","kid":"ec256-enc"}', $json,
        "\0" x 16, ''),
    epk_string => jwe_seal('A128GCM',
        '{"alg":"ECDH-ES","enc":"A128GCM","kid":"ec256-enc","epk":'
        . JSON::PP->new->encode(JSON::PP->new->canonical->encode(
              $other_ec->export_key_jwk('public', 1))) . '}',
        $json, "\0" x 16, ''),
    epk_off_curve => jwe_seal('A128GCM',
        '{"alg":"ECDH-ES","enc":"A128GCM","kid":"ec256-enc","epk":'
        . '{"kty":"EC","crv":"P-256","x":"' . b64("\1" x 32) . '","y":"'
        . b64("\2" x 32) . '"}}', $json, "\0" x 16, ''),
    epk_private => jwe_seal('A128GCM',
        '{"alg":"ECDH-ES","enc":"A128GCM","kid":"ec256-enc","epk":'
        . JSON::PP->new->canonical->encode($other_ec->export_key_jwk(
              'private', 1)) . '}', $json, "\0" x 16, ''),
    not_json => dir32('{"alg":"dir","enc":"A256GCM"}', '[1]'),
    huge => dir32('{"alg":"dir","enc":"A256GCM"}',
                  qq({"sub":"a","pad":"@{[ 'x' x 13000 ]}"})),
    jws => jwt('HS256', $claims),
    jwe => jwe('dir', 'A256GCM', $claims),
    nested => nested('RS256', 'A256KW', 'A256GCM', $claims),
    inner_jwe => jwe('A128KW', 'A128GCM', jwe('dir', 'A128GCM', $claims),
                     { cty => 'JWT' }),
    inner_bad_sig => do {
        my $inner = jwt('ES256', $claims);
        $inner =~ s/(.)$/$1 eq 'A' ? 'Q' : 'A'/e;
        jwe('RSA-OAEP', 'A128CBC-HS256', $inner, { cty => 'JWT' });
    },
    inner_no_key => jwe('dir', 'A256GCM',
                        jwt('HS256', $claims, { kid => 'nope' }),
                        { cty => 'JWT' }),
    inner_none => jwe('dir', 'A256GCM',
                      b64('{"alg":"none"}') . '.' . b64($json) . '.',
                      { cty => 'JWT' }),
);

# a P-384 sender's key with the kid of the P-256 key: no key fits
$tok{epk_other_curve} = do {
    my $t = jwe('ECDH-ES', 'A128GCM', $claims, undef, 'ec384');
    my $h = JSON::PP->new->decode(seg($t, 0));
    $h->{kid} = 'ec256-enc';
    jwe_seal('A128GCM', JSON::PP->new->canonical->encode($h), $json,
             "\0" x 16, '');
};

# what does not decrypt: every way, one reason
our @undecryptable;

for my $t (jwe('dir', 'A256GCM', $claims),
           jwe('dir', 'A128CBC-HS256', $claims),
           jwe('A192KW', 'A256CBC-HS512', $claims),
           jwe('A128GCMKW', 'A192GCM', $claims),
           jwe('RSA-OAEP-512', 'A256GCM', $claims),
           jwe('ECDH-ES', 'A192CBC-HS384', $claims, undef, 'ec521'),
           jwe('ECDH-ES+A128KW', 'A128GCM', $claims, undef, 'x25519'))
{
    push @undecryptable,
        with($t, 4, flip(seg($t, 4), 0)),                    # the tag
        with($t, 3, flip(seg($t, 3), 1)),                    # the content
        with($t, 2, flip(seg($t, 2), 2)),                    # the IV
        with($t, 4, substr(seg($t, 4), 1)),                  # short tag
        with($t, 2, seg($t, 2) . "\0");                      # long IV
    push @undecryptable, with($t, 1, flip(seg($t, 1), 3))   # wrapped key
        if seg($t, 1) ne '';
    push @undecryptable, with($t, 1, substr(seg($t, 1), 1))  # short one
        if seg($t, 1) ne '';
    push @undecryptable, with($t, 1, "\0" x 40)             # one that
        if seg($t, 1) eq '';                                 # should not be
}

push @undecryptable,
    # another key under the same kid
    jwe_seal('A256GCM', '{"alg":"dir","enc":"A256GCM","kid":"oct32"}',
             $json, 'z' x 32, ''),
    jwe_raw('RSA-OAEP-256', 'A128GCM', { kid => 'rsa-enc' }, $json,
            $other_rsa),
    jwe_raw('ECDH-ES+A256KW', 'A256GCM', { kid => 'ec256-enc' }, $json,
            $other_ec),
    Crypt::JWT::encode_jwt(payload => $claims, alg => 'A128KW',
                           enc => 'A128GCM', key => 'q' x 16,
                           extra_headers => { kid => 'oct16' }),
    # the header is authenticated: another member, or another kid
    do {
        my $t = jwe('A256KW', 'A256GCM', $claims);
        my $h = JSON::PP->new->decode(seg($t, 0));
        $h->{typ} = 'JWT';
        with($t, 0, JSON::PP->new->encode($h));
    },
    do {
        my $t = jwe('dir', 'A256GCM', $claims);
        my $h = JSON::PP->new->decode(seg($t, 0));
        $h->{kid} = 'oct32';
        $h->{enc} = 'A128CBC-HS256';
        with($t, 0, JSON::PP->new->encode($h));
    },
    # RSA-OAEP that decodes to a key of another length than "enc" takes
    do {
        my $pub = GwJwt::jwe_key_object('rsa-enc');
        my $cek = 'k' x 16;
        my $h = '{"alg":"RSA-OAEP","enc":"A256GCM","kid":"rsa-enc"}';
        jwe_seal('A256GCM', $h, $json, 'k' x 32,
                 $pub->encrypt($cek, 'oaep', 'SHA1', ''));
    },
    # CBC content not a whole number of blocks
    do {
        my $t = jwe('dir', 'A256CBC-HS512', $claims);
        with($t, 3, substr(seg($t, 3), 1));
    };

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('config', <<'CONFIG') unless defined $block->config;
    large_client_header_buffers 4 32k;

    auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
    auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwe.json;

    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_type encrypted;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
    location /n {
        auth_jwt "api" token=$arg_t;
        auth_jwt_type nested;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
    location /s {
        auth_jwt "api" token=$arg_t;
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

=== TEST 1: what does not decrypt is refused alike: a wrong tag, content,
IV or wrapped key, a wrong length, another key under the kid, a changed
header, a key of the wrong size: 401, BAD_SIGNATURE, one reason
--- request eval
[map { "GET /t?t=$_" } @::undecryptable]
--- error_code eval
[(401) x @::undecryptable]
--- response_headers eval
[("X-JWT-Status: BAD_SIGNATURE\n"
  . 'WWW-Authenticate: Bearer realm="api", error="invalid_token"')
 x @::undecryptable]
--- error_log
auth_jwt: rejected token: decryption failed
--- no_error_log eval
[qr/rejected token: (?!decryption failed,)/, qr/\[error\]|\[alert\]|\[crit\]/]



=== TEST 2: one line for a wrong tag
--- request eval
"GET /t?t=$::undecryptable[0]"
--- error_code: 401
--- grep_error_log eval
qr/auth_jwt: [^,]*/
--- grep_error_log_out
auth_jwt: rejected token: decryption failed



=== TEST 3: one line, the same, for another key under the kid (RSA-OAEP)
--- request eval
"GET /t?t=$::undecryptable[-7]"
--- error_code: 401
--- grep_error_log eval
qr/auth_jwt: [^,]*/
--- grep_error_log_out
auth_jwt: rejected token: decryption failed



=== TEST 4: one line, the same, for a wrapped key cut short (A192KW)
--- request eval
"GET /t?t=$::undecryptable[18]"
--- error_code: 401
--- grep_error_log eval
qr/auth_jwt: [^,]*/
--- grep_error_log_out
auth_jwt: rejected token: decryption failed



=== TEST 5: RSA1_5 is refused, whatever the keys
--- request eval
"GET /t?t=$::tok{rsa1_5}"
--- error_code: 401
--- response_headers
X-JWT-Status: MALFORMED
--- error_log
auth_jwt: rejected token: "alg" RSA1_5 is refused



=== TEST 6: PBES2 is refused
--- request eval
"GET /t?t=$::tok{pbes2}"
--- error_code: 401
--- response_headers
X-JWT-Status: MALFORMED
--- error_log
auth_jwt: rejected token: "alg" PBES2 is refused



=== TEST 7: a compressed payload ("zip") is refused
--- request eval
"GET /t?t=$::tok{zip}"
--- error_code: 401
--- response_headers
X-JWT-Status: MALFORMED
--- error_log
auth_jwt: rejected token: "zip" is refused



=== TEST 8: "crit" is refused
--- request eval
"GET /t?t=$::tok{crit}"
--- error_code: 401
--- error_log
auth_jwt: rejected token: unsupported "crit" header



=== TEST 9: an unknown "enc", an unknown "alg", "none", no "enc"
--- request eval
["GET /t?t=$::tok{enc_unknown}", "GET /t?t=$::tok{alg_unknown}",
 "GET /t?t=$::tok{alg_none}", "GET /t?t=$::tok{no_enc}"]
--- error_code eval
[401, 401, 401, 401]
--- response_headers eval
[("X-JWT-Status: MALFORMED") x 4]



=== TEST 10: the reasons of an unknown "enc" and of a missing one
--- request eval
"GET /t?t=$::tok{enc_unknown}"
--- error_code: 401
--- error_log
auth_jwt: rejected token: unsupported "enc"



=== TEST 11: the reason of an unknown "alg"
--- request eval
"GET /t?t=$::tok{alg_none}"
--- error_code: 401
--- error_log
auth_jwt: rejected token: unsupported "alg"



=== TEST 12: malformed: four segments, an empty IV, bad base64url, a
duplicate or not an object header, a kid not a string, a payload not an
object
--- request eval
["GET /t?t=$::tok{four}", "GET /t?t=$::tok{empty_iv}",
 "GET /t?t=$::tok{bad_b64}", "GET /t?t=$::tok{header_dup}",
 "GET /t?t=$::tok{header_array}", "GET /t?t=$::tok{kid_number}",
 "GET /t?t=$::tok{not_json}", "GET /t?t=$::tok{gcmkw_no_tag}"]
--- error_code eval
[(401) x 8]
--- response_headers eval
[("X-JWT-Status: MALFORMED") x 8]



=== TEST 13: GCMKW without "tag" in the header says so
--- request eval
"GET /t?t=$::tok{gcmkw_no_tag}"
--- error_code: 401
--- error_log
auth_jwt: rejected token: no base64url "iv" and "tag" in header



=== TEST 14: ECDH-ES: no "epk", "epk" as a string, off the curve, with a
private part; a sender's key on another curve than the kid's key
--- request eval
["GET /t?t=$::tok{epk_missing}", "GET /t?t=$::tok{epk_string}",
 "GET /t?t=$::tok{epk_off_curve}", "GET /t?t=$::tok{epk_private}",
 "GET /t?t=$::tok{epk_other_curve}"]
--- error_code eval
[401, 401, 401, 401, 401]
--- response_headers eval
["X-JWT-Status: MALFORMED", "X-JWT-Status: MALFORMED",
 "X-JWT-Status: MALFORMED", "X-JWT-Status: MALFORMED",
 "X-JWT-Status: NO_KEY"]



=== TEST 15: a point off its curve is an invalid "epk"
--- request eval
"GET /t?t=$::tok{epk_off_curve}"
--- error_code: 401
--- error_log
auth_jwt: rejected token: invalid "epk"



=== TEST 16: tokens longer than 16 KB are refused before decoding
--- request eval
"GET /t?t=$::tok{huge}"
--- error_code: 401
--- error_log
auth_jwt: rejected token: token too long



=== TEST 17: a JWE under auth_jwt_type signed
--- request eval
"GET /s?t=$::tok{jwe}"
--- error_code: 401
--- response_headers
X-JWT-Status: MALFORMED
--- error_log
auth_jwt: rejected token: a JWE (five segments) where a JWS is expected



=== TEST 18: a JWS under auth_jwt_type encrypted
--- request eval
"GET /t?t=$::tok{jws}"
--- error_code: 401
--- response_headers
X-JWT-Status: MALFORMED
--- error_log
auth_jwt: rejected token: a JWS (three segments) where a JWE is expected



=== TEST 19: a JWS under auth_jwt_type nested: both layers are required
--- request eval
"GET /n?t=$::tok{jws}"
--- error_code: 401
--- error_log
auth_jwt: rejected token: a JWS (three segments) where a JWE is expected



=== TEST 20: a JWE of claims under nested: "cty" must say JWT
--- request eval
"GET /n?t=$::tok{jwe}"
--- error_code: 401
--- response_headers
X-JWT-Status: MALFORMED
--- error_log
auth_jwt: rejected token: no "cty" JWT: not a nested token



=== TEST 21: a nested token under encrypted
--- request eval
"GET /t?t=$::tok{nested}"
--- error_code: 401
--- error_log
auth_jwt: rejected token: "cty" JWT: a nested token under auth_jwt_type encrypted



=== TEST 22: a nested token whose inner token is a JWE
--- request eval
"GET /n?t=$::tok{inner_jwe}"
--- error_code: 401
--- error_log
auth_jwt: rejected token: a JWE (five segments) where a JWS is expected



=== TEST 23: a nested token whose inner signature is wrong
--- request eval
"GET /n?t=$::tok{inner_bad_sig}"
--- error_code: 401
--- response_headers
X-JWT-Status: BAD_SIGNATURE
--- error_log
auth_jwt: rejected token: signature mismatch



=== TEST 24: a nested token whose inner token no key verifies, or is
unsigned
--- request eval
["GET /n?t=$::tok{inner_no_key}", "GET /n?t=$::tok{inner_none}"]
--- error_code eval
[401, 401]
--- response_headers eval
["X-JWT-Status: NO_KEY", "X-JWT-Status: MALFORMED"]
