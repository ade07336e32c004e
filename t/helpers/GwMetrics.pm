package GwMetrics;

# What the metrics tests do with the text gateway_metrics serves: keep the
# lines of some metrics, and ask promtool whether the whole text is valid;
# and the requests they send: exactly as given, or with a bearer token.

use strict;
use warnings;

use File::Temp ();
use IO::Socket::INET ();

use Exporter 'import';
our @EXPORT_OK = qw(families promtool raw get_with);

# a filter keeping the sample lines of the named metrics, in order
sub families {
    my $re = join '|', map { quotemeta } @_;
    return sub {
        join '', grep { /^(?:$re)[{ ]/ } split /^/m, shift;
    };
}

# "promtool exit N" and what it printed
sub promtool {
    my $text = shift;
    my ($fh, $file) = File::Temp::tempfile();
    print $fh $text;
    close $fh;
    my $out = `promtool check metrics <$file 2>&1`;
    my $rc = $? >> 8;
    unlink $file;
    return "promtool exit $rc\n$out";
}

# one request as given, on a connection of its own; the whole response
sub raw {
    my $req = shift;
    my $port = $Test::Nginx::Util::ServerPortForClient;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port)
        or die "cannot connect to 127.0.0.1:$port: $!\n";
    print $s $req;
    my $resp = do { local $/; <$s> };
    close $s;
    return $resp // '';
}

# GET uri with a bearer token (none if undef); the status, 0 for none
sub get_with {
    my ($uri, $token) = @_;
    my $resp = raw("GET $uri HTTP/1.0\r\nHost: localhost\r\n"
                   . (defined $token ? "Authorization: Bearer $token\r\n"
                                     : '')
                   . "\r\n");
    return $resp =~ m{^HTTP/1\.\d (\d+)} ? $1 : 0;
}

1;
