package GwPeer;

# A small HTTP/1.0 server in a child process, for what nginx sends to the
# services behind it, and a client that sends many requests at once.
#
# start() listens on a free loopback port, put in $TEST_NGINX_PEER_PORT
# for the nginx configurations.  The server answers one connection at a
# time:
#   /echo...           the request head: its lines after the request line
#                      but Host and Connection, one a line, with every
#                      byte outside printable ASCII (CR and LF of a header
#                      value, NUL, DEL...) as \xHH
#   /keys/TAG[?delay=S]  t/data/jwt/jwks.json, S seconds late; counted
#   /fail/TAG[?delay=S]  500, S seconds late; counted
#   /flaky/TAG         500 the first time, then as /keys/TAG; counted
#   /jwks/TAG[?delay=S]  what /mode/TAG/MODE last said, S seconds late;
#                      counted: jwks.json (MODE keys, the default), hs.json
#                      (hs) or rsa.json (rsa) of t/data/jwt, or 500 (fail)
#   /mode/TAG/MODE     sets the mode of /jwks/TAG (also mode(TAG, MODE)
#                      here); not counted
#   /introspect/TAG[?delay=S][&status=N]
#                      an OAuth 2.0 authorization server's introspection
#                      endpoint (RFC 7662), S seconds late: the answer for
#                      the token of the POSTed form, from introspection()
#                      below, or status N; 401 without the client
#                      credentials $CLIENT (Basic gateway:s3cret); counted
#   /hits/TAG          how many /keys/TAG, /fail/TAG, /flaky/TAG, /jwks/TAG
#                      and /introspect/TAG it was asked (also hits(TAG)
#                      here)

use strict;
use warnings;

use IO::Select ();
use IO::Socket::INET ();
use POSIX ();
use Time::HiRes ();
use JSON::PP ();
use GwJwt qw($JWT_DATA);

use Exporter 'import';
our @EXPORT_OK = qw($CLIENT);

# what the gateway's introspection location sends as Authorization
our $CLIENT = 'Basic Z2F0ZXdheTpzM2NyZXQ=';

my ($pid, $parent);

sub start {
    my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                       LocalPort => 0, Listen => 64,
                                       ReuseAddr => 1)
        or die "GwPeer: cannot listen: $!\n";

    $ENV{TEST_NGINX_PEER_PORT} = $listen->sockport;
    $parent = $$;

    $pid = fork;
    die "GwPeer: fork: $!\n" unless defined $pid;

    if ($pid) {
        close $listen;
        return;
    }

    serve($listen);
    POSIX::_exit(0);
}

END {
    # waitpid sets $?, which is the exit status of the tests in an END
    local $?;

    if ($pid && $$ == $parent) {
        kill 'TERM', $pid;
        waitpid $pid, 0;
    }
}

sub serve {
    my $listen = shift;
    my $sel = IO::Select->new($listen);
    my (%hits, %mode);
    my %sets = map {
        local (@ARGV, $/) = "$JWT_DATA/$_.json";
        ($_ => scalar <>);
    } qw(jwks hs rsa);
    my $jwks = $sets{jwks};

    # the test process gone, so is the server
    while (getppid() == $parent) {
        next unless $sel->can_read(0.5);

        my $c = $listen->accept or next;
        my $head = '';

        while ($head !~ /\r\n\r\n/) {
            last unless IO::Select->new($c)->can_read(5);
            last unless sysread $c, $head, 4096, length $head;
        }

        my ($line, @lines) = split /\r\n/, $head;
        my ($method, $uri) = ($line // '') =~ m{^(\S+) (\S+)};
        $uri //= '';

        # the body, after the head, as long as Content-Length says
        my ($len) = $head =~ /\r\nContent-Length: *(\d+)/i;
        my $body_in = $head =~ s/^.*?\r\n\r\n//sr;
        while (defined $len && length $body_in < $len) {
            last unless IO::Select->new($c)->can_read(5);
            last unless sysread $c, $body_in, 4096, length $body_in;
        }

        my ($status, $body) = (200, '');
        my $type = 'text/plain';

        if ($uri =~ m{^/echo}) {
            $body = join '', map {
                s/([^\x20-\x7e])/sprintf '\\x%02x', ord $1/ger . "\n"
            } grep { !/^(?:Host|Connection): / } @lines;

        } elsif ($uri =~ m{^/(keys|fail)/(\w+)(?:\?delay=([\d.]+))?}) {
            $hits{$2}++;
            Time::HiRes::sleep($3) if $3;
            ($status, $body) = $1 eq 'keys' ? (200, $jwks) : (500, "failed\n");

        } elsif ($uri =~ m{^/jwks/(\w+)(?:\?delay=([\d.]+))?}) {
            my $mode = $mode{$1} // 'keys';
            $hits{$1}++;
            Time::HiRes::sleep($2) if $2;
            ($status, $body) = $mode eq 'fail' ? (500, "failed\n")
                             : (200, $sets{$mode eq 'keys' ? 'jwks' : $mode});

        } elsif ($uri =~ m{^/mode/(\w+)/(keys|fail|hs|rsa)$}) {
            $mode{$1} = $2;
            $body = "$2\n";

        } elsif ($uri =~ m{^/flaky/(\w+)}) {
            ($status, $body) = $hits{$1}++ ? (200, $jwks) : (500, "failed\n");

        } elsif ($uri =~ m{^/introspect/(\w+)(?:\?(.*))?}) {
            my ($tag, %arg) = ($1, map { split /=/, $_, 2 } split /&/, $2 // '');
            $hits{$tag}++;
            Time::HiRes::sleep($arg{delay}) if $arg{delay};
            $type = 'application/json';
            ($status, $body) = $arg{status} ? ($arg{status}, "failed\n")
                : !grep({ $_ eq "Authorization: $CLIENT" } @lines)
                ? (401, qq({"error":"invalid_client"}))
                : (200, introspection($method, $body_in, @lines));

        } elsif ($uri =~ m{^/hits/(\w+)}) {
            $body = ($hits{$1} // 0) . "\n";

        } else {
            ($status, $body) = (404, "not found\n");
        }

        syswrite $c, "HTTP/1.0 $status X\r\nContent-Type: $type\r\n"
                     . 'Content-Length: ' . length($body) . "\r\n"
                     . "Connection: close\r\n\r\n$body";
        close $c;
    }
}

# The authorization server's answer for the token of a form: it knows a
# few tokens by name, and the others are not active.  "echo..." tokens
# answer with what the request was, to check what the gateway sends.
sub introspection {
    my ($method, $form, @lines) = @_;
    my $now = time;
    my %form = map { my ($k, $v) = split /=/, $_, 2;
                     ($k => ($v // '') =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ger) }
               split /&/, $form;
    my $token = $form{token} // '';
    my $json = JSON::PP->new->canonical;

    my %active = (active => JSON::PP::true, iss => 'https://as.example',
                  iat => $now, exp => $now + 3600, token_type => 'Bearer');

    my %answer = (
        alice => { %active, sub => 'alice', client_id => 'app-1',
                   username => 'alice', scope => 'orders:read orders:write',
                   aud => ['orders', 'billing'],
                   ext => { tenant => 'acme', roles => ['admin', 'ops'] } },
        bob => { %active, sub => 'bob', client_id => 'app-2',
                 scope => 'orders:read', aud => 'orders' },
        soon => { %active, sub => 'soon', exp => $now + 3 },
        expired => { %active, sub => 'late', exp => $now - 60 },
        later => { %active, sub => 'early', nbf => $now + 600 },
        noexp => { active => JSON::PP::true, sub => 'noexp' },
        crlf => { %active, sub => "eve\r\nX-Injected: 1", name => 'Eve' },
        nul => { %active, sub => "a\0b", roles => ['user', "ad\nmin"] },
        big => { %active, sub => 'big', pad => 'x' x 15000 },
        big2 => { %active, sub => 'big2', pad => 'y' x 15000 },
        huge => { %active, sub => 'huge', pad => 'x' x 100000 },
    );

    my %raw = (
        malformed => '{"active":true,"sub":"m"',
        noactive => '{"sub":"x","exp":' . ($now + 60) . '}',
        activestr => '{"active":"true","sub":"x"}',
        badexp => '{"active":true,"exp":"tomorrow"}',
        dup => '{"active":true,"active":false}',
        empty => '',
        html => '<html>denied</html>',
    );

    return $raw{$token} if exists $raw{$token};

    if ($token =~ /^echo/) {
        my @names = sort map { /^([^:]+):/ ? $1 : () } @lines;
        return $json->encode({ %active, sub => $token, method => $method,
                               form => $form, headers => join(',', @names),
                               content_type => (map { /^Content-Type: (.*)/i
                                                      ? $1 : () } @lines)[0]
                                               // '' });
    }

    return $json->encode($answer{$token} // { active => JSON::PP::false });
}

# how many times /keys/TAG and /fail/TAG were asked so far
sub hits {
    my $tag = shift;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $ENV{TEST_NGINX_PEER_PORT})
        or die "GwPeer: cannot connect to the server: $!\n";
    print $s "GET /hits/$tag HTTP/1.0\r\n\r\n";
    my $resp = do { local $/; <$s> };
    return $resp =~ /\r\n\r\n(\d+)\n\z/ ? $1 : -1;
}

# what /jwks/TAG answers from now on: keys, fail, hs or rsa
sub mode {
    my ($tag, $mode) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $ENV{TEST_NGINX_PEER_PORT})
        or die "GwPeer: cannot connect to the server: $!\n";
    print $s "GET /mode/$tag/$mode HTTP/1.0\r\n\r\n";
    my $resp = do { local $/; <$s> };
    die "GwPeer: no mode $mode\n" unless $resp =~ /\r\n\r\n$mode\n\z/;
}

# n requests at once, each on its own connection; their statuses, in order
sub burst {
    my ($n, $request) = @_;

    return map { m{^HTTP/1\.\d (\d+)} ? $1 : 0 }
           exchange($Test::Nginx::Util::ServerPortForClient,
                    ($request) x $n);
}

# each request on its own connection to port, all sent before any answer
# is read, so that nginx has them all at once; the raw answers, in order
sub exchange {
    my ($port, @requests) = @_;
    my (@socks, %resp);

    for my $i (0 .. $#requests) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port)
            or die "GwPeer: cannot connect to 127.0.0.1:$port: $!\n";
        push @socks, $s;
    }

    syswrite $socks[$_], $requests[$_] for 0 .. $#requests;

    my $sel = IO::Select->new(@socks);
    my %index = map { ($socks[$_] => $_) } 0 .. $#socks;

    while ($sel->count) {
        my @ready = $sel->can_read(30) or last;

        for my $s (@ready) {
            my $i = $index{$s};
            $resp{$i} //= '';

            if (!sysread $s, $resp{$i}, 4096, length $resp{$i}) {
                $sel->remove($s);
                close $s;
            }
        }
    }

    return map { $resp{$_} // '' } 0 .. $#requests;
}

1;
