package GwHealth;

# Backends for health_check's tests, which the tests make sick and well
# again, and what the tests read of them.
#
# backends(): for a block's http_config, three nginx servers b1, b2, b3
# on ports of their own ($TEST_NGINX_B1_PORT ...). Each answers "b1\n"
# (b2, b3) to any uri but /missing (404) and /error (500), and to /health
# "b1 ok\n", unless a switch file is
# in $TEST_NGINX_HC_DIR: "b1.500" makes it "500 b1 broken\n", "b1.body"
# a 200 "b1 maintenance\n". sick('b1', '500'), well('b1') set them. Each
# logs its requests to $TEST_NGINX_HC_DIR/b1.log as "GET /health HTTP/1.0
# host=... connection=... x_check=... requests=n status=200" (requests: of
# the connection); hits('b1', qr{^GET /health}) counts them.
#
# serve($port, $response): a raw server in a child process, which answers
# every connection with $response as written, after the request's head;
# with $response undef it accepts and never answers. Stopped when the
# next block starts, or the file ends. $TEST_NGINX_DOWN_PORT has nothing
# listening, $TEST_NGINX_RAW_PORT is for serve().
#
# setup_block($block) for a block preprocessor: switches off, logs empty,
# raw servers stopped; then the block's "--- sick" lines ("b2 500") set,
# and its "--- serve" section, if any, served on $TEST_NGINX_RAW_PORT
# ("hang": never answered), before nginx starts.

use strict;
use warnings;

use File::Temp ();
use IO::Select ();
use IO::Socket::INET ();
use POSIX ();
use Time::HiRes qw(sleep time);

use GwHttp ();

our $DIR = File::Temp->newdir('gw-health-XXXXXX', TMPDIR => 1);
chmod 0755, "$DIR";

# valgrind slows nginx down tenfold, and its timers with it
our $SLOW = $ENV{TEST_NGINX_USE_VALGRIND} ? 10 : 1;

my $owner = $$;
my @servers;

$ENV{TEST_NGINX_HC_DIR} = "$DIR";

@ENV{qw(TEST_NGINX_B1_PORT TEST_NGINX_B2_PORT TEST_NGINX_B3_PORT
        TEST_NGINX_DOWN_PORT TEST_NGINX_RAW_PORT)} = GwHttp::free_ports(5);

sub backends {
    my $conf = <<'CONF';
    log_format gw_hc '$request_method $request_uri $server_protocol '
                     'host=$http_host connection=$http_connection '
                     'x_check=$http_x_check requests=$connection_requests '
                     'status=$status';
CONF

    for my $n (1 .. 3) {
        $conf .= <<"CONF";
    server {
        listen 127.0.0.1:\$TEST_NGINX_B${n}_PORT;
        access_log \$TEST_NGINX_HC_DIR/b$n.log gw_hc;
        default_type text/plain;
        keepalive_timeout 60s;

        location / {
            return 200 "b$n\\n";
        }

        location = /missing {
            return 404;
        }

        location = /error {
            return 500;
        }

        location = /health {
            if (-f \$TEST_NGINX_HC_DIR/b$n.500) {
                return 500 "b$n broken\\n";
            }

            if (-f \$TEST_NGINX_HC_DIR/b$n.body) {
                return 200 "b$n maintenance\\n";
            }

            return 200 "b$n ok\\n";
        }
    }
CONF
    }

    return $conf;
}

sub sick {
    my ($backend, $how) = @_;
    open my $out, '>', "$DIR/$backend.$how" or die "$DIR/$backend.$how: $!\n";
    close $out;
}

sub well {
    my $backend = shift;
    unlink "$DIR/$backend.500", "$DIR/$backend.body";
}

sub log_lines {
    my $backend = shift;
    open my $in, '<', "$DIR/$backend.log" or return ();
    my @lines = <$in>;
    close $in;
    return @lines;
}

sub hits {
    my ($backend, $re) = @_;
    return scalar grep { /$re/ } log_lines($backend);
}

# Calls $check until it returns true, or $timeout seconds (more under
# valgrind) have passed; returns its last result.
sub wait_until {
    my ($check, $timeout) = @_;
    my $until = time + $timeout * $SLOW;
    while (1) {
        my $ok = $check->();
        return $ok if $ok || time > $until;
        sleep 0.02;
    }
}

# How long, in seconds, until $check holds (undef if not in $timeout)
sub time_until {
    my ($check, $timeout) = @_;
    my $start = time;
    return wait_until($check, $timeout) ? time - $start : undef;
}

# GET uri n times, one at a time: "b1 5, b2 5" (a status stands for an
# answer other than 200)
sub tally {
    my ($uri, $n) = @_;
    my %seen;
    for (1 .. $n) {
        my ($status, undef, $body) = GwHttp::http_get($uri);
        $body =~ s/\n\z//;
        $seen{$status == 200 ? $body : $status}++;
    }
    return join ', ', map { "$_ $seen{$_}" } sort keys %seen;
}

# How many lines of this block's error.log match the pattern
sub log_count {
    my $re = shift;
    open my $in, '<', $Test::Nginx::Util::ErrLogFile or return 0;
    my $n = grep { /$re/ } <$in>;
    close $in;
    return $n;
}

sub serve {
    my ($port, $response) = @_;

    my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                       LocalPort => $port, Listen => 64,
                                       ReuseAddr => 1)
        or die "GwHealth: cannot listen on $port: $!\n";

    my $pid = fork // die "GwHealth: fork: $!\n";

    if ($pid) {
        close $listen;
        push @servers, $pid;
        return;
    }

    # the runner's handlers, inherited, would stop nginx on our TERM

    $SIG{$_} = 'DEFAULT' for qw(TERM INT QUIT HUP CHLD);

    my @held;

    while (my $c = $listen->accept) {
        if (!defined $response) {
            push @held, $c;
            next;
        }

        my ($head, $buf) = ('', '');
        my $sel = IO::Select->new($c);
        while ($head !~ /\r\n\r\n/ && $sel->can_read(5)) {
            last unless sysread $c, $buf, 4096;
            $head .= $buf;
        }

        syswrite $c, $response;
        close $c;
    }

    POSIX::_exit(0);
}

sub stop_servers {
    for my $pid (@servers) {
        kill 'TERM', $pid;
        waitpid $pid, 0;
    }
    @servers = ();
}

sub setup_block {
    my $block = shift;

    stop_servers();
    for my $b (qw(b1 b2 b3)) {
        well($b);
        unlink "$DIR/$b.log";
    }

    for my $line (split /\n/, $block->sick // '') {
        sick(split ' ', $line) if $line =~ /\S/;
    }

    if (defined(my $response = $block->serve)) {
        serve($ENV{TEST_NGINX_RAW_PORT}, $response eq "hang\n" || $response eq 'hang'
                                         ? undef : $response);
    }
}

END {
    return unless $$ == $owner;
    local $?;
    stop_servers();
}

1;
