package GwRedis;

# A redis-server of a test file's own, on a free loopback port
# ($TEST_NGINX_REDIS_PORT in configs), stopped when the file ends; and
# what tests do around it: commands, stopping and starting it again, a
# server that accepts and never answers, a fake one that resets its
# connections on cue, a second nginx sharing it.  And the deployments
# operators run, each server started by the test on free ports: servers
# with other options (a password, ACL users, TLS with certificates of a
# CA made here), a primary with a replica and three sentinels, a
# three-primary cluster made by redis-cli --cluster create, and what tests
# ask of a cluster: the node of a key's slot, a slot moved from one node
# to another as redis-cli --cluster reshard moves it, or stopped halfway
# (the keys moved, the slot still migrating: ASK), a node that joins, a
# node started again.

use strict;
use warnings;

use File::Temp ();
use IO::Select ();
use IO::Socket::INET ();
use IO::Socket::UNIX ();
use POSIX ();
use Socket qw(SOL_SOCKET SO_LINGER);
use Time::HiRes qw(sleep time);
use GwHttp ();

our ($PORT, $PID, $MUTE_PID, $MUTE_PORT, $NGINX_PID, $NGINX_DIR, $SOCKET,
     $FAKE_PID, $FAKE_PORT, $FAKE_CONTROL_PORT, %SERVERS, $PROXY_PID,
     $PROXY_DIR, $PROXY_SKIP, %CLUSTER_PASSWORD, %CLUSTER_BUS);

our $DIR = File::Temp->newdir('gw-redis-XXXXXX', TMPDIR => 1);

my $owner = $$;

sub start {
    $PORT //= GwHttp::free_ports();
    $PID = fork // die "fork: $!\n";

    if ($PID == 0) {
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        exec('redis-server', '--port', $PORT, '--bind', '127.0.0.1',
             '--unixsocket', "$DIR/redis.sock", '--unixsocketperm', '777',
             '--save', '', '--appendonly', 'no', '--dir', "$DIR")
            or POSIX::_exit(127);
    }

    for (1 .. 100) {
        return if eval { command('PING') eq '+PONG' };
        sleep 0.02;
    }

    die "redis-server did not start on port $PORT\n";
}

sub stop {
    return unless $PID;
    kill 'TERM', $PID;
    waitpid $PID, 0;
    undef $PID;
}

# one command, its reply's first line
sub command {
    return command_to($PORT, @_);
}

sub command_to {
    my ($port, @args) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Timeout => 2)
        or die "redis: $!\n";
    print $s '*' . @args . "\r\n",
             map { '$' . length($_) . "\r\n$_\r\n" } @args;
    my $line = <$s>;
    $line =~ s/\r\n\z// if defined $line;
    return $line;
}

# redis-cli's answer (its --raw text, without the last newline) to one
# command: for what command_to() cannot say (a password, TLS, a whole
# reply); @opts are redis-cli's own ("-a", "pw", "--tls", ...)
sub cli {
    my ($port, $opts, @args) = @_;
    open my $out, '-|', 'redis-cli', '-h', '127.0.0.1', '-p', $port,
                        '--no-auth-warning', '--raw', @{ $opts // [] }, @args
        or die "redis-cli: $!\n";
    my $text = do { local $/; <$out> } // '';
    close $out;
    $text =~ s/\n\z//;
    return $text;
}

sub wait_port {
    my ($port, $what) = @_;

    for (1 .. 250) {
        return if IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                        PeerPort => $port);
        sleep 0.02;
    }

    die "$what did not start on port $port\n";
}

# Another redis-server, with more options: a free port (or port => ...)
# and a directory of its own.  Returns its port; stop_server() or
# kill_server() ends it (the file's end, if nothing else does).  With
# tls => 1, the port is its TLS port (certificates from tls_files()) and
# it has no other.
sub server {
    my (%o) = @_;
    my $port = $o{port} // GwHttp::free_ports();
    my $dir = "$DIR/redis-$port";
    mkdir $dir;
    my @listen = $o{tls} ? ('--port', 0, '--tls-port', $port,
                            tls_options($o{cert} // 'localhost'))
                         : ('--port', $port);
    my $pid = fork // die "fork: $!\n";

    if ($pid == 0) {
        open STDOUT, '>', "$dir/redis.log";
        open STDERR, '>&', \*STDOUT;
        exec($o{program} // 'redis-server', @{ $o{conf} // [] }, @listen,
             '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
             '--dir', $dir, @{ $o{args} // [] })
            or POSIX::_exit(127);
    }

    $SERVERS{$port} = $pid;
    wait_port($port, 'redis-server');

    return $port;
}

sub stop_server {
    my ($port, $signal) = @_;
    my $pid = delete $SERVERS{$port} or return;
    kill $signal // 'TERM', $pid;
    waitpid $pid, 0;
}

sub kill_server {
    stop_server(shift, 'KILL');
}

# A primary, its replica and three sentinels that watch it as $name
# (quorum 2; the primary is down for them 1 s after it stops answering,
# so that a failover takes seconds); with password => ..., the primary and
# the replica ask for it (requirepass), the sentinels do not.  Returns the
# primary's port, the replica's and the sentinels', once the replica is
# in sync and every sentinel knows the replica and the two others.
sub sentinels {
    my (%o) = @_;
    my $name = $o{name} // 'mymaster';
    my @pw = defined $o{password}
             ? ('--requirepass', $o{password}, '--masterauth', $o{password})
             : ();
    my @cli = defined $o{password} ? ('-a', $o{password}) : ();
    my $primary = server(args => [@pw]);
    my $replica = server(args => [@pw, '--replicaof', '127.0.0.1', $primary]);
    my @sentinels;

    for (1 .. 3) {
        my $port = GwHttp::free_ports();
        my $dir = "$DIR/redis-$port";
        mkdir $dir;
        open my $fh, '>', "$dir/sentinel.conf" or die "$dir: $!\n";
        print $fh "sentinel monitor $name 127.0.0.1 $primary 2\n"
                  . "sentinel down-after-milliseconds $name 1000\n"
                  . "sentinel failover-timeout $name 10000\n"
                  . "sentinel parallel-syncs $name 1\n"
                  . (defined $o{password}
                     ? "sentinel auth-pass $name $o{password}\n" : '');
        close $fh;
        push @sentinels, server(port => $port, program => 'redis-sentinel',
                                conf => ["$dir/sentinel.conf"]);
    }

    for (1 .. 500) {
        my $synced = cli($replica, \@cli, 'INFO', 'replication')
                     =~ /master_link_status:up/;
        my $known = grep {
            my $m = cli($_, [], 'SENTINEL', 'master', $name);
            $m =~ /\bnum-slaves\n1\b/ && $m =~ /\bnum-other-sentinels\n2\b/;
        } @sentinels;
        return ($primary, $replica, @sentinels) if $synced && $known == 3;
        sleep 0.05;
    }

    die "the sentinels did not come to know the primary and its replica\n";
}

# A cluster of three primaries and no replicas, made by redis-cli
# --cluster create (slots 0-5460, 5461-10922 and 10923-16383, in the order
# of the ports returned).  Each node has a bus port of its own (a port +
# 10000 may not exist), a node timeout of 2 s and serves its slots when
# another is down (require-full-coverage no).  With password => ..., the
# nodes ask for it (requirepass, masterauth).  Returns the three ports once
# every node knows the others and that all 16384 slots are served.
sub cluster {
    my (%o) = @_;
    my @ports = map { cluster_node(%o) } 1 .. 3;
    my @cli = defined $o{password} ? ('-a', $o{password}) : ();
    my $pid = fork // die "fork: $!\n";

    if ($pid == 0) {
        open STDOUT, '>', "$DIR/redis-$ports[0]/create.log";
        open STDERR, '>&', \*STDOUT;
        exec('redis-cli', '--no-auth-warning', @cli, '--cluster', 'create',
             (map { "127.0.0.1:$_" } @ports), '--cluster-replicas', 0,
             '--cluster-yes')
            or POSIX::_exit(127);
    }

    waitpid $pid, 0;
    die "redis-cli --cluster create failed, see "
        . "$DIR/redis-$ports[0]/create.log\n" if $?;

    wait_cluster(@ports);

    return @ports;
}

# One node of a cluster, in a cluster of its own until it meets others,
# serving no slot: its port.  With port => a node's port, that node again
# (its bus port, its password, its nodes.conf: the same node, which knows
# the others), once kill_server() or stop_server() ended it.
sub cluster_node {
    my (%o) = @_;
    my ($port, $bus) = defined $o{port} ? ($o{port}, $CLUSTER_BUS{$o{port}})
                                        : GwHttp::free_ports(2);
    $o{password} = $CLUSTER_PASSWORD{$port} if defined $o{port};
    my @pw = defined $o{password}
             ? ('--requirepass', $o{password}, '--masterauth', $o{password})
             : ();

    server(port => $port, args => [
        @pw, '--cluster-enabled', 'yes',
        '--cluster-config-file', "$DIR/redis-$port/nodes.conf",
        '--cluster-port', $bus, '--cluster-node-timeout', 2000,
        '--cluster-require-full-coverage', 'no']);
    $CLUSTER_PASSWORD{$port} = $o{password};
    $CLUSTER_BUS{$port} = $bus;

    return $port;
}

# A new node (a cluster_node() of the same password) joins the cluster of
# @ports, serving no slot yet: until every node knows every other
sub join_cluster {
    my ($port, @ports) = @_;
    my $r = node_cli($ports[0], 'CLUSTER', 'MEET', '127.0.0.1', $port,
                     $CLUSTER_BUS{$port});
    die "CLUSTER MEET of $port: $r\n" unless $r eq 'OK';
    wait_cluster(@ports, $port);
}

# until every node of @ports says the cluster is ok, knows them all and
# sees all 16384 slots served
sub wait_cluster {
    my @ports = @_;

    for (1 .. 500) {
        my $ok = grep {
            my $info = node_cli($_, 'CLUSTER', 'INFO');
            $info =~ /^cluster_state:ok\r?$/m
            && $info =~ /^cluster_slots_ok:16384\r?$/m
            && $info =~ /^cluster_known_nodes:${\ scalar @ports}\r?$/m;
        } @ports;
        return if $ok == @ports;
        sleep 0.02;
    }

    die "the cluster of @ports is not ok\n";
}

# redis-cli's answer from a node of a cluster(), with its password
sub node_cli {
    my ($port, @args) = @_;
    my $pw = $CLUSTER_PASSWORD{$port};
    return cli($port, [defined $pw ? ('-a', $pw) : ()], @args);
}

# the slot of a key
sub keyslot {
    my ($port, $key) = @_;
    return node_cli($port, 'CLUSTER', 'KEYSLOT', $key);
}

# what a node knows of the cluster: for each node's port, its id and the
# slots it serves, as { id => ..., slots => [[first, last], ...] }; a
# slot being migrated is in neither side's ranges
sub nodes {
    my $port = shift;
    my %nodes;

    for (split /\n/, node_cli($port, 'CLUSTER', 'NODES')) {
        my ($id, $addr, $flags, undef, undef, undef, undef, undef, @slots)
            = split ' ';
        my ($p) = $addr =~ /:(\d+)\@/ or next;
        $nodes{$p} = {
            id    => $id,
            flags => $flags,
            slots => [map { /^(\d+)(?:-(\d+))?$/ ? [$1, $2 // $1] : () }
                      @slots],
        };
    }

    return \%nodes;
}

# the port of the node that serves $slot, as the node on $port sees it
sub slot_owner {
    my ($port, $slot) = @_;
    my $nodes = nodes($port);

    for my $p (keys %$nodes) {
        return $p if grep { $_->[0] <= $slot && $slot <= $_->[1] }
                     @{ $nodes->{$p}{slots} };
    }

    return undef;
}

# The node that serves the bucket $key: the slot of its hash tag.
sub key_owner {
    my ($port, $key) = @_;
    return slot_owner($port, keyslot($port, $key));
}

# Moves $slot from the node on port $from to the one on $to, as redis-cli
# --cluster reshard does: the target IMPORTING, the source MIGRATING, the
# keys MIGRATEd, then every node told the new owner, and until all of
# @$all (every node's port) agree.  With half => 1 it stops once the keys
# are moved: the source answers ASK for them, the target takes them after
# ASKING; finish_slot() ends the move.
sub move_slot {
    my ($slot, $from, $to, %o) = @_;
    my $nodes = nodes($from);
    my $pw = $CLUSTER_PASSWORD{$from};

    node_cli($to, 'CLUSTER', 'SETSLOT', $slot, 'IMPORTING',
             $nodes->{$from}{id}) eq 'OK'
        or die "CLUSTER SETSLOT $slot IMPORTING on $to failed\n";
    node_cli($from, 'CLUSTER', 'SETSLOT', $slot, 'MIGRATING',
             $nodes->{$to}{id}) eq 'OK'
        or die "CLUSTER SETSLOT $slot MIGRATING on $from failed\n";

    for (;;) {
        my @keys = split /\n/, node_cli($from, 'CLUSTER', 'GETKEYSINSLOT',
                                        $slot, 100);
        last unless @keys;
        my $r = node_cli($from, 'MIGRATE', '127.0.0.1', $to, '', 0, 5000,
                         defined $pw ? ('AUTH', $pw) : (), 'KEYS', @keys);
        die "MIGRATE of slot $slot to $to: $r\n" unless $r eq 'OK';
    }

    finish_slot($slot, $from, $to, $o{all} // [keys %$nodes]) unless $o{half};
}

sub finish_slot {
    my ($slot, $from, $to, $all) = @_;
    my $id = nodes($to)->{$to}{id};

    # the target first, so that it owns the slot before the source stops
    # answering for it, as redis-cli does
    for my $p ($to, $from, grep { $_ != $to && $_ != $from } @$all) {
        my $r = node_cli($p, 'CLUSTER', 'SETSLOT', $slot, 'NODE', $id);
        die "CLUSTER SETSLOT $slot NODE on $p: $r\n" unless $r eq 'OK';
    }

    for (1 .. 500) {
        return if !grep { (slot_owner($_, $slot) // 0) != $to } @$all;
        sleep 0.02;
    }

    die "the nodes do not agree that $to serves slot $slot\n";
}

# A sentinel that lies ($TEST_NGINX_FAKE_SENTINEL_PORT): it names
# 127.0.0.1:$port as the primary of every name, and its subscriptions
# never carry a message.  Its child ends with the file.
sub fake_sentinel {
    my $port = shift;
    my $listen = GwHttp::free_ports();
    my $pid = fork // die "fork: $!\n";

    if ($pid == 0) {
        my $l = IO::Socket::INET->new(LocalAddr => "127.0.0.1:$listen",
                                      Listen => 16, ReuseAddr => 1)
            or POSIX::_exit(1);
        my $sel = IO::Select->new($l);
        my %in;

        for (;;) {
            for my $s ($sel->can_read) {
                if ($s == $l) {
                    my $c = $l->accept or next;
                    $sel->add($c);
                    $in{$c} = '';
                    next;
                }

                my $data;

                if (!sysread $s, $data, 65536) {
                    $sel->remove($s);
                    delete $in{$s};
                    close $s;
                    next;
                }

                $in{$s} .= $data;

                while (my $cmd = take_command(\$in{$s})) {
                    my $what = uc $cmd->[0];
                    syswrite $s,
                        $what eq 'SENTINEL'
                        ? "*2\r\n\$9\r\n127.0.0.1\r\n\$"
                          . length($port) . "\r\n$port\r\n"
                        : $what eq 'SUBSCRIBE'
                        ? "*3\r\n\$9\r\nsubscribe\r\n\$"
                          . length($cmd->[1]) . "\r\n$cmd->[1]\r\n:1\r\n"
                        : "+PONG\r\n";
                }
            }
        }
    }

    $SERVERS{$listen} = $pid;
    wait_port($listen, 'the fake sentinel');
    $ENV{TEST_NGINX_FAKE_SENTINEL_PORT} = $listen;

    return $listen;
}

# the address a sentinel names for $name: "127.0.0.1:port", or ""
sub sentinel_primary {
    my ($sentinel, $name) = @_;
    my @a = split /\n/, cli($sentinel, [], 'SENTINEL',
                             'get-master-addr-by-name', $name // 'mymaster');
    return @a == 2 ? "$a[0]:$a[1]" : '';
}

# A CA of the test's own, and certificates it signs (made with openssl
# once each): "$DIR/tls/ca.pem", and for each name "$DIR/tls/<name>.pem"
# and its key, whose subjectAltName is DNS:<name> and, for localhost,
# IP:127.0.0.1 too.  "other-ca" is a CA nginx does not trust.
sub tls_files {
    my $name = shift // 'localhost';
    my $tls = "$DIR/tls";
    mkdir $tls;

    my $run = sub {
        system(@_) == 0 or die "openssl @_: failed\n";
    };
    my $quiet = sub {
        my @cmd = @_;
        open my $save, '>&', \*STDERR;
        open STDERR, '>', '/dev/null';
        my $rc = system(@cmd);
        open STDERR, '>&', $save;
        $rc == 0 or die "@cmd: failed\n";
    };

    for my $ca ('ca', 'other-ca') {
        next if -e "$tls/$ca.pem";
        $quiet->('openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes',
                 '-keyout', "$tls/$ca.key", '-out', "$tls/$ca.pem",
                 '-days', 2, '-subj', "/CN=gateway test $ca");
    }

    return "$tls/ca.pem" if -e "$tls/$name.pem";

    my ($sign, $san) = ('ca', "DNS:$name");
    ($sign, $san) = ('other-ca', 'DNS:localhost,IP:127.0.0.1')
        if $name eq 'untrusted';
    $san .= ',IP:127.0.0.1' if $name eq 'localhost';

    open my $ext, '>', "$tls/$name.ext" or die "$tls: $!\n";
    print $ext "subjectAltName=$san\n";
    close $ext;

    $quiet->('openssl', 'req', '-newkey', 'rsa:2048', '-nodes',
             '-keyout', "$tls/$name.key", '-out', "$tls/$name.csr",
             '-subj', "/CN=$name");
    $quiet->('openssl', 'x509', '-req', '-in', "$tls/$name.csr",
             '-CA', "$tls/$sign.pem", '-CAkey', "$tls/$sign.key",
             '-CAcreateserial', '-days', 2, '-extfile', "$tls/$name.ext",
             '-out', "$tls/$name.pem");
    chmod 0644, "$tls/$name.key";

    return "$tls/ca.pem";
}

sub tls_options {
    my $name = shift;
    tls_files($name);
    my $tls = "$DIR/tls";
    return ('--tls-cert-file', "$tls/$name.pem",
            '--tls-key-file', "$tls/$name.key",
            '--tls-ca-cert-file', "$tls/ca.pem", '--tls-auth-clients', 'no');
}

# a server that accepts connections and never answers
sub start_mute {
    $MUTE_PORT = GwHttp::free_ports();
    $MUTE_PID = fork // die "fork: $!\n";

    if ($MUTE_PID == 0) {
        my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1:$MUTE_PORT",
                                      Listen => 16, ReuseAddr => 1)
            or POSIX::_exit(1);
        my @keep;
        while (my $c = $s->accept) { push @keep, $c }
        POSIX::_exit(0);
    }

    sleep 0.1;
}

# A fake Redis ($TEST_NGINX_REDIS_FAKE_PORT, once start_fake() ran) for the
# failures a real one does not show on cue.  It answers rate_limit's
# script calls as if every bucket were empty, or, in the mode the test
# sets with fake('MODE', $mode):
#   mute    reads the calls and never answers;
#   reset   resets the connection when a call arrives;
#   accept  resets each connection as soon as it is accepted;
#   half    writes half of the reply, then resets.
# A reset is a close with SO_LINGER 0: an RST, as a failover or a
# middlebox sends.  fake('RESET') resets every connection now and answers
# once the RSTs are sent; fake('CALLS') counts the calls seen.  fake()
# talks to a port of its own, which no mode resets.
# $TEST_NGINX_CLOSED_SOCKET, made at the same time, is a unix socket that
# refuses connections.
sub start_fake {
    $FAKE_PORT = GwHttp::free_ports();
    $FAKE_CONTROL_PORT = GwHttp::free_ports();
    $FAKE_PID = fork // die "fork: $!\n";

    if ($FAKE_PID == 0) {
        fake_server();
        POSIX::_exit(0);
    }

    $ENV{TEST_NGINX_REDIS_FAKE_PORT} = $FAKE_PORT;

    # and, for an upstream that fails at once, a unix socket nobody
    # listens on: connect() is refused
    IO::Socket::UNIX->new(Local => "$DIR/closed.sock", Listen => 1)
        or die "$DIR/closed.sock: $!\n";
    $ENV{TEST_NGINX_CLOSED_SOCKET} = "$DIR/closed.sock";

    for (1 .. 100) {
        return if eval { fake('MODE', 'answer') eq '+OK' };
        sleep 0.02;
    }

    die "the fake Redis did not start on port $FAKE_PORT\n";
}

sub fake {
    return command_to($FAKE_CONTROL_PORT, 'FAKE', @_);
}

# one command in RESP, taken off the front of $$buf; undef if incomplete
sub take_command {
    my $buf = shift;
    return unless $$buf =~ /\A\*(\d+)\r\n/;
    my ($n, $pos, @args) = ($1, $+[0]);

    for (1 .. $n) {
        return unless substr($$buf, $pos) =~ /\A\$(\d+)\r\n/;
        my ($len, $from) = ($1, $pos + $+[0]);
        return if length $$buf < $from + $len + 2;
        push @args, substr($$buf, $from, $len);
        $pos = $from + $len + 2;
    }

    substr($$buf, 0, $pos, '');
    return \@args;
}

# EVALSHA sha n key... groups index (interval burst cost dry_run)...: a
# byte a group (its keys), a byte a key (its limit), then the limits; each
# key admitted with only this call's cost in its bucket (the fill, >= 0)
sub fake_reply {
    my $args = shift;
    my $n = $args->[2];
    my $index = $args->[4 + $n];
    my $reply = "*$n\r\n";

    for my $i (0 .. $n - 1) {
        my $a = 5 + $n + 4 * ord(substr($index, $i, 1));
        my ($interval, undef, $cost) = @$args[$a .. $a + 2];
        $reply .= ':' . $interval * $cost . "\r\n";
    }

    return $reply;
}

sub fake_server {
    my ($l, $cl) = map {
        IO::Socket::INET->new(LocalAddr => "127.0.0.1:$_", Listen => 64,
                              ReuseAddr => 1)
            or POSIX::_exit(1)
    } $FAKE_PORT, $FAKE_CONTROL_PORT;
    my $sel = IO::Select->new($l, $cl);
    my ($mode, $calls, %in, %control) = ('answer', 0);

    my $reset = sub {
        my $c = shift;
        $sel->remove($c);
        delete $in{$c};
        setsockopt($c, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0));
        close $c;
    };

    for (;;) {
        for my $s ($sel->can_read) {
            next unless $s == $l || $s == $cl || exists $in{$s};  # reset

            if ($s == $l || $s == $cl) {
                my $c = $s->accept or next;

                if ($s == $l && $mode eq 'accept') {
                    $reset->($c);
                    next;
                }

                $sel->add($c);
                $in{$c} = '';
                $control{$c} = 1 if $s == $cl;
                next;
            }

            my $data;

            if (!sysread $s, $data, 65536) {
                $sel->remove($s);
                delete $in{$s};
                delete $control{$s};
                close $s;
                next;
            }

            $in{$s} .= $data;

            while (exists $in{$s} and my $cmd = take_command(\$in{$s})) {
                # FAKE <what> on the control port, the script on the other
                my $what = uc($control{$s} ? $cmd->[1] // '' : $cmd->[0]);

                if ($what eq 'MODE') {
                    $mode = $cmd->[2];
                    syswrite $s, "+OK\r\n";

                } elsif ($what eq 'RESET') {
                    $reset->($_) for grep { exists $in{$_} && !$control{$_} }
                                     $sel->handles;
                    syswrite $s, "+OK\r\n";

                } elsif ($what eq 'CALLS') {
                    syswrite $s, ":$calls\r\n";

                } elsif ($what eq 'EVALSHA' || $what eq 'EVAL') {
                    $calls++;
                    next if $mode eq 'mute';

                    if ($mode eq 'reset') {
                        $reset->($s);
                        last;
                    }

                    my $reply = fake_reply($cmd);

                    if ($mode eq 'half') {
                        syswrite $s, substr($reply, 0, length($reply) / 2);
                        $reset->($s);
                        last;
                    }

                    syswrite $s, $reply;

                } else {
                    syswrite $s, "-ERR unknown command '$cmd->[0]'\r\n";
                }
            }
        }
    }
}

# nginx's worker processes: its master's children, or nginx itself
# without a master process
sub nginx_workers {
    open my $pf, '<', $Test::Nginx::Util::PidFile
        or die "cannot read $Test::Nginx::Util::PidFile: $!\n";
    my ($pid) = <$pf> =~ /(\d+)/;
    close $pf;
    my @workers = GwHttp::children($pid);
    return @workers ? @workers : ($pid);
}

# the whole response on $sock, parsed as GwHttp::parse() does; status 0
# if it did not come within $wait seconds
sub read_response {
    my ($sock, $wait) = @_;
    my ($sel, $resp, $eof) = (IO::Select->new($sock), '', 0);
    my $until = time + $wait;

    while (time < $until && $sel->can_read($until - time)) {
        my $data;
        $eof = 1, last unless sysread $sock, $data, 65536;
        $resp .= $data;
    }

    close $sock;
    my @res = $eof ? GwHttp::parse($resp) : (0, {}, '');
    return wantarray ? @res : $res[0];
}

# GET uri, and the fake Redis resets its connections at the moment the
# request is written.  The worker is paused meanwhile (SIGSTOP), so that
# it finds both at once and in that order: the request first, then the RST
# on a connection to Redis that it still takes for writable.  The request
# line goes first, so that the worker has accepted the connection before
# the pause.  What get_at_reset() answers is read_response()'s.
sub send_at_reset {
    my $uri = shift;
    my $settle = $ENV{TEST_NGINX_USE_VALGRIND} ? 1 : 0.2;
    my $sock = GwHttp::connect_to();

    syswrite $sock, "GET $uri HTTP/1.0\r\n";
    sleep $settle;

    my @workers = nginx_workers();
    kill 'STOP', @workers;
    my $ok = eval {
        syswrite $sock, "Host: localhost\r\n\r\n";
        fake('RESET');
        sleep 0.05;
        1;
    };
    kill 'CONT', @workers;
    die $@ unless $ok;

    return $sock;
}

sub get_at_reset {
    my ($uri, $wait) = @_;
    return read_response(send_at_reset($uri), wait_time($wait));
}

# GET uri without reading the answer yet: the socket for read_response()
sub send_get {
    my $uri = shift;
    my $sock = GwHttp::connect_to();
    syswrite $sock, "GET $uri HTTP/1.0\r\nHost: localhost\r\n\r\n";
    return $sock;
}

# how long an answer may take: valgrind is slow
sub wait_time {
    my $wait = shift // 3;
    return $ENV{TEST_NGINX_USE_VALGRIND} ? 10 * $wait : $wait;
}

# a second nginx with the same modules: its own prefix (@DIR@ in $http,
# with an ok.txt), port and config
sub start_nginx {
    my ($port, $http) = @_;
    $NGINX_DIR //= File::Temp->newdir('gw-second-XXXXXX', TMPDIR => 1);
    my $prefix = "$NGINX_DIR";
    mkdir "$prefix/logs";
    $http =~ s/\@DIR\@/$prefix/g;
    open my $ok, '>', "$prefix/ok.txt" or die "$prefix: $!\n";
    print $ok "ok\n";
    close $ok;
    my $loads = join '', map { "load_module $_;\n" }
                         split ' ', $ENV{TEST_NGINX_LOAD_MODULES} // '';
    open my $fh, '>', "$prefix/nginx.conf" or die "$prefix: $!\n";
    print $fh "$loads\ndaemon off;\nmaster_process off;\n"
              . "error_log $prefix/logs/error.log info;\n"
              . "pid $prefix/logs/nginx.pid;\n"
              . "events { worker_connections 64; }\n"
              . "http {\n    access_log off;\n$http\n}\n";
    close $fh;

    $NGINX_PID = fork // die "fork: $!\n";

    if ($NGINX_PID == 0) {
        open STDERR, '>', "$prefix/logs/stderr";
        exec($ENV{TEST_NGINX_BINARY} || 'nginx', '-p', "$prefix/",
             '-c', "$prefix/nginx.conf")
            or POSIX::_exit(127);
    }

    for (1 .. 100) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port);
        return if $s;
        sleep 0.02;
    }

    die "the second nginx did not start\n";
}

sub stop_nginx {
    return unless $NGINX_PID;
    kill 'QUIT', $NGINX_PID;
    waitpid $NGINX_PID, 0;
    undef $NGINX_PID;
}

# nginx's stream module for the nginx under test: beside the binary (a
# build of versions/fetch), or where its modules are (Debian's)
sub stream_module {
    my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
    my ($dir) = $nginx =~ m{^(.*)/[^/]+$};
    my ($modules) = `$nginx -V 2>&1` =~ /--modules-path=(\S+)/;

    for my $so (grep { defined } "$dir/ngx_stream_module.so",
                                 $modules && "$modules/ngx_stream_module.so")
    {
        return $so if -e $so;
    }

    die "no ngx_stream_module.so for $nginx\n";
}

# A TLS proxy in front of a Redis port: an nginx of its own, whose stream
# server has tls_files()'s certificate for localhost and logs, for each
# connection once it is closed, the name the client sent (SNI) and whether
# it resumed a session ("r" or "."): proxy_log().  Returns its port.
sub start_tls_proxy {
    my $backend = shift;
    my $port = GwHttp::free_ports();
    $PROXY_DIR //= File::Temp->newdir('gw-proxy-XXXXXX', TMPDIR => 1);
    my $dir = "$PROXY_DIR";
    my $tls = "$DIR/tls";
    tls_files('localhost');

    open my $fh, '>', "$dir/nginx.conf" or die "$dir: $!\n";
    print $fh "load_module " . stream_module() . ";\n"
              . "daemon off;\nmaster_process off;\n"
              . "error_log $dir/error.log info;\npid $dir/nginx.pid;\n"
              . "events { worker_connections 64; }\n"
              . "stream {\n"
              . "    log_format tls '\"\$ssl_server_name\" \$ssl_session_reused';\n"
              . "    access_log $dir/access.log tls;\n"
              . "    server {\n"
              . "        listen 127.0.0.1:$port ssl;\n"
              . "        ssl_certificate $tls/localhost.pem;\n"
              . "        ssl_certificate_key $tls/localhost.key;\n"
              . "        proxy_pass 127.0.0.1:$backend;\n"
              . "    }\n"
              . "}\n";
    close $fh;

    $PROXY_PID = fork // die "fork: $!\n";

    if ($PROXY_PID == 0) {
        open STDERR, '>', "$dir/stderr";
        exec($ENV{TEST_NGINX_BINARY} || 'nginx', '-p', "$dir/",
             '-c', "$dir/nginx.conf")
            or POSIX::_exit(127);
    }

    wait_port($port, 'the TLS proxy');

    # the connection that found it listening is logged too: not one of
    # the test's
    for (1 .. 100) {
        last if proxy_log();
        sleep 0.01;
    }
    $PROXY_SKIP = () = proxy_log();

    return $port;
}

sub proxy_log {
    open my $fh, '<', "$PROXY_DIR/access.log" or return ();
    chomp(my @lines = <$fh>);
    return splice @lines, $PROXY_SKIP // 0;
}

sub stop_tls_proxy {
    return unless $PROXY_PID;
    kill 'QUIT', $PROXY_PID;
    waitpid $PROXY_PID, 0;
    undef $PROXY_PID;
}

END {
    return unless $$ == $owner;

    local $?;    # the test's exit status, not the servers'

    stop_nginx();
    stop_tls_proxy();
    stop();
    stop_server($_, 'KILL') for keys %SERVERS;

    for my $pid ($MUTE_PID, $FAKE_PID) {
        next unless $pid;
        kill 'KILL', $pid;
        waitpid $pid, 0;
    }
}

start();
start_mute();
$ENV{TEST_NGINX_REDIS_PORT} = $PORT;
$ENV{TEST_NGINX_REDIS_SOCKET} = "$DIR/redis.sock";
$ENV{TEST_NGINX_REDIS_MUTE_PORT} = $MUTE_PORT;

1;
