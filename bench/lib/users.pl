#!/usr/bin/perl

# Writes a second JSON document of about 1 MB for the json_filter
# scenarios, shaped unlike catalog.pl's: an object whose "data" is an
# array of user records with a nested address, arrays of numbers and
# strings, escapes and non-ASCII text, pretty-printed with newlines and
# indentation; "data(id,name,email,address(city))" keeps about a fifth
# of the bytes.

use strict;
use warnings;
use utf8;

my $file = shift or die "usage: $0 FILE\n";
open my $fh, '>:raw', $file or die "$file: $!\n";

my @cities = ("Zürich", "São Paulo", "Kraków", "Reykjavík", "Łódź",
              "Montréal", "Oslo", "Dublin");
my @first = ("Ada", "Grace", "Émile", "Linus", "Zoë", "Søren", "Ngozi",
             "Hiroshi");

sub str {
    my $s = shift;
    utf8::encode($s);
    return $s;
}

print $fh "{\n  \"data\": [\n";

for my $i (1 .. 1500) {
    my $city = $cities[$i % @cities];
    my $name = $first[$i % @first] . " User$i";

    print $fh ",\n" if $i > 1;
    print $fh str(sprintf(
        "    {\n"
        . "      \"id\": %d,\n"
        . "      \"name\": \"%s\",\n"
        . "      \"email\": \"user%d\@example.com\",\n"
        . "      \"active\": %s,\n"
        . "      \"score\": %d.%d5e-1,\n"
        . "      \"address\": {\"street\": \"%d Main St\", \"city\": \"%s\", "
        . "\"zip\": \"%05d\", \"geo\": [%d.%04d, -%d.%04d]},\n"
        . "      \"tags\": [\"staff\", \"beta\", \"tz/Europe\"],\n"
        . "      \"friends\": [%d, %d, %d, %d, %d],\n"
        . "      \"bio\": \"Says \\\"hello\\\" \\u2014 likes caf\x{e9}s, "
        . "\\t tabs and C:\\\\paths; member since %d. Lorem ipsum dolor "
        . "sit amet, consectetur adipiscing elit, sed do eiusmod tempor "
        . "incididunt ut labore et dolore magna aliqua.\",\n"
        . "      \"settings\": {\"theme\": \"dark\", \"notify\": {\"email\": "
        . "true, \"sms\": false, \"push\": null}, \"lang\": \"en-GB\"}\n"
        . "    }",
        $i, $name, $i, $i % 3 ? "true" : "false", $i % 97, $i % 10,
        $i, $city, $i % 100000, $i % 90, $i % 10000, $i % 180, $i % 7777,
        $i + 1, $i + 2, $i + 3, $i * 7, $i * 11, 2000 + $i % 25));
}

print $fh "\n  ],\n  \"meta\": {\"total\": 1500, \"page\": 1, "
          . "\"next\": null}\n}\n";
close $fh;
