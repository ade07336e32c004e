#!/usr/bin/perl

# Mints tokens for the JWT scenarios with the test keys (t/data/jwt).
#
#   jwt-tokens.pl ALG            prints TOKEN=<one token>, for # header:
#                                ALG is a JWS alg (RS256), or ALG/ENC for
#                                a JWE to t/data/jwt/jwe.json (dir/A256GCM)
#   jwt-tokens.pl ALG N FILE     writes a wrk script to FILE that sends N
#                                different tokens in turn, so that no token
#                                comes back before N others did

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../t/helpers";
use GwJwt;

my ($alg, $n, $file) = @ARGV;
die "usage: $0 ALG [N FILE]\n" unless $alg;

my $exp = time + 7 * 86400;

# a JWE (ALG/ENC) of the claims, or a JWS
sub token {
    my ($claims) = @_;
    return $alg =~ m{^(.+)/(.+)$} ? jwe($1, $2, $claims)
                                  : jwt($alg, $claims);
}

if (!$n) {
    print "TOKEN=", token({ sub => 'bench', exp => $exp }), "\n";
    exit;
}

open my $fh, '>', $file or die "$file: $!\n";
print $fh "local tokens = {\n";
print $fh "  \"", token({ sub => "bench$_", exp => $exp }), "\",\n"
    for 1 .. $n;
print $fh <<'LUA';
}
local i = 0
request = function()
   i = i % #tokens + 1
   return wrk.format(nil, nil, { Authorization = "Bearer " .. tokens[i] })
end
LUA
close $fh;
