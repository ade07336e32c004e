#!/usr/bin/perl

# Writes a JSON catalogue of about 1 MB for the json_filter scenarios: an
# array of products whose "id" and "price" are about a fifth of the bytes.
# A second argument sets the number of products (8500, about 121 bytes
# each), for the scaling curves.

use strict;
use warnings;

my $file = shift or die "usage: $0 FILE [PRODUCTS]\n";
my $products = shift || 8500;
open my $fh, '>', $file or die "$file: $!\n";

print $fh "[";

for my $i (1 .. $products) {
    print $fh "," if $i > 1;
    printf $fh '{"id":%d,"price":%d.%02d,"name":"Product %d",'
               . '"description":"A product of the catalogue, number %d",'
               . '"tags":["a","b"]}', $i, $i % 1000, $i % 100, $i, $i;
}

print $fh "]\n";
close $fh;
