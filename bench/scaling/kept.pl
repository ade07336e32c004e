#!/usr/bin/perl

# The fraction of catalog.pl's bytes that json_fields SELECTION keeps
# (names of top-level members of each product, or "*"), as a percentage.

use strict;
use warnings;

my ($file, $sel) = @ARGV;
die "usage: $0 FILE SELECTION\n" unless defined $sel;

open my $fh, '<', $file or die "$file: $!\n";
my $doc = do { local $/; <$fh> };
my %keep = map { $_ => 1 } split /,/, $sel;
my $kept = 1;                                   # "[" and "]" and "\n"

while ($doc =~ /\{((?:"[^"]*":(?:"[^"]*"|\[[^\]]*\]|[^,}]*),?)*)\}/g) {
    my @members = $1 =~ /("[^"]*":(?:"[^"]*"|\[[^\]]*\]|[^,}]*))/g;
    my @out = grep { $sel eq '*' || $keep{ (/^"([^"]*)"/)[0] } } @members;
    my $len = 2 + ($#out > 0 ? $#out : 0);
    $len += length for @out;
    $kept += $len + 1;                          # the comma after it
}

printf "%.1f\n", 100 * $kept / length $doc;
