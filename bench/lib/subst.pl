#!/usr/bin/perl
# Replace @NAME@ placeholders on stdin with NAME=value pairs from VARS_FILE;
# an unknown placeholder is an error (it is almost certainly a typo).
#
#   subst.pl VARS_FILE < in > out
use strict;
use warnings;

my %v;
open my $fh, '<', $ARGV[0] or die "subst: $ARGV[0]: $!\n";
while (<$fh>) { chomp; $v{$1} = $2 if /^([A-Z_][A-Z0-9_]*)=(.*)$/ }
close $fh;
while (my $line = <STDIN>) {
    $line =~ s{\@([A-Z_][A-Z0-9_]*)\@}{
        exists $v{$1} ? $v{$1} : die "unknown placeholder \@$1\@ in: $line"
    }ge;
    print $line;
}
