package GwEtcd;

# An etcd of a test file's own, on free loopback ports (its client port
# is $TEST_NGINX_ETCD_PORT in configs), with its data in a temporary
# directory, stopped when the file ends; and what tests do around it:
# keys put and deleted through etcd's JSON API, stopping and starting it
# again on the same data and ports, and waiting until nginx has seen a
# change.  Needs Debian's etcd-server (the etcd binary).
#
# Or, for a file that sets $GwEtcd::CLUSTER before it uses this one, a
# cluster of that many members (cluster() says how: TLS, client
# certificates, authentication), driven with Debian's etcdctl
# (etcd-client): members killed and started again, the leader found,
# leases granted and kept alive.

use strict;
use warnings;

use File::Temp ();
use JSON::PP ();
use MIME::Base64 qw(encode_base64 decode_base64);
use POSIX ();
use Time::HiRes qw(sleep time);

use GwHttp ();

our ($PORT, $PEER_PORT, $PID);

# set before "use GwEtcd": a cluster of that many members, not one etcd
our $CLUSTER;

# the cluster's members: {name, port, peer, pid}; its TLS files, its root
# password once authentication is on
our (@MEMBERS, %TLS, $ROOT_PASSWORD);

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

    if ($CLUSTER) {
        return setup_cluster_block($block);
    }

    start();

    for my $line (split /\n/, $block->etcd // '') {
        next if $line =~ /^\s*(?:#|$)/;
        $line =~ s/\$(TEST_NGINX_[A-Z0-9_]+)/$ENV{$1} \/\/ die "no \$$1\n"/ge;
        my ($key, $value) = $line =~ /^(\S+) ?(.*)$/;
        put($key, $value);
    }
}

# The same for a cluster: every member running again, and the keys put
# with etcdctl; $TEST_NGINX_ETCD_LEADER_FIRST and _FOLLOWER_FIRST list
# the members with the leader first, or a follower first and the leader
# last, for etcd=
sub setup_cluster_block {
    my $block = shift;

    start_member($_) for 0 .. $#MEMBERS;
    wait_until(sub { eval { ctl('put', '/gw-test/ready', 'yes'); 1 } }, 20)
        or die "the etcd cluster does not answer\n";

    my $leader = wait_leader() // die "the etcd cluster has no leader\n";
    my @others = grep { $_ != $leader } 0 .. $#MEMBERS;
    $ENV{TEST_NGINX_ETCD_MEMBERS} = endpoints();
    $ENV{TEST_NGINX_ETCD_PORT} = $MEMBERS[0]{port};
    $ENV{TEST_NGINX_ETCD_LEADER_FIRST} = endpoints($leader, @others);
    $ENV{TEST_NGINX_ETCD_FOLLOWER_FIRST} = endpoints(@others, $leader);

    for my $line (split /\n/, $block->etcd // '') {
        next if $line =~ /^\s*(?:#|$)/;
        $line =~ s/\$(TEST_NGINX_[A-Z0-9_]+)/$ENV{$1} \/\/ die "no \$$1\n"/ge;
        my ($key, $value) = $line =~ /^(\S+) ?(.*)$/;
        ctl('put', '--', $key, $value);
    }
}

# the port of a member, by its index
sub port_of { $MEMBERS[shift]{port} }

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

# --- a cluster ---

# A CA, a certificate for the members (127.0.0.1 and localhost), one for
# nginx as a client (CN nginx), and another CA that signed neither, made
# with openssl in the temporary directory: $TLS{ca}, {cert}, {key},
# {client_cert}, {client_key}, {other_ca}.
sub make_certificates {
    my $d = "$DIR/tls";
    mkdir $d;
    # openssl draws its progress on stderr
    open my $stderr, '>&', \*STDERR or die "$!\n";
    open STDERR, '>', '/dev/null' or die "$!\n";
    for my $ca ('ca', 'other_ca') {
        system('openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes',
               '-days', '2', '-subj', "/CN=gw test $ca",
               '-keyout', "$d/$ca.key", '-out', "$d/$ca.pem",
               '-addext', 'basicConstraints=critical,CA:TRUE',
               '-addext', 'keyUsage=critical,keyCertSign,cRLSign') == 0
            or die "openssl: the $ca failed\n";
    }
    my %ext = (server => 'subjectAltName=IP:127.0.0.1,DNS:localhost'
                         . "\nextendedKeyUsage=serverAuth,clientAuth",
               client => "extendedKeyUsage=clientAuth");
    for my $who ('server', 'client') {
        my $cn = $who eq 'server' ? 'etcd' : 'nginx';
        open my $e, '>', "$d/$who.ext" or die "$!\n";
        print $e "$ext{$who}\n";
        close $e;
        system('openssl', 'req', '-newkey', 'rsa:2048', '-nodes',
               '-subj', "/CN=$cn", '-keyout', "$d/$who.key",
               '-out', "$d/$who.csr") == 0
            && system('openssl', 'x509', '-req', '-in', "$d/$who.csr",
                      '-CA', "$d/ca.pem", '-CAkey', "$d/ca.key",
                      '-CAcreateserial', '-days', '2',
                      '-extfile', "$d/$who.ext", '-out', "$d/$who.pem") == 0
            or die "openssl: the $who certificate failed\n";
    }
    open STDERR, '>&', $stderr or die "$!\n";
    # the worker and etcd read them; the directory is the test's own
    chmod 0755, $DIR, $d;
    chmod 0644, glob "$d/*";
    %TLS = (ca => "$d/ca.pem", other_ca => "$d/other_ca.pem",
            cert => "$d/server.pem", key => "$d/server.key",
            client_cert => "$d/client.pem", client_key => "$d/client.key");
}

# The cluster: cluster(tls => 1, client_certs => 1, token_ttl => seconds).
# Starts every member and waits until a write goes through.
our %OPT;

sub cluster {
    %OPT = @_;
    make_certificates() if $OPT{tls};
    my @ports = GwHttp::free_ports(2 * $CLUSTER);
    @MEMBERS = map { { name => "m$_", port => $ports[2 * $_],
                       peer => $ports[2 * $_ + 1] } } 0 .. $CLUSTER - 1;
    start_member($_) for 0 .. $#MEMBERS;
    wait_until(sub { eval { ctl('put', '/gw-test/ready', 'yes'); 1 } }, 20)
        or die "the etcd cluster did not start, see $DIR/m*.log:\n"
               . `tail -3 $DIR/m0.log`;
}

sub client_url {
    my $m = shift;
    return ($OPT{tls} ? 'https' : 'http') . "://127.0.0.1:$m->{port}";
}

sub start_member {
    my $i = shift;
    my $m = $MEMBERS[$i];
    return if member_running($i);

    my $initial = join ',', map { "$_->{name}=http://127.0.0.1:$_->{peer}" }
                                @MEMBERS;
    my @tls = !$OPT{tls} ? () : (
        '--cert-file', $TLS{cert}, '--key-file', $TLS{key},
        $OPT{client_certs} ? ('--client-cert-auth',
                              '--trusted-ca-file', $TLS{ca}) : ());

    $m->{pid} = fork // die "fork: $!\n";

    if ($m->{pid} == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$DIR/$m->{name}.log";
        open STDERR, '>&', \*STDOUT;
        exec('etcd', '--name', $m->{name}, '--data-dir', "$DIR/$m->{name}",
             '--listen-client-urls', client_url($m),
             '--advertise-client-urls', client_url($m),
             '--listen-peer-urls', "http://127.0.0.1:$m->{peer}",
             '--initial-advertise-peer-urls', "http://127.0.0.1:$m->{peer}",
             '--initial-cluster', $initial,
             '--initial-cluster-state', 'new',
             '--initial-cluster-token', "gw-test-$owner",
             '--heartbeat-interval', '50', '--election-timeout', '500',
             defined $OPT{token_ttl}
                 ? ('--auth-token-ttl', $OPT{token_ttl}) : (),
             @tls)
            or POSIX::_exit(127);
    }
}

sub member_running {
    my $m = $MEMBERS[shift];
    return 0 unless $m->{pid};
    return 1 if waitpid($m->{pid}, POSIX::WNOHANG()) == 0;
    undef $m->{pid};
    return 0;
}

# killed, as a crash would: no goodbye to the others
sub kill_member {
    my $m = $MEMBERS[shift];
    return unless $m->{pid};
    kill 'KILL', $m->{pid};
    waitpid $m->{pid}, 0;
    undef $m->{pid};
}

# "127.0.0.1:p0,127.0.0.1:p1,..." in this order of members (all by
# default), for etcd= and for etcdctl
sub endpoints {
    my @i = @_ ? @_ : 0 .. $#MEMBERS;
    return join ',', map { ($OPT{tls} ? 'https://' : '')
                           . "127.0.0.1:$MEMBERS[$_]{port}" } @i;
}

# etcdctl on the running members: its output; dies if it fails
sub ctl {
    my @args = @_;
    my @running = grep { member_running($_) } 0 .. $#MEMBERS;
    my @cmd = ('etcdctl', '--endpoints=' . endpoints(@running),
               '--dial-timeout=2s', '--command-timeout=2s',
               $OPT{tls} ? ("--cacert=$TLS{ca}") : (),
               $OPT{tls} && $OPT{client_certs}
                   ? ("--cert=$TLS{client_cert}", "--key=$TLS{client_key}")
                   : (),
               defined $ROOT_PASSWORD ? ("--user=root:$ROOT_PASSWORD") : ());
    my $pid = open my $out, '-|' // die "fork: $!\n";
    if ($pid == 0) {
        open STDERR, '>&', \*STDOUT;
        exec(@cmd, @args) or POSIX::_exit(127);
    }
    my $text = do { local $/; <$out> };
    close $out;
    die "etcdctl @args: $text" if $?;
    return $text;
}

# the index of the leader among the members, as they say
sub leader {
    for my $i (grep { member_running($_) } 0 .. $#MEMBERS) {
        my $line = eval { ctl('endpoint', 'status', '-w', 'simple',
                              '--endpoints=' . endpoints($i)) } // next;
        # endpoint, id, version, db size, is leader, is learner, ...
        my @f = split /,\s*/, (split /\n/, $line)[-1];
        return $i if ($f[4] // '') eq 'true';
    }
    return undef;
}

# waits until the running members have a leader: its index
sub wait_leader {
    my $leader;
    wait_until(sub { defined($leader = leader()) }, 10);
    return $leader;
}

# users: root, and $user with read access to $prefix; then auth enable
sub enable_auth {
    my ($user, $password, $prefix) = @_;
    ctl('user', 'add', 'root:gw-root-pw');
    ctl('role', 'add', 'gw-reader');
    ctl('role', 'grant-permission', 'gw-reader', '--prefix=true', 'read',
        $prefix);
    ctl('user', 'add', "$user:$password");
    ctl('user', 'grant-role', $user, 'gw-reader');
    ctl('user', 'add', 'gw-nobody:gw-nobody-pw');
    ctl('auth', 'enable');
    $ROOT_PASSWORD = 'gw-root-pw';
}

# a lease of ttl seconds: its id (hex, as etcdctl takes it)
sub lease_grant {
    my ($id) = ctl('lease', 'grant', shift) =~ /lease (\w+) granted/
        or die "etcdctl: no lease\n";
    return $id;
}

sub lease_keep_alive {
    ctl('lease', 'keep-alive', '--once', shift);
}

END {
    return unless $$ == $owner;

    local $?;    # the test's exit status, not etcd's

    stop();
    kill_member($_) for 0 .. $#MEMBERS;
}

if ($CLUSTER) {
    # the file calls cluster() itself
} else {
    start();
    $ENV{TEST_NGINX_ETCD_PORT} = $PORT;
}

# b1, b2, b3; a port nothing listens on; one for a fake etcd in nginx
@ENV{qw(TEST_NGINX_B1_PORT TEST_NGINX_B2_PORT TEST_NGINX_B3_PORT
        TEST_NGINX_DOWN_PORT TEST_NGINX_FAKE_PORT)} = GwHttp::free_ports(5);

1;
