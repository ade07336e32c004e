# tools/gateway-token: the tokens it mints pass auth_jwt with their claims,
# signed, encrypted (--encrypt, every algorithm) and nested; --ttl sets
# "iat" and "exp"; and its errors: exit status and one line.

use lib 't/helpers';
use GwJwt;
use Test::Nginx::Socket 'no_plan';
use Cwd qw(abs_path);
use File::Temp qw(tempdir);
use JSON::PP;
use MIME::Base64 qw(decode_base64url);

# prove runs from the repository's root
our $TOOL = $ENV{TEST_GATEWAY_TOKEN} || 'build/tools/gateway-token';
die "$TOOL is not built: make tools\n" unless -x $TOOL;

# the example gateway's demo keys
our $KEYS = abs_path('conf.examples/keys');
$ENV{TEST_NGINX_GW_KEYS} = $KEYS;

my $dir = tempdir(CLEANUP => 1);

# tool(args...): its exit status, stdout and stderr
sub tool {
    my $pid = fork // die "fork: $!\n";

    if ($pid == 0) {
        open STDOUT, '>', "$dir/out" or die "$dir/out: $!\n";
        open STDERR, '>', "$dir/err" or die "$dir/err: $!\n";
        open STDIN, '<', '/dev/null' or die "/dev/null: $!\n";

        # a tool asking for a passphrase on the terminal gets no answer
        alarm 30;
        exec $TOOL, @_ or exit 127;
    }

    waitpid $pid, 0;
    my $status = $? & 127 ? "signal " . ($? & 127) : $? >> 8;
    my @out = map { local (@ARGV, $/) = "$dir/$_"; <> // '' } qw(out err);
    return ($status, @out);
}

# mint(args...): a token, checking that the tool printed it alone
sub mint {
    my ($status, $out, $err) = tool(@_);
    Test::More::is($status, 0, "mint @_: exit 0");
    Test::More::is($err, '', "mint @_: nothing on stderr");
    Test::More::like($out, qr/^[\w-]+\.[\w-]+\.[\w-]+\n\z/,
                     "mint @_: a token line");
    chomp $out;
    return $out;
}

sub payload {
    my (undef, $p) = split /\./, shift;
    return JSON::PP->new->decode(decode_base64url($p));
}

sub header {
    my ($h) = split /\./, shift;
    return JSON::PP->new->decode(decode_base64url($h));
}

sub file {
    my ($name, $content) = @_;
    open my $fh, '>', "$dir/$name" or die "$dir/$name: $!\n";
    print $fh $content;
    close $fh;
    return "$dir/$name";
}

# the secret of t/data/jwt's "hs" key, as an editor saves it
my $secret = file('secret', "$SECRET\n");

our %tok = (
    HS256 => mint('--alg', 'HS256', '--key', $secret, '--claim',
                  'sub=alice'),
    HS384 => mint(qw(--alg HS384 --key), $secret, qw(--claim sub=alice)),
    HS512 => mint(qw(--alg HS512 --kid hs --key), $secret,
                  qw(--claim sub=alice)),
    HS256_jwks => mint(qw(--alg HS256 --key), "$JWT_DATA/jwks.json",
                       qw(--kid hs --claim sub=alice)),
    RS256 => mint(qw(--alg RS256 --key), "$JWT_DATA/rsa.pem",
                  qw(--kid rsa --claim sub=alice)),
    RS384 => mint(qw(--alg RS384 --key), "$JWT_DATA/rsa.pem",
                  qw(--claim sub=alice)),
    RS512 => mint(qw(--alg RS512 --key), "$JWT_DATA/rsa.pem",
                  qw(--kid rsa --claim sub=alice)),
    ES256 => mint(qw(--alg ES256 --key), "$JWT_DATA/ec256.pem",
                  qw(--kid ec256 --claim sub=alice)),
    ES384 => mint(qw(--alg ES384 --key), "$JWT_DATA/ec384.pem",
                  qw(--claim sub=alice)),
    ES512 => mint(qw(--alg ES512 --key), "$JWT_DATA/ec521.pem",
                  qw(--kid ec521 --claim sub=alice)),

    claims => mint(qw(--alg HS256 --kid hs --key), $secret,
                   '--claim', 'sub=alice', '--claim', 'note=a=b c',
                   '--claim', 'empty=', '--number', 'n=-42',
                   '--bool', 'admin=true', '--bool=off=false',
                   '--json', '{"roles":["a","b"],"org":{"id":7}}'),
    later => mint(qw(--alg HS256 --key), $secret,
                  qw(--claim role=a --number role=2),
                  '--json', '{"plan":"x","tier":1}',
                  qw(--claim plan=free --bool tier=true)),

    ttl_default => mint(qw(--alg HS256 --key), $secret),
    ttl_0 => mint(qw(--alg HS256 --ttl 0 --key), $secret),
    ttl_45 => mint(qw(--alg HS256 --ttl 45 --key), $secret),
    ttl_10s => mint(qw(--alg HS256 --ttl=10s --key), $secret),
    ttl_90m => mint(qw(--alg HS256 --ttl 90m --key), $secret),
    ttl_12h => mint(qw(--alg HS256 --ttl 12h --key), $secret),
    ttl_2d => mint(qw(--alg HS256 --ttl 2d --key), $secret),
    expired_json => mint(qw(--alg HS256 --key), $secret,
                         '--json', '{"exp":1}'),
    expired_number => mint(qw(--alg HS256 --key), $secret, '--number',
                           'exp=' . (time - 10)),
    iat_given => mint(qw(--alg HS256 --number iat=1000 --key), $secret),

    demo_rs => mint(qw(--alg RS256 --kid demo-rs --key),
                    "$KEYS/demo-rs256.pem", qw(--claim sub=alice)),
    demo_hs => mint(qw(--alg HS256 --kid demo --key), "$KEYS/jwks.json",
                    qw(--claim sub=alice)),

    # another secret under the "hs" kid
    wrong_secret => mint(qw(--alg HS256 --kid hs --key),
                         file('other', 'another-secret:' . 'x' x 40)),
);

# mint_jwe(args...): an encrypted token, printed alone
sub mint_jwe {
    my ($status, $out, $err) = tool(@_);
    Test::More::is($status, 0, "mint @_: exit 0");
    Test::More::is($err, '', "mint @_: nothing on stderr");
    Test::More::like($out, qr/^[\w-]+\.[\w-]*\.[\w-]+\.[\w-]+\.[\w-]+\n\z/,
                     "mint @_: a JWE line");
    chomp $out;
    return $out;
}

# every --encrypt ALG/ENC, to the key of t/data/jwt/jwe.json that fits
our (%jwe, @jwe);
for my $alg (@JWE_ALGS) {
    for my $enc (@ENCS) {
        push @jwe, "$alg/$enc";
        $jwe{"$alg/$enc"} = mint_jwe('--encrypt', "$alg/$enc", '--enc-key',
                                     "$JWT_DATA/jwe.json", '--enc-kid',
                                     jwe_key($alg, $enc),
                                     '--claim', "sub=$alg/$enc");
    }
}

for my $curve (qw(ec384 ec521 x25519)) {
    push @jwe, "$curve/ECDH-ES";
    $jwe{"$curve/ECDH-ES"} = mint_jwe(qw(--encrypt ECDH-ES/A256CBC-HS512
                                         --enc-key), "$JWT_DATA/jwe.json",
                                      '--enc-kid', "$curve-enc",
                                      '--claim', "sub=$curve/ECDH-ES");
}

# nested: signed, then encrypted
our %nested = (
    RS256 => mint_jwe(qw(--alg RS256 --kid rsa --key), "$JWT_DATA/rsa.pem",
                      qw(--encrypt RSA-OAEP-256/A256GCM --enc-key),
                      "$JWT_DATA/jwe.json", qw(--enc-kid rsa-enc
                      --claim sub=nested-rs)),
    HS512 => mint_jwe(qw(--alg HS512 --kid hs --key), "$JWT_DATA/hs.json",
                      qw(--encrypt dir/A256CBC-HS512 --enc-key),
                      "$JWT_DATA/jwe.json", qw(--enc-kid oct64
                      --claim sub=nested-hs)),
    ES256 => mint_jwe(qw(--alg ES256 --kid ec256 --key),
                      "$JWT_DATA/ec256.pem",
                      qw(--encrypt ECDH-ES+A192KW/A128CBC-HS256 --enc-key),
                      "$JWT_DATA/jwe.json", qw(--enc-kid x25519-enc
                      --claim sub=nested-es)),
);

# what the JWEs carry, read back with Crypt::JWT where it has the algorithm
# right (not RSA-OAEP-384 and -512, nor its ECDH-ES)
{
    my $keys = enc_keys();

    for my $name (grep { !/ECDH|OAEP-(384|512)/ } @jwe) {
        my ($alg, $enc) = split m{/}, $name;
        my $jwk = $keys->{jwe_key($alg, $enc)};
        my $key = $jwk->{kty} eq 'oct'
                  ? MIME::Base64::decode_base64url($jwk->{k})
                  : Crypt::PK::RSA->new($jwk);
        my ($header, $claims) = eval {
            Crypt::JWT::decode_jwt(token => $jwe{$name}, key => $key,
                                   decode_header => 1)
        };
        Test::More::is($claims && $claims->{sub}, $name,
                       "$name: Crypt::JWT decrypts it");
        Test::More::is($header && $header->{kid}, jwe_key($alg, $enc),
                       "$name: kid");
    }

    my $header = header($nested{RS256});
    Test::More::is_deeply($header, { alg => 'RSA-OAEP-256', enc => 'A256GCM',
                                     kid => 'rsa-enc', cty => 'JWT' },
                          'nested: the JWE header');
    my ($h, $inner) = Crypt::JWT::decode_jwt(
        token => $nested{RS256}, decode_header => 1, decode_payload => 0,
        key => Crypt::PK::RSA->new($keys->{'rsa-enc'}));
    Test::More::like($inner, qr/^[\w-]+\.[\w-]+\.[\w-]+\z/,
                     'nested: a JWS inside');
    Test::More::is_deeply(header($inner),
                          { alg => 'RS256', kid => 'rsa', typ => 'JWT' },
                          'nested: the JWS header inside');
}

our @algs = qw(HS256 HS384 HS512 HS256_jwks RS256 RS384 RS512 ES256 ES384
               ES512);

# what the tokens carry, read back from them
{
    my $claims = payload($tok{claims});
    Test::More::is_deeply(
        [ @$claims{qw(sub note empty n roles org)} ],
        [ 'alice', 'a=b c', '', -42, [ 'a', 'b' ], { id => 7 } ],
        'claims of each option');
    Test::More::ok(JSON::PP::is_bool($claims->{admin}) && $claims->{admin},
                   '--bool true');
    Test::More::ok(JSON::PP::is_bool($claims->{off}) && !$claims->{off},
                   '--bool false');

    my $later = payload($tok{later});
    Test::More::is_deeply([ @$later{qw(role plan tier)} ],
                          [ 2, 'free', JSON::PP::true ],
                          'a later option replaces a claim');

    Test::More::is_deeply(header($tok{RS256}),
                          { alg => 'RS256', kid => 'rsa', typ => 'JWT' },
                          'header with --kid');
    Test::More::is_deeply(header($tok{ES384}),
                          { alg => 'ES384', typ => 'JWT' },
                          'header without --kid');

    my $now = time;

    for (qw(default 0 45 10s 90m 12h 2d)) {
        my $p = payload($tok{"ttl_$_"});
        my $ttl = { default => 3600, 0 => undef, 45 => 45, '10s' => 10,
                    '90m' => 5400, '12h' => 43200, '2d' => 172800 }->{$_};

        Test::More::ok($p->{iat} <= $now && $p->{iat} >= $now - 60,
                       "--ttl $_: iat is now");
        Test::More::is($p->{exp} && $p->{exp} - $p->{iat}, $ttl,
                       "--ttl $_: exp");
        Test::More::ok(!defined $ttl || $p->{exp} > $now,
                       "--ttl $_: exp ahead");
    }

    Test::More::ok(!exists payload($tok{ttl_0})->{exp}, '--ttl 0: no exp');
    Test::More::is(payload($tok{expired_json})->{exp}, 1, '--json sets exp');
    my $p = payload($tok{iat_given});
    Test::More::is($p->{iat}, 1000, 'iat given');
    Test::More::ok($p->{exp} > $now + 3000, 'exp from now, not from iat');
}

# the errors: [ arguments, exit status, the line on stderr ]
my $pem = file('pem-secret', "-----BEGIN PRIVATE KEY-----\nMIIE\n"
                             . "-----END PRIVATE KEY-----\n");
my $short = file('short', 'x' x 31 . "\n");
my $hs = "$JWT_DATA/hs.json";
my $encrypted = "$dir/encrypted.pem";
my $jwe_keys = "$JWT_DATA/jwe.json";
my $sig_oct = file('sig.json', '{"keys":[{"kty":"oct","kid":"s","use":"sig",'
                               . '"k":"' . b64('s' x 16) . '"}]}');
my $kw_oct = file('kw.json', '{"keys":[{"kty":"oct","kid":"k","alg":"A256KW",'
                             . '"k":"' . b64('k' x 16) . '"}]}');
my $k1 = file('k1.json', '{"keys":[{"kty":"EC","crv":"secp256k1","kid":"k1",'
                         . '"x":"' . b64('x' x 32) . '","y":"'
                         . b64('y' x 32) . '"}]}');
my $off = file('off.json', '{"keys":[{"kty":"EC","crv":"P-256","kid":"off",'
                           . '"x":"' . b64("\1" x 32) . '","y":"'
                           . b64("\2" x 32) . '"}]}');

system('openssl', 'genpkey', '-algorithm', 'EC', '-pkeyopt',
       'ec_paramgen_curve:P-256', '-aes256', '-pass', 'pass:demo', '-out',
       $encrypted) == 0 or die "openssl genpkey failed\n";

my @errors = (
    [ [qw(--alg HS1 --key), $secret], 2,
      '--alg: unknown algorithm "HS1" (HS256, HS384, HS512, RS256, RS384, '
      . 'RS512, ES256, ES384, ES512)' ],
    [ [qw(--alg hs256 --key), $secret], 2,
      qr/^--alg: unknown algorithm "hs256"/ ],
    [ [qw(--alg PS256 --key), $secret], 2,
      qr/^--alg: unknown algorithm "PS256"/ ],
    [ [qw(--alg HS256)], 2, '--key: missing (see --help)' ],
    [ [qw(--key), $secret], 2, '--alg: missing (see --help)' ],
    [ [], 2, '--alg: missing (see --help)' ],
    [ [qw(--alg HS256 --key)], 2, '--key: needs a value' ],
    [ [qw(--alg HS256 --alg HS384 --key), $secret], 2,
      '--alg: given twice' ],
    [ [qw(--alg HS256 --key), $secret, '--kid', ''], 2, '--kid: empty' ],
    [ [qw(--alg HS256 --keys), $secret], 2,
      '--keys: unknown option (see --help)' ],
    [ [qw(--alg HS256 --key), $secret, 'sub=alice'], 2,
      '"sub=alice": unexpected argument (see --help)' ],
    [ [qw(--help=yes)], 2, '--help: takes no value' ],

    [ [qw(--alg HS256 --key /nonexistent/key)], 1,
      '--key /nonexistent/key: No such file or directory' ],
    [ [qw(--alg HS256 --key), $dir], 1, "--key $dir: Is a directory" ],
    [ [qw(--alg RS256 --key), "$JWT_DATA/ec256.pem"], 1,
      "--key $JWT_DATA/ec256.pem: the key is EC, RS256 needs RSA" ],
    [ [qw(--alg RS256 --key), "$JWT_DATA/ed25519.pem"], 1,
      "--key $JWT_DATA/ed25519.pem: the key is ED25519, RS256 needs RSA" ],
    [ [qw(--alg ES256 --key), "$JWT_DATA/rsa.pem"], 1,
      "--key $JWT_DATA/rsa.pem: the key is RSA, ES256 needs EC" ],
    [ [qw(--alg ES256 --key), "$JWT_DATA/ec384.pem"], 1,
      "--key $JWT_DATA/ec384.pem: the key is EC on P-384, ES256 needs EC "
      . 'on P-256' ],
    [ [qw(--alg ES512 --key), "$JWT_DATA/ec256.pem"], 1,
      "--key $JWT_DATA/ec256.pem: the key is EC on P-256, ES512 needs EC "
      . 'on P-521' ],
    [ [qw(--alg RS256 --key), "$JWT_DATA/rsa1024.pem"], 1,
      "--key $JWT_DATA/rsa1024.pem: the key is RSA of 1024 bits, RS256 "
      . 'needs 2048 or more (RFC 7518, 3.3)' ],
    [ [qw(--alg RS256 --key), "$JWT_DATA/rsa.pub.pem"], 1,
      "--key $JWT_DATA/rsa.pub.pem: a public key, RS256 signs with the "
      . 'private key' ],
    [ [qw(--alg ES256 --key), $encrypted], 1,
      "--key $encrypted: an encrypted key: give it decrypted (openssl pkey "
      . '-in FILE)' ],
    [ [qw(--alg RS256 --key), $secret], 1,
      "--key $secret: no PEM private key in it, RS256 needs one" ],
    [ [qw(--alg HS256 --key), "$JWT_DATA/rsa.pem"], 1,
      "--key $JWT_DATA/rsa.pem: a PEM file, HS256 needs a secret (the "
      . "file's bytes) or a JWK Set with --kid" ],
    [ [qw(--alg HS256 --key), $pem], 1,
      qr/^--key \S+: a PEM file, HS256 needs a secret/ ],
    [ [qw(--alg HS256 --key), file('empty', "\n")], 1,
      qr/^--key \S+: an empty secret$/ ],
    [ [qw(--alg HS512 --key), "$KEYS/jwks.json", qw(--kid demo)], 1,
      "--key $KEYS/jwks.json: the key \"demo\" is for HS256, not HS512" ],
    [ [qw(--alg HS256 --key), $hs], 2,
      "--kid: needed to choose a key from the JWK Set $hs" ],
    [ [qw(--alg HS256 --kid nope --key), $hs], 1,
      "--key $hs: no key \"nope\" in the JWK Set" ],
    [ [qw(--alg HS256 --kid rsa --key), "$JWT_DATA/jwks.json"], 1,
      "--key $JWT_DATA/jwks.json: the key \"rsa\" is RSA, HS256 needs an "
      . 'oct key' ],
    [ [qw(--alg HS256 --kid x --key), file('nokeys', '{"kid":"x"}')], 1,
      qr/^--key \S+: JSON without a "keys" array, not a JWK Set$/ ],

    (map { [ [qw(--alg HS256 --key), $secret, '--ttl', $_], 2,
             "--ttl: \"$_\" is not a time (seconds, or a number with s, m, "
             . 'h or d)' ] } ('', qw(-5 5x 1.5h h 5mm 5M), ' 5')),
    [ [qw(--alg HS256 --ttl 99999999999999999999 --key), $secret], 2,
      '--ttl: "99999999999999999999" is too long' ],
    [ [qw(--alg HS256 --ttl 999999999999d --key), $secret], 2,
      '--ttl: "999999999999d" is too long' ],

    (map { [ [qw(--alg HS256 --key), $secret, '--claim', $_], 2,
             "--claim: \"$_\" is not NAME=VALUE" ] } qw(sub =alice)),
    [ [qw(--alg HS256 --key), $secret, '--claim', ''], 2,
      '--claim: "" is not NAME=VALUE' ],
    (map { [ [qw(--alg HS256 --key), $secret, '--number', "n=$_"], 2,
             "--number: \"n=$_\": \"$_\" is not an integer" ] }
         ('', qw(1.5 0x10 +1 - 99999999999999999999), ' 1')),
    [ [qw(--alg HS256 --key), $secret, '--number', 'n'], 2,
      '--number: "n" is not NAME=VALUE' ],
    (map { [ [qw(--alg HS256 --key), $secret, '--bool', "b=$_"], 2,
             "--bool: \"b=$_\": \"$_\" is not true or false" ] }
         ('', qw(yes 1 TRUE))),
    (map { [ [qw(--alg HS256 --key), $secret, '--json', $_], 2,
             '--json: not a JSON object (invalid JSON, another type, or a '
             . 'member given twice)' ] }
         ('', '{', '{"a":1', '[1]', '"x"', '{"a":1,"a":2}', '{} x',
          "{\"a\":\"\xff\"}")),
    [ [qw(--alg HS256 --key), $secret, '--claim', "sub=\xff"], 2,
      "--claim: \"sub=\xff\" is not UTF-8" ],

    # --encrypt
    (map { [ [qw(--encrypt), $_, '--enc-key', $jwe_keys, qw(--enc-kid x)],
             2, "--encrypt: \"$_\" is not ALG/ENC (see --help)" ] }
         ('A128KW', '/A128GCM', 'A128KW/')),
    [ [qw(--encrypt A128XW/A128GCM --enc-key), $jwe_keys,
       qw(--enc-kid oct16)], 2,
      '--encrypt: unknown algorithm "A128XW" (dir, A128KW, A192KW, A256KW, '
      . 'A128GCMKW, A192GCMKW, A256GCMKW, RSA-OAEP, RSA-OAEP-256, '
      . 'RSA-OAEP-384, RSA-OAEP-512, ECDH-ES, ECDH-ES+A128KW, '
      . 'ECDH-ES+A192KW, ECDH-ES+A256KW)' ],
    [ [qw(--encrypt A128KW/A128CTR --enc-key), $jwe_keys,
       qw(--enc-kid oct16)], 2,
      '--encrypt: unknown content encryption "A128CTR" (A128CBC-HS256, '
      . 'A192CBC-HS384, A256CBC-HS512, A128GCM, A192GCM, A256GCM)' ],
    (map { [ [qw(--encrypt), "$_/A128GCM", '--enc-key', $jwe_keys,
              qw(--enc-kid rsa-enc)], 2,
             "--encrypt: \"$_\" is not supported: auth_jwt refuses it" ] }
         qw(RSA1_5 PBES2-HS256+A128KW)),
    [ [qw(--encrypt dir/A128GCM --encrypt dir/A128GCM)], 2,
      '--encrypt: given twice' ],
    [ [qw(--encrypt dir/A128GCM --enc-kid oct16)], 2,
      '--enc-key: missing (see --help)' ],
    [ [qw(--encrypt dir/A128GCM --enc-key), $jwe_keys], 2,
      "--enc-kid: needed to choose a key from the JWK Set $jwe_keys" ],
    [ [qw(--alg HS256 --key), $secret, '--enc-key', $jwe_keys], 2,
      '--enc-key: needs --encrypt (see --help)' ],
    [ [qw(--alg HS256 --key), $secret, qw(--enc-kid oct16)], 2,
      '--enc-kid: needs --encrypt (see --help)' ],
    [ [qw(--encrypt dir/A128GCM --enc-key), $jwe_keys,
       qw(--enc-kid oct16 --key), $secret], 2,
      '--alg: missing (see --help)' ],
    [ [qw(--encrypt dir/A128GCM --enc-key), $jwe_keys,
       qw(--enc-kid oct16 --kid hs)], 2, '--alg: missing (see --help)' ],
    [ [qw(--alg HS256 --encrypt dir/A128GCM --enc-key), $jwe_keys,
       qw(--enc-kid oct16)], 2, '--key: missing (see --help)' ],
    [ [qw(--encrypt dir/A128GCM --enc-key /nonexistent/jwe.json
          --enc-kid oct16)], 1,
      '--enc-key /nonexistent/jwe.json: No such file or directory' ],
    [ [qw(--encrypt dir/A128GCM --enc-key), $secret, qw(--enc-kid oct16)],
      1, "--enc-key $secret: not a JWK Set (a JSON object with \"keys\")" ],
    [ [qw(--encrypt dir/A128GCM --enc-key), $jwe_keys, qw(--enc-kid nope)],
      1, "--enc-key $jwe_keys: no key \"nope\" in the JWK Set" ],
    [ [qw(--encrypt RSA-OAEP/A128GCM --enc-key), $jwe_keys,
       qw(--enc-kid oct16)], 1,
      "--enc-key $jwe_keys: the key \"oct16\" is oct, RSA-OAEP needs an RSA "
      . 'key' ],
    [ [qw(--encrypt A128KW/A128GCM --enc-key), $jwe_keys,
       qw(--enc-kid x25519-enc)], 1,
      "--enc-key $jwe_keys: the key \"x25519-enc\" is OKP, A128KW needs an "
      . 'oct key' ],
    [ [qw(--encrypt dir/A256GCM --enc-key), $jwe_keys, qw(--enc-kid oct16)],
      1, "--enc-key $jwe_keys: the key \"oct16\" is 16 bytes, dir with "
         . 'A256GCM needs 32' ],
    [ [qw(--encrypt A256KW/A128GCM --enc-key), $jwe_keys,
       qw(--enc-kid oct16)], 1,
      "--enc-key $jwe_keys: the key \"oct16\" is 16 bytes, A256KW with "
      . 'A128GCM needs 32' ],
    [ [qw(--encrypt dir/A128GCM --enc-key), $sig_oct, qw(--enc-kid s)], 1,
      "--enc-key $sig_oct: the key \"s\" has \"use\" \"sig\": auth_jwt "
      . 'decrypts only with keys for "enc"' ],
    [ [qw(--encrypt A128KW/A128GCM --enc-key), $kw_oct, qw(--enc-kid k)], 1,
      "--enc-key $kw_oct: the key \"k\" is for A256KW, not A128KW" ],
    [ [qw(--encrypt RSA-OAEP/A128GCM --enc-key), "$JWT_DATA/rsa1024.json",
       qw(--enc-kid rsa1024)], 1,
      "--enc-key $JWT_DATA/rsa1024.json: the key \"rsa1024\" is RSA of 1024 "
      . 'bits, RSA-OAEP needs 2048 or more' ],
    [ [qw(--encrypt ECDH-ES/A128GCM --enc-key), "$JWT_DATA/jwks.json",
       qw(--enc-kid ed25519)], 1,
      "--enc-key $JWT_DATA/jwks.json: the key \"ed25519\" is OKP on Ed25519, "
      . 'ECDH-ES needs X25519' ],
    [ [qw(--encrypt ECDH-ES/A128GCM --enc-key), $k1, qw(--enc-kid k1)], 1,
      "--enc-key $k1: the key \"k1\" is EC on secp256k1, ECDH-ES needs "
      . 'P-256, P-384 or P-521' ],
    [ [qw(--encrypt ECDH-ES/A128GCM --enc-key), $off, qw(--enc-kid off)], 1,
      "--enc-key $off: the key \"off\" is not a valid EC key on P-256" ],
);

for my $e (@errors) {
    my ($args, $want, $line) = @$e;
    my ($status, $out, $err) = tool(@$args);
    my $name = join(' ', map { "'$_'" } @$args);

    Test::More::is($status, $want, "$name: exit $want");
    Test::More::is($out, '', "$name: no token");
    Test::More::is(($err =~ tr/\n//), 1, "$name: one line");

    $err =~ s/^gateway-token: //
        or Test::More::fail("$name: the tool's name first");
    chomp $err;
    ref $line ? Test::More::like($err, $line, "$name: message")
              : Test::More::is($err, $line, "$name: message");
}

# a secret shorter than the hash signs, as auth_jwt takes it, with a warning
{
    my ($status, $out, $err) = tool(qw(--alg HS256 --key), $short,
                                    qw(--claim sub=alice));
    Test::More::is($status, 0, 'short secret: exit 0');
    Test::More::is($err, "gateway-token: warning: --key $short: a secret of "
                         . "31 bytes; RFC 7518, 3.2 asks for at least 32 for "
                         . "HS256\n", 'short secret: one warning line');
    chomp $out;
    my $claims = eval {
        Crypt::JWT::decode_jwt(token => $out, key => 'x' x 31,
                               accepted_alg => 'HS256')
    };
    Test::More::is($claims && $claims->{sub}, 'alice',
                   'short secret: the token is signed with it');
}

{
    my ($status, $out, $err) = tool('--help');
    Test::More::is($status, 0, '--help: exit 0');
    Test::More::like($out, qr/^Usage: gateway-token --alg ALG --key FILE /,
                     'usage');
    Test::More::is($err, '', '--help: nothing on stderr');

    ($status, $out, $err) = tool(qw(--alg HS256 --key), $secret, '-h');
    Test::More::is($status, 0, '-h: exit 0');
    Test::More::like($out, qr/^Usage: /, '-h: the usage alone');

    # a failed write is a failure, not a token cut short
    SKIP: {
        Test::More::skip('no /dev/full', 2) unless -c '/dev/full';
        my $pid = fork // die "fork: $!\n";
        if ($pid == 0) {
            open STDOUT, '>', '/dev/full' or exit 127;
            open STDERR, '>', "$dir/err" or exit 127;
            exec $TOOL, qw(--alg HS256 --key), $secret or exit 127;
        }
        waitpid $pid, 0;
        Test::More::is($? >> 8, 1, 'stdout full: exit 1');
        Test::More::like(do { local (@ARGV, $/) = "$dir/err"; <> },
             qr/^gateway-token: writing the token failed: /, 'stdout full');
    }
}

our %exp = map { $_ => payload($tok{$_})->{exp} } qw(ttl_default ttl_2d);

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('config', <<'CONFIG') unless defined $block->config;
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        add_header X-JWT-Status $jwt_status always;
        add_header X-Sub $jwt_claim_sub;
        alias html/ok.txt;
    }
CONFIG

    $block->set_value('user_files', ">>> ok.txt\nok\n")
        unless defined $block->user_files;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: every algorithm, from a secret file, a JWK Set and PEM keys
--- request eval
[map { "GET /t?t=$::tok{$_}" } @::algs]
--- error_code eval
[(200) x @::algs]
--- response_headers eval
[("X-JWT-Status: VALID\nX-Sub: alice") x @::algs]
--- response_body eval
[("ok\n") x @::algs]



=== TEST 2: the claims of each option reach the claim variables
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/hs.json;
        add_header X-Sub $jwt_claim_sub;
        add_header X-Note $jwt_claim_note;
        add_header X-Empty "[$jwt_claim_empty]";
        add_header X-N $jwt_claim_n;
        add_header X-Admin $jwt_claim_admin;
        add_header X-Off $jwt_claim_off;
        add_header X-Roles $jwt_claim_roles;
        add_header X-Org $jwt_claim_org;
        add_header X-Kid $jwt_header_kid;
        add_header X-Typ $jwt_header_typ;
        alias html/ok.txt;
    }
--- request eval
"GET /t?t=$::tok{claims}"
--- error_code: 200
--- response_headers
X-Sub: alice
X-Note: a=b c
X-Empty: []
X-N: -42
X-Admin: true
X-Off: false
X-Roles: a,b
X-Org: {"id":7}
X-Kid: hs
X-Typ: JWT



=== TEST 3: a later option replaces a claim of the same name
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/hs.json;
        add_header X-Role $jwt_claim_role;
        add_header X-Plan $jwt_claim_plan;
        add_header X-Tier $jwt_claim_tier;
        alias html/ok.txt;
    }
--- request eval
"GET /t?t=$::tok{later}"
--- error_code: 200
--- response_headers
X-Role: 2
X-Plan: free
X-Tier: true



=== TEST 4: --ttl sets exp ahead of now; 0 leaves it out
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/hs.json;
        add_header X-JWT-Status $jwt_status always;
        add_header X-Exp $jwt_claim_exp;
        alias html/ok.txt;
    }
--- request eval
["GET /t?t=$::tok{ttl_default}", "GET /t?t=$::tok{ttl_2d}",
 "GET /t?t=$::tok{ttl_0}"]
--- error_code eval
[200, 200, 200]
--- response_headers eval
["X-JWT-Status: VALID\nX-Exp: $::exp{ttl_default}",
 "X-JWT-Status: VALID\nX-Exp: $::exp{ttl_2d}",
 "X-JWT-Status: VALID\n!X-Exp"]



=== TEST 5: an exp set in the past by --json or --number is refused
--- request eval
["GET /t?t=$::tok{expired_json}", "GET /t?t=$::tok{expired_number}"]
--- error_code eval
[401, 401]
--- response_headers eval
[("X-JWT-Status: EXPIRED\n"
  . 'WWW-Authenticate: Bearer realm="api", error="invalid_token"') x 2]
--- error_log
auth_jwt: rejected



=== TEST 6: a token signed with another secret is refused
--- request eval
"GET /t?t=$::tok{wrong_secret}"
--- error_code: 401
--- response_headers
X-JWT-Status: BAD_SIGNATURE



=== TEST 7: the example gateway's demo keys, RS256 and HS256
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_GW_KEYS/jwks.json;
        add_header X-JWT-Status $jwt_status always;
        add_header X-Sub $jwt_claim_sub;
        add_header X-Kid $jwt_header_kid;
        alias html/ok.txt;
    }
--- request eval
["GET /t?t=$::tok{demo_rs}", "GET /t?t=$::tok{demo_hs}",
 "GET /t?t=$::tok{RS256}"]
--- error_code eval
[200, 200, 401]
--- response_headers eval
["X-JWT-Status: VALID\nX-Sub: alice\nX-Kid: demo-rs",
 "X-JWT-Status: VALID\nX-Sub: alice\nX-Kid: demo",
 "X-JWT-Status: NO_KEY"]



=== TEST 8: --encrypt: every key management algorithm with every content
encryption, and ECDH-ES on P-384, P-521 and X25519
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_type encrypted;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwe.json;
        add_header X-JWT-Status $jwt_status always;
        add_header X-Sub $jwt_claim_sub;
        alias html/ok.txt;
    }
--- request eval
[map { "GET /t?t=$::jwe{$_}" } @::jwe]
--- error_code eval
[(200) x @::jwe]
--- response_headers eval
[map { "X-JWT-Status: VALID\nX-Sub: $_" } @::jwe]



=== TEST 9: nested tokens: signed with --alg, then encrypted
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_type nested;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwe.json;
        add_header X-Sub $jwt_claim_sub;
        add_header X-Cty $jwt_header_cty;
        alias html/ok.txt;
    }
--- request eval
[map { "GET /t?t=$::nested{$_}" } qw(RS256 HS512 ES256)]
--- error_code eval
[200, 200, 200]
--- response_headers eval
["X-Sub: nested-rs\nX-Cty: JWT", "X-Sub: nested-hs\nX-Cty: JWT",
 "X-Sub: nested-es\nX-Cty: JWT"]
