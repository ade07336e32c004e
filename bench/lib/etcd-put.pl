#!/usr/bin/perl
# Puts one key into etcd through its v3 JSON API, waiting up to 10 s for
# etcd to answer first (a setup hook starts it just before). Used by the
# discovery scenarios; perl's IO::Socket is always there, curl may not be.
#
#   etcd-put.pl HOST:PORT KEY VALUE
use strict;
use warnings;
use IO::Socket::INET;
use MIME::Base64;

my ($etcd, $key, $value) = @ARGV;
defined $value or die "usage: etcd-put.pl HOST:PORT KEY VALUE\n";

my $body = sprintf '{"key":"%s","value":"%s"}',
    encode_base64($key, ''), encode_base64($value, '');
my $resp = '';

for my $try (1 .. 200) {
    my $s = IO::Socket::INET->new(PeerAddr => $etcd, Timeout => 2);
    if ($s) {
        print $s "POST /v3/kv/put HTTP/1.0\r\nHost: $etcd\r\n"
            . "Content-Type: application/json\r\n"
            . "Content-Length: " . length($body) . "\r\n\r\n$body";
        local $SIG{ALRM} = sub { die "etcd-put: timeout reading $etcd\n" };
        alarm 5;
        $resp = '';
        while (sysread($s, my $buf, 8192)) { $resp .= $buf }
        alarm 0;
        # etcd answers 503 or nothing while it elects itself leader
        last if $resp =~ m{^HTTP/1\.[01] 200 } && $resp =~ /"header"/;
    }
    select undef, undef, undef, 0.05;
}

$resp =~ m{^HTTP/1\.[01] 200 } && $resp =~ /"header"/
    or die "etcd-put: $etcd did not store $key: "
         . ($resp eq '' ? "no answer" : (split /\r\n/, $resp)[0]) . "\n";
