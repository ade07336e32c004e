#!/usr/bin/perl

# A key file for the API key scenarios: N consumers with a plan each, the
# keys known to the file only by their SHA-256 as auth_api_key wants.
#
#   api-keys.pl N FILE     writes FILE and prints KEY=<the last key> and
#                          KEYS=FILE, for # header: and the config

use strict;
use warnings;
use Digest::SHA qw(sha256_hex);

my ($n, $file) = @ARGV;
die "usage: $0 N FILE\n" unless $n && $file;

my $key;

open my $fh, '>', $file or die "$file: $!\n";

for my $i (1 .. $n) {
    $key = sprintf 'gk_bench-key-%07d-0123456789abcdefghijklmnopq', $i;
    printf $fh "%s consumer%d plan=%s\n", sha256_hex($key), $i,
           $i % 10 ? 'free' : 'premium';
}

close $fh or die "$file: $!\n";

print "KEY=$key\nKEYS=$file\n";
