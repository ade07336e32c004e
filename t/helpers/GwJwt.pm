package GwJwt;

# Mints the tokens the JWT tests send, with the fixed keys in t/data/jwt.
# Standard tokens come from Crypt::JWT (an independent implementation),
# signed (JWS) or encrypted (JWE); crafted ones (raw JSON text, odd
# encodings, RSA-OAEP-384 and -512, which Crypt::JWT 0.034 lacks) are
# made here with CryptX.

use strict;
use warnings;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempfile);
use MIME::Base64 qw(encode_base64url);
use Digest::SHA qw(hmac_sha256 hmac_sha384 hmac_sha512);
use Crypt::JWT qw(encode_jwt);
use Crypt::PK::RSA;
use Crypt::PK::ECC;
use Crypt::PK::Ed25519;
use Crypt::PK::X25519;
use Crypt::AuthEnc::GCM qw(gcm_encrypt_authenticate);
use Crypt::Mode::CBC;
use Crypt::Mac::HMAC qw(hmac);
use Crypt::PRNG qw(random_bytes);
use Crypt::Digest;
use Crypt::KeyWrap;
use JSON::PP;

use Exporter 'import';
our @EXPORT = qw(jwt jws b64 jwe nested jwe_raw jwe_seal jwe_key enc_keys
                 $SECRET $JWT_DATA @ALGS @JWE_ALGS @ENCS);

our $JWT_DATA = abs_path(dirname(__FILE__) . '/../data/jwt');
our $SECRET = 'gateway-test-secret:' . ('0123456789abcdef' x 2)
              . '0123456789ab';
our @ALGS = qw(HS256 HS384 HS512 RS256 RS384 RS512 PS256 PS384 PS512
               ES256 ES384 ES512 EdDSA Ed448);

# JWE: every key management algorithm auth_jwt takes, and every content
# encryption; ECDH-ES on each curve, by the key's kid
our @JWE_ALGS = qw(dir A128KW A192KW A256KW A128GCMKW A192GCMKW A256GCMKW
                   RSA-OAEP RSA-OAEP-256 RSA-OAEP-384 RSA-OAEP-512
                   ECDH-ES ECDH-ES+A128KW ECDH-ES+A192KW ECDH-ES+A256KW);
our @ENCS = qw(A128CBC-HS256 A192CBC-HS384 A256CBC-HS512 A128GCM A192GCM
               A256GCM);

# where nginx configs find the key files
$ENV{TEST_NGINX_JWT_DATA} = $JWT_DATA;

my %pem = (RS => 'rsa', PS => 'rsa', ES256 => 'ec256', ES384 => 'ec384',
           ES512 => 'ec521', EdDSA => 'ed25519', Ed448 => 'ed448');

my %kid = (HS => 'hs', RS => 'rsa', PS => 'rsa', ES256 => 'ec256',
           ES384 => 'ec384', ES512 => 'ec521', EdDSA => 'ed25519',
           Ed448 => 'ed448');

sub family { my $alg = shift; $kid{$alg} ? $alg : substr($alg, 0, 2) }

sub b64 { encode_base64url(shift) }

sub pem { "$JWT_DATA/" . $pem{family(shift)} . '.pem' }

# jwt(alg, {claims}, {extra header members}): a token as issuers make them
sub jwt {
    my ($alg, $claims, $header) = @_;
    $header = { kid => $kid{family($alg)}, %{ $header || {} } };

    if ($alg eq 'Ed448') {
        my $json = JSON::PP->new->canonical;
        return jws('Ed448', $json->encode({ alg => 'EdDSA', %$header }),
                   $json->encode($claims));
    }

    my $key = $alg =~ /^HS/ ? $SECRET : key_object($alg);
    return encode_jwt(payload => $claims, alg => $alg, key => $key,
                      extra_headers => $header);
}

# jws(alg, header text, payload text, %opt): signs exactly the given text
sub jws {
    my ($alg, $header, $payload, %opt) = @_;
    my $input = b64($header) . '.' . b64($payload);
    my $sig = exists $opt{signature} ? $opt{signature} : sign($alg, $input);
    return "$input." . b64($sig);
}

sub sign {
    my ($alg, $input) = @_;
    my ($hash) = $alg =~ /(\d+)$/;
    $hash = "SHA$hash" if $hash;

    return { HS256 => \&hmac_sha256, HS384 => \&hmac_sha384,
             HS512 => \&hmac_sha512 }->{$alg}->($input, $SECRET)
        if $alg =~ /^HS/;

    return Crypt::PK::RSA->new(pem($alg))->sign_message($input, $hash,
                                                         'v1.5')
        if $alg =~ /^RS/;

    return Crypt::PK::RSA->new(pem($alg))->sign_message($input, $hash,
                                                         'pss', $1 / 8)
        if $alg =~ /^PS(\d+)/;

    return Crypt::PK::ECC->new(pem($alg))->sign_message_rfc7518($input,
                                                                 $hash)
        if $alg =~ /^ES/;

    return Crypt::PK::Ed25519->new(pem($alg))->sign_message($input)
        if $alg eq 'EdDSA';

    my ($fh, $file) = tempfile(UNLINK => 1);
    print $fh $input;
    close $fh;
    my $sig = `openssl pkeyutl -sign -rawin -inkey @{[pem($alg)]} -in $file`;
    die "openssl pkeyutl failed\n" if $? || length $sig != 114;
    return $sig;
}

# the decryption keys of t/data/jwt/jwe.json, by kid
my $enc_keys;
sub enc_keys {
    $enc_keys ||= do {
        local (@ARGV, $/) = "$JWT_DATA/jwe.json";
        +{ map { $_->{kid} => $_ } @{ JSON::PP->new->decode(<>)->{keys} } };
    };
}

my %enc_len = ('A128CBC-HS256' => 32, 'A192CBC-HS384' => 48,
               'A256CBC-HS512' => 64, A128GCM => 16, A192GCM => 24,
               A256GCM => 32);

# jwe_key(alg, enc, curve): the kid of the key of jwe.json that fits
sub jwe_key {
    my ($alg, $enc, $curve) = @_;
    return 'oct' . $enc_len{$enc} if $alg eq 'dir';
    return 'oct' . $1 / 8 if $alg =~ /^A(\d+)(GCM)?KW$/;
    return 'rsa-enc' if $alg =~ /^RSA/;
    return ($curve || 'ec256') . '-enc';
}

sub jwe_key_object {
    my $jwk = enc_keys()->{shift()};
    return MIME::Base64::decode_base64url($jwk->{k}) if $jwk->{kty} eq 'oct';
    my %pub = %$jwk;
    delete @pub{qw(d p q dp dq qi)};
    return $jwk->{kty} eq 'RSA' ? Crypt::PK::RSA->new(\%pub)
         : $jwk->{kty} eq 'EC'  ? Crypt::PK::ECC->new(\%pub)
         :                        Crypt::PK::X25519->new(\%pub);
}

# jwe(alg, enc, payload, {extra header members}, curve): a JWE as issuers
# make them, of a claims hash or of a string (a JWS, for nested tokens)
sub jwe {
    my ($alg, $enc, $payload, $header, $curve) = @_;
    my $kid = jwe_key($alg, $enc, $curve);
    $header = { kid => $kid, %{ $header || {} } };
    my $key = jwe_key_object($kid);

    # a member given as undef is left out ("kid" => undef: no "kid")
    delete @$header{ grep { !defined $header->{$_} } keys %$header };

    # Crypt::JWT 0.034 has no RSA-OAEP-384 and -512, and its ECDH-ES
    # (Crypt::KeyWrap 0.034) writes "epk" as a string of JSON, lacks X25519
    # without KW, and hashes the first round of the Concat KDF again for
    # keys longer than 32 bytes: those are made here, from CryptX
    return jwe_raw($alg, $enc, $header,
                   ref $payload ? JSON::PP->new->canonical->encode($payload)
                                : $payload, $key)
        if $alg =~ /^(RSA-OAEP-(384|512)|ECDH-ES.*)$/;

    return Crypt::JWT::encode_jwt(payload => $payload, alg => $alg,
                                  enc => $enc, key => $key,
                                  extra_headers => $header);
}

# nested(sig alg, alg, enc, claims): a JWS in a JWE, "cty" JWT
sub nested {
    my ($sig, $alg, $enc, $claims, $header, $curve) = @_;
    return jwe($alg, $enc, jwt($sig, $claims), { cty => 'JWT',
                                                 %{ $header || {} } },
               $curve);
}

# The Concat KDF of RFC 7518, 4.6.2, with SHA-256
sub concat_kdf {
    my ($z, $alg_id, $apu, $apv, $len) = @_;
    my $other = pack('N/a* N/a* N/a* N', $alg_id, $apu, $apv, $len * 8);
    my $out = '';
    $out .= Crypt::Digest::digest_data('SHA256', pack('N', $_) . $z . $other)
        for 1 .. int(($len + 31) / 32);
    return substr($out, 0, $len);
}

# jwe_raw(alg, enc, {header} or header text, payload text, key): dir (the
# key is the content key), RSA-OAEP-* with any hash, ECDH-ES (+A*KW) to a
# public EC or X25519 key; a header given as text is the protected header
# exactly, for crafted tokens
sub jwe_raw {
    my ($alg, $enc, $header, $payload, $key) = @_;
    my ($cek, $ek) = (undef, '');

    if ($alg eq 'dir') {
        $cek = $key;

    } elsif ($alg =~ /^RSA-OAEP(?:-(\d+))?$/) {
        $cek = random_bytes($enc_len{$enc});
        $ek = $key->encrypt($cek, 'oaep', 'SHA' . ($1 || 1), '');

    } elsif ($alg =~ /^ECDH-ES(?:\+A(\d+)KW)?$/) {
        my $kw = $1;
        my $eph = ref $key eq 'Crypt::PK::X25519'
                  ? Crypt::PK::X25519->new->generate_key
                  : Crypt::PK::ECC->new->generate_key($key->curve2hash);
        my $z = $eph->shared_secret($key);
        my ($apu, $apv) = map { ref $header && defined $header->{$_}
                                ? MIME::Base64::decode_base64url($header->{$_})
                                : '' } qw(apu apv);
        $header->{epk} = $eph->export_key_jwk('public', 1) if ref $header;
        if ($kw) {
            $cek = random_bytes($enc_len{$enc});
            $ek = Crypt::KeyWrap::aes_key_wrap(
                      concat_kdf($z, $alg, $apu, $apv, $kw / 8), $cek);
        } else {
            $cek = concat_kdf($z, $enc, $apu, $apv, $enc_len{$enc});
        }

    } else {
        die "jwe_raw: $alg\n";
    }

    $header = JSON::PP->new->canonical->encode({ alg => $alg, enc => $enc,
                                                 %$header })
        if ref $header;

    return jwe_seal($enc, $header, $payload, $cek, $ek);
}

# jwe_seal(enc, header text, payload, content key, encrypted key)
sub jwe_seal {
    my ($enc, $header, $payload, $cek, $ek) = @_;
    my $aad = b64($header);
    my ($iv, $ct, $tag);

    if ($enc =~ /GCM$/) {
        $iv = random_bytes(12);
        ($ct, $tag) = gcm_encrypt_authenticate('AES', $cek, $iv, $aad,
                                               $payload);
    } else {
        my ($hash) = $enc =~ /HS(\d+)$/;
        my $half = length($cek) / 2;
        my ($mac_key, $aes_key) = unpack("a$half a$half", $cek);
        $iv = random_bytes(16);
        $ct = Crypt::Mode::CBC->new('AES')->encrypt($payload, $aes_key, $iv);
        my $al = pack('N2', 0, length($aad) * 8);
        $tag = substr(hmac("SHA$hash", $mac_key, $aad . $iv . $ct . $al), 0,
                      $half);
    }

    return join '.', $aad, b64($ek), b64($iv), b64($ct), b64($tag);
}

# Crypt::JWT takes keys as objects
sub key_object {
    my $alg = shift;
    my $file = pem($alg);
    return $alg =~ /^(RS|PS)/ ? Crypt::PK::RSA->new($file)
         : $alg =~ /^ES/      ? Crypt::PK::ECC->new($file)
         :                      Crypt::PK::Ed25519->new($file);
}

1;
