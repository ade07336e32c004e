package GwHttp;

# The tests' own HTTP client, for what a block's sections cannot say:
# requests sent from "--- init" before a block's own ones (to use up a
# bucket, fill a zone, load several workers at once, around a reload),
# requests exactly as written, and requests to the servers the tests start
# (etcd). Also free loopback ports for those servers, and nginx's reload.
# Works under both runners: it only needs the port and the pid and config
# files.

use strict;
use warnings;

use IO::Socket::INET ();
use Time::HiRes qw(sleep time);

use Exporter 'import';
our @EXPORT_OK = qw(http_get http_get_parallel raw request free_ports
                    reload_nginx);

# n distinct free loopback ports: each socket is held until all are
# chosen, so that the kernel cannot hand out one port twice
sub free_ports {
    my $n = shift // 1;
    my @socks = map {
        IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                              Listen => 1, ReuseAddr => 1)
            or die "no free port: $!\n";
    } 1 .. $n;
    my @ports = map { $_->sockport } @socks;
    close $_ for @socks;
    return wantarray ? @ports : $ports[0];
}

sub connect_to {
    my $port = shift // $Test::Nginx::Util::ServerPortForClient;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => $port, Timeout => 10)
        or die "cannot connect to 127.0.0.1:$port: $!\n";
    return $sock;
}

# one request exactly as given, on a connection of its own (to nginx, or
# to $port): the whole response
sub raw {
    my ($req, $port) = @_;
    my $sock = connect_to($port);
    print $sock $req;
    my $resp = do { local $/; <$sock> };
    close $sock;
    return $resp // '';
}

# "HTTP/1.x ..." text to (status, {lowercased header => value}, body)
sub parse {
    my $resp = shift;
    my ($head, $body) = split /\r\n\r\n/, $resp // '', 2;
    my ($status) = ($head // '') =~ m{^HTTP/\d\.\d (\d{3})};
    return (0, {}, '') unless $status;
    my %h;
    for (split /\r\n/, $head) {
        $h{lc $1} = $2 if /^([^:\s]+):\s*(.*)$/;
    }
    return ($status, \%h, $body // '');
}

# an HTTP/1.0 request: method, uri, and optionally headers => [...],
# body => text, port => another server's: (status, headers, body), or the
# status alone in scalar context; status 0 when there was no response
sub request {
    my ($method, $uri, %o) = @_;
    my $req = "$method $uri HTTP/1.0\r\nHost: " . ($o{host} // 'localhost')
              . "\r\n";
    $req .= "$_\r\n" for @{ $o{headers} // [] };
    $req .= 'Content-Length: ' . length($o{body}) . "\r\n"
        if defined $o{body};
    $req .= "\r\n" . ($o{body} // '');
    my @res = parse(raw($req, $o{port}));
    return wantarray ? @res : $res[0];
}

sub http_get {
    my ($uri, %o) = @_;
    return request('GET', $uri, %o);
}

# GET every uri at once, each on its own connection: all requests are
# sent before any response is read. Returns [status, headers] per uri.
sub http_get_parallel {
    my @uris = @_;
    my @socks = map { connect_to() } @uris;
    for my $i (0 .. $#uris) {
        my $s = $socks[$i];
        print $s "GET $uris[$i] HTTP/1.0\r\nHost: localhost\r\n\r\n";
        $s->flush;
    }
    my @res;
    for my $s (@socks) {
        my $resp = do { local $/; <$s> };
        close $s;
        push @res, [ parse($resp) ];
    }
    return @res;
}

# The processes whose parent is $pid (nginx's workers, for its master).
sub children {
    my $pid = shift;
    my @kids;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $in, '<', $stat or next;
        my $line = <$in> // '';
        close $in;
        push @kids, $1 if $line =~ /^(\d+) \(.*\) \S+ (\d+) / && $2 == $pid;
    }
    return @kids;
}

# Edits nginx.conf with $edit (a sub changing $_) and sends nginx HUP; then
# waits until the workers of the old configuration have exited and a
# request to $probe answers $want: only the new configuration serves.
# Returns true on success.
sub reload_nginx {
    my ($edit, $probe, $want) = @_;
    my $file = $Test::Nginx::Util::ConfFile;

    open my $in, '<', $file or die "cannot read $file: $!\n";
    local $_ = do { local $/; <$in> };
    close $in;
    $edit->();
    open my $out, '>', $file or die "cannot write $file: $!\n";
    print $out $_;
    close $out;

    open my $pf, '<', $Test::Nginx::Util::PidFile
        or die "cannot read $Test::Nginx::Util::PidFile: $!\n";
    my ($pid) = <$pf> =~ /(\d+)/;
    close $pf;

    my @old = children($pid);
    kill 'HUP', $pid or die "cannot send HUP to $pid: $!\n";

    my $until = time + 10;
    while (time < $until) {
        if (!grep { kill 0, $_ } @old) {
            my (undef, undef, $body) = http_get($probe);
            return 1 if $body eq $want;
        }
        sleep 0.02;
    }
    return 0;
}

# How many lines of this block's error.log match the pattern
sub log_count {
    my $re = shift;
    open my $in, '<', $Test::Nginx::Util::ErrLogFile or return 0;
    my $n = grep { /$re/ } <$in>;
    close $in;
    return $n;
}

# Waits up to $secs (10 unless told) for a line of error.log to match the
# pattern; true if one does.
sub wait_log {
    my ($re, $secs) = @_;
    my $until = time + ($secs // 10);
    while (time < $until) {
        return 1 if log_count($re);
        sleep 0.1;
    }
    return 0;
}

1;
