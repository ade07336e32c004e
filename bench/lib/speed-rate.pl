#!/usr/bin/perl

# Reads the output of `openssl speed ALGORITHM` on stdin and prints the
# rate of one column, e.g. "sign" for the sign/s column: the value under
# that column of the first line after the header that names it.  Exits 1
# if there is none.  The columns differ between OpenSSL versions (3.0 has
# sign and verify; 3.2 adds encrypt and decrypt), hence by name.
#
#   openssl speed rsa2048 | speed-rate.pl sign

use strict;
use warnings;

my $column = shift or die "usage: $0 COLUMN < openssl-speed-output\n";
my @head;

while (<STDIN>) {
    my @t = split;

    if (grep { $_ eq "$column/s" } @t) {
        @head = @t;
        next;
    }

    # the row's name ("rsa 2048 bits") comes before one value per column
    next unless @head && @t > @head;

    my %v;
    @v{@head} = @t[-@head .. -1];
    my $rate = $v{"$column/s"};
    next unless $rate =~ /^[0-9]+(?:\.[0-9]+)?$/;

    print "$rate\n";
    exit 0;
}

exit 1;
