# auth_jwt: a mutation test of valid JWEs.  Every character of each token
# changed to another of base64url, and every segment dropped, emptied,
# doubled, moved or taken from another token: always 401, never 200, never
# 500, and nothing worse than an info line in the log.

use lib 't/helpers';
use GwJwt;
use Test::Nginx::Socket 'no_plan';

my $now = time;
my $claims = { sub => 'alice', exp => $now + 3600 };

# [ location, token ]: the algorithms of each kind of key
my @valid = (
    [ t => jwe('dir', 'A256GCM', $claims) ],
    [ t => jwe('dir', 'A128CBC-HS256', $claims) ],
    [ t => jwe('A128KW', 'A192GCM', $claims) ],
    [ t => jwe('A256GCMKW', 'A192CBC-HS384', $claims) ],
    [ t => jwe('RSA-OAEP-256', 'A128GCM', $claims) ],
    [ t => jwe('ECDH-ES', 'A256GCM', $claims) ],
    [ t => jwe('ECDH-ES+A128KW', 'A256CBC-HS512', $claims, undef,
               'x25519') ],
    [ n => nested('RS256', 'A256KW', 'A128GCM', $claims) ],
);

my $alphabet = join '', 'A' .. 'Z', 'a' .. 'z', '0' .. '9', '-', '_';

our (@valid_req, @mutated);

for my $v (@valid) {
    my ($loc, $token) = @$v;
    push @valid_req, "GET /$loc?t=$token";

    # each character, another of the alphabet (dots stay)
    for my $i (0 .. length($token) - 1) {
        my $c = substr($token, $i, 1);
        next if $c eq '.';
        my $t = $token;
        substr($t, $i, 1) = substr($alphabet,
                                   (index($alphabet, $c) + 17) % 64, 1);
        push @mutated, "GET /$loc?t=$t";
    }

    # each segment dropped, emptied, doubled
    my @s = split /\./, $token, -1;
    for my $i (0 .. $#s) {
        my @d = @s;
        splice @d, $i, 1;
        push @mutated, "GET /$loc?t=" . join('.', @d);
        next if $s[$i] eq '';
        @d = @s;
        $d[$i] = '';
        push @mutated, "GET /$loc?t=" . join('.', @d);
        @d = @s;
        splice @d, $i, 0, $s[$i];
        push @mutated, "GET /$loc?t=" . join('.', @d);
    }

    # cut short, and longer
    push @mutated, map { "GET /$loc?t=" . substr($token, 0, $_) }
                       grep { substr($token, $_ - 1, 1) ne '.' }
                       map { int(length($token) * $_ / 8) } 1 .. 7;
    push @mutated, "GET /$loc?t=$token.", "GET /$loc?t=.$token",
                   "GET /$loc?t=${token}A";
}

# segments of one token in another of the same kind
for my $pair ([0, 1], [2, 3], [0, 2], [4, 4], [5, 6]) {
    my @a = split /\./, $valid[$pair->[0]][1], -1;
    my @b = split /\./, ($pair->[0] == $pair->[1]
                         ? jwe('RSA-OAEP-256', 'A128GCM', $claims)
                         : $valid[$pair->[1]][1]), -1;
    for my $i (0 .. 4) {
        my @m = @a;
        $m[$i] = $b[$i];
        next if $m[$i] eq $a[$i];
        push @mutated, "GET /t?t=" . join('.', @m);
    }
}

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('config', <<'CONFIG');
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_type encrypted;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwe.json;
        alias html/ok.txt;
    }
    location /n {
        auth_jwt "api" token=$arg_t;
        auth_jwt_type nested;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwe.json;
        alias html/ok.txt;
    }
CONFIG

    $block->set_value('user_files', ">>> ok.txt\nok\n");
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: the tokens before any change get in
--- request eval
[@::valid_req]
--- error_code eval
[(200) x @::valid_req]



=== TEST 2: every change is refused, with 401 and nothing in the log
above info
--- request eval
[@::mutated]
--- error_code eval
[(401) x @::mutated]
--- no_error_log eval
[qr/\[(error|crit|alert|emerg)\]/, qr/signal \d+/]
