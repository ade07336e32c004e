#!/usr/bin/perl
# One HTTP/1.1 request over a fresh connection; prints the response (head
# and at most 2 KiB of body). Used by bench/run to check a scenario's status
# before measuring it; perl's IO::Socket is always there, curl may not be.
#
#   probe.pl PORT METHOD PATH [BODY_FILE|""] [HEADER ...]
use strict;
use warnings;
use IO::Socket::INET;

my ($port, $method, $path, $body_file, @headers) = @ARGV;
my $body = '';
if (defined $body_file && length $body_file) {
    open my $fh, '<:raw', $body_file or die "probe: $body_file: $!\n";
    local $/;
    $body = <$fh>;
}
my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 5)
    or die "probe: connect 127.0.0.1:$port: $!\n";
my $req = "$method $path HTTP/1.1\r\nHost: 127.0.0.1:$port\r\nConnection: close\r\n";
$req .= "$_\r\n" for @headers;
$req .= "Content-Length: " . length($body) . "\r\n" if length $body or $method =~ /^(POST|PUT|PATCH)$/;
print $s "$req\r\n$body";
my $resp = '';
local $SIG{ALRM} = sub { die "probe: timeout reading response\n" };
alarm 5;
while (length($resp) < 65536 && sysread($s, my $buf, 8192)) { $resp .= $buf }
alarm 0;
length $resp or die "probe: empty response\n";
my ($head, $rest) = split /\r\n\r\n/, $resp, 2;
print $head, "\n\n", substr($rest // '', 0, 2048), "\n";
