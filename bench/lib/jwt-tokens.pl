#!/usr/bin/perl

# Mints tokens for the JWT scenarios with the test keys (t/data/jwt).
#
#   jwt-tokens.pl ALG            prints TOKEN=<one token>, for # header:
#   jwt-tokens.pl ALG N FILE     writes a wrk script to FILE that sends N
#                                different tokens in turn, so that no token
#                                comes back before N others did
#
# ALG is a JWS algorithm (RS256), or ALG/ENC for a JWE (dir/A256GCM,
# RSA-OAEP-256/A256GCM) to the key of t/data/jwt/jwe.json that fits.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../t/helpers";
use GwJwt;

my ($alg, $n, $file) = @ARGV;
die "usage: $0 ALG|ALG/ENC [N FILE]\n" unless $alg;

my $exp = time + 7 * 86400;
my ($key_alg, $enc) = split m{/}, $alg, 2;

sub token {
    my $claims = { sub => shift, exp => $exp };
    return $enc ? jwe($key_alg, $enc, $claims) : jwt($alg, $claims);
}

if (!$n) {
    print "TOKEN=", token('bench'), "\n";
    exit;
}

open my $fh, '>', $file or die "$file: $!\n";
print $fh "local tokens = {\n";
print $fh "  \"", token("bench$_"), "\",\n" for 1 .. $n;
print $fh <<'LUA';
}
local i = 0
request = function()
   i = i % #tokens + 1
   return wrk.format(nil, nil, { Authorization = "Bearer " .. tokens[i] })
end
LUA
close $fh;
