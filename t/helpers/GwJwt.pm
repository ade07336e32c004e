package GwJwt;

# Mints the tokens the JWT tests send, with the fixed keys in t/data/jwt.
# Standard tokens come from Crypt::JWT (an independent implementation);
# crafted ones (raw JSON text, odd encodings) are signed here with CryptX.

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
use JSON::PP;

use Exporter 'import';
our @EXPORT = qw(jwt jws b64 $SECRET $JWT_DATA @ALGS);

our $JWT_DATA = abs_path(dirname(__FILE__) . '/../data/jwt');
our $SECRET = 'gateway-test-secret:' . ('0123456789abcdef' x 2)
              . '0123456789ab';
our @ALGS = qw(HS256 HS384 HS512 RS256 RS384 RS512 PS256 PS384 PS512
               ES256 ES384 ES512 EdDSA Ed448);

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

# Crypt::JWT takes keys as objects
sub key_object {
    my $alg = shift;
    my $file = pem($alg);
    return $alg =~ /^(RS|PS)/ ? Crypt::PK::RSA->new($file)
         : $alg =~ /^ES/      ? Crypt::PK::ECC->new($file)
         :                      Crypt::PK::Ed25519->new($file);
}

1;
