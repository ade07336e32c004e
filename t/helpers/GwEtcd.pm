package GwEtcd;

# An etcd of a test file's own, on free loopback ports (its client port
# is $TEST_NGINX_ETCD_PORT in configs), with its data in a temporary
# directory, stopped when the file ends; and what tests do around it:
# keys put and deleted through etcd's JSON API, stopping and starting it
# again on the same data and ports, and waiting until nginx has seen a
# change.  Needs Debian's etcd-server (the etcd binary), no client.

use strict;
use warnings;

use File::Temp ();
use JSON::PP ();
use MIME::Base64 qw(encode_base64 decode_base64);
use POSIX ();
use Time::HiRes qw(sleep time);

use GwHttp ();

our ($PORT, $PEER_PORT, $PID);

our $DIR = File::Temp->newdir('gw-etcd-XXXXXX', TMPDIR => 1);

# valgrind slows nginx down tenfold, and its polls with it
our $SLOW = $ENV{TEST_NGINX_USE_VALGRIND} ? 10 : 1;

my $owner = $$;
my $json = JSON::PP->new->canonical(1);

sub start {
    return if running();

    ($PORT, $PEER_PORT) = GwHttp::free_ports(2) unless $PORT;
    my $client = "http://127.0.0.1:$PORT";
    my $peer = "http://127.0.0.1:$PEER_PORT";

    $PID = fork // die "fork: $!\n";

    if ($PID == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$DIR/etcd.log";
        open STDERR, '>&', \*STDOUT;
        exec('etcd', '--name', 'default', '--data-dir', "$DIR/data",
             '--listen-client-urls', $client,
             '--advertise-client-urls', $client,
             '--listen-peer-urls', $peer,
             '--initial-advertise-peer-urls', $peer,
             '--initial-cluster', "default=$peer")
            or POSIX::_exit(127);
    }

    # it listens before it has elected itself leader: wait for an answer
    # to a range request, which needs the leader

    my $until = time + 20;
    while (time < $until) {
        my ($status) = eval { call('/v3/kv/range', { key => b64('/') }) };
        return if defined $status && $status == 200;
        last unless running();
        sleep 0.05;
    }

    stop();
    die "etcd did not start on port $PORT, see $DIR/etcd.log:\n"
        . `tail -5 $DIR/etcd.log`;
}

# Is our etcd running?  Reaps it if it has exited: a zombie would still
# pass "kill 0".
sub running {
    return 0 unless $PID;
    return 1 if waitpid($PID, POSIX::WNOHANG()) == 0;
    undef $PID;
    return 0;
}

sub stop {
    return unless $PID;
    kill 'TERM', $PID;
    waitpid $PID, 0;
    undef $PID;
}

# POST path with a JSON body, HTTP/1.0: (status, decoded JSON answer)
sub call {
    my ($path, $req) = @_;
    my ($status, undef, $data) = GwHttp::request('POST', $path,
        port => $PORT, host => '127.0.0.1',
        headers => ['Content-Type: application/json'],
        body => $json->encode($req));
    $status or die "etcd at port $PORT: no answer to $path\n";
    return ($status, eval { $json->decode($data // '') });
}

sub b64 { encode_base64(shift, '') }

sub put {
    my ($key, $value) = @_;
    my ($status) = call('/v3/kv/put', { key => b64($key),
                                        value => b64($value) });
    die "etcd: put $key: $status\n" unless $status == 200;
}

# many keys at once: a transaction of up to 100 puts (etcd takes 128)
sub put_many {
    my %kv = @_;
    my @keys = sort keys %kv;
    while (my @some = splice @keys, 0, 100) {
        my ($status) = call('/v3/kv/txn', { success => [
            map { { request_put => { key => b64($_), value => b64($kv{$_}) } } }
                @some ] });
        die "etcd: txn: $status\n" unless $status == 200;
    }
}

sub del {
    my $key = shift;
    my ($status) = call('/v3/kv/deleterange', { key => b64($key) });
    die "etcd: del $key: $status\n" unless $status == 200;
}

# the watchers etcd has, from its metrics
sub watchers {
    my ($status, undef, $body) = GwHttp::request('GET', '/metrics',
        port => $PORT, host => '127.0.0.1');
    die "etcd at port $PORT: no metrics\n" unless $status == 200;
    my ($n) = $body =~ /^etcd_debugging_mvcc_watcher_total (\d+)$/m;
    return $n // 0;
}

# every key under a prefix, and its value
sub list {
    my $prefix = shift;
    my $end = $prefix;
    substr($end, -1) = chr(ord(substr $end, -1) + 1);
    my ($status, $res) = call('/v3/kv/range', { key => b64($prefix),
                                                range_end => b64($end) });
    die "etcd: range $prefix: $status\n" unless $status == 200;
    return map { decode_base64($_->{key}) => decode_base64($_->{value}) }
               @{ $res->{kvs} // [] };
}

# {"host": ..., "port": ..., "weight": ...} as etcd holds it
sub instance {
    my ($host, $port, $weight) = @_;
    return $json->encode({ host => $host, port => $port + 0,
                           defined $weight ? (weight => $weight + 0) : () });
}

# Calls $check until it returns true, or $timeout seconds (2 unless
# told, more under valgrind) have passed; returns its last result.  For
# what nginx shows after a change in etcd: it polls every interval.
sub wait_until {
    my ($check, $timeout) = @_;
    my $until = time + ($timeout // 2) * $SLOW;
    while (1) {
        my $ok = $check->();
        return $ok if $ok || time > $until;
        sleep 0.02;
    }
}

# Waits until a GET of uri answers with this status; true if it did
sub wait_status {
    my ($uri, $status, $timeout) = @_;
    return wait_until(sub { GwHttp::http_get($uri) == $status }, $timeout);
}

# GET uri n times, one request at a time: how often each body came back
# ("" when there was no answer, the status otherwise when not 200)
sub bodies {
    my ($uri, $n) = @_;
    my %seen;
    for (1 .. $n) {
        my ($status, undef, $body) = GwHttp::http_get($uri);
        $seen{$status == 200 ? $body : $status}++;
    }
    return \%seen;
}

# "b1 10, b2 10": counts as bodies() returns them, to compare in one is()
sub tally {
    my $seen = shift;
    return join ', ', map { my $b = $_; $b =~ s/\n\z//; "$b $seen->{$_}" }
                      sort keys %$seen;
}

# Waits until n requests in a row to uri are answered as $want says
# (a tally, e.g. "b1 6"): nginx has seen the change.  True if so.
sub wait_tally {
    my ($uri, $n, $want, $timeout) = @_;
    return wait_until(sub { tally(bodies($uri, $n)) eq $want }, $timeout);
}

# A block's "--- etcd" section: "key value" lines (the value is the
# rest of the line, $TEST_NGINX_* expanded), put before nginx starts, so
# that its first poll finds them.  Also starts etcd again if an earlier
# block left it stopped.  For a block preprocessor.
sub setup_block {
    my $block = shift;

    start();

    for my $line (split /\n/, $block->etcd // '') {
        next if $line =~ /^\s*(?:#|$)/;
        $line =~ s/\$(TEST_NGINX_[A-Z0-9_]+)/$ENV{$1} \/\/ die "no \$$1\n"/ge;
        my ($key, $value) = $line =~ /^(\S+) ?(.*)$/;
        put($key, $value);
    }
}

# Backends for discovered instances, for a block's --- http_config: b1,
# b2, b3 on loopback ports of their own ($TEST_NGINX_B1_PORT ...; b3 on
# ::1 too), answering "b1\n" ..., "b1 slow\n" to /slow, slowly: its 160
# bytes at 64 bytes a second, for a request still in flight; and to
# /conn "b1 n", the connection's nth request.
sub backends {
    my $conf = '';
    for my $n (1 .. 3) {
        my $v6 = $n == 3 ? "        listen [::1]:\$TEST_NGINX_B3_PORT;\n" : '';
        $conf .= <<"CONF";
    server {
        listen 127.0.0.1:\$TEST_NGINX_B${n}_PORT;
$v6
        location / {
            return 200 "b$n\\n";
        }

        location = /slow {
            limit_rate 64;
            return 200 "b$n slow\\n";
        }

        location = /conn {
            return 200 "b$n \$connection_requests\\n";
        }
    }
CONF
    }
    return $conf;
}

# How many lines of this block's error.log match the pattern
sub log_count {
    my $re = shift;
    open my $in, '<', $Test::Nginx::Util::ErrLogFile or return 0;
    my $n = grep { /$re/ } <$in>;
    close $in;
    return $n;
}

# Waits until error.log holds n lines (1 unless told) matching the
# pattern; true if it does.
sub wait_log {
    my ($re, $timeout, $n) = @_;
    return wait_until(sub { log_count($re) >= ($n // 1) }, $timeout);
}

END {
    return unless $$ == $owner;

    local $?;    # the test's exit status, not etcd's

    stop();
}

start();
$ENV{TEST_NGINX_ETCD_PORT} = $PORT;

# b1, b2, b3; a port nothing listens on; one for a fake etcd in nginx
@ENV{qw(TEST_NGINX_B1_PORT TEST_NGINX_B2_PORT TEST_NGINX_B3_PORT
        TEST_NGINX_DOWN_PORT TEST_NGINX_FAKE_PORT)} = GwHttp::free_ports(5);

1;
