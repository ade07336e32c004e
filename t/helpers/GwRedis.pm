package GwRedis;

# A redis-server of a test file's own, on a free loopback port
# ($TEST_NGINX_REDIS_PORT in configs), stopped when the file ends; and
# what tests do around it: commands, stopping and starting it again, a
# server that accepts and never answers, a second nginx sharing it.

use strict;
use warnings;

use File::Temp ();
use IO::Socket::INET ();
use POSIX ();
use Time::HiRes qw(sleep);

our ($PORT, $PID, $MUTE_PID, $MUTE_PORT, $NGINX_PID, $NGINX_DIR, $SOCKET);

our $DIR = File::Temp->newdir('gw-redis-XXXXXX', TMPDIR => 1);

my $owner = $$;

sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Listen => 1, ReuseAddr => 1)
        or die "no free port: $!\n";
    my $port = $s->sockport;
    close $s;
    return $port;
}

sub start {
    $PORT //= free_port();
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
    my @args = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $PORT,
                                  Timeout => 2)
        or die "redis: $!\n";
    print $s '*' . @args . "\r\n",
             map { '$' . length($_) . "\r\n$_\r\n" } @args;
    my $line = <$s>;
    $line =~ s/\r\n\z// if defined $line;
    return $line;
}

# a server that accepts connections and never answers
sub start_mute {
    $MUTE_PORT = free_port();
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

END {
    return unless $$ == $owner;

    local $?;    # the test's exit status, not the servers'

    stop_nginx();
    stop();

    if ($MUTE_PID) {
        kill 'KILL', $MUTE_PID;
        waitpid $MUTE_PID, 0;
    }
}

start();
start_mute();
$ENV{TEST_NGINX_REDIS_PORT} = $PORT;
$ENV{TEST_NGINX_REDIS_SOCKET} = "$DIR/redis.sock";
$ENV{TEST_NGINX_REDIS_MUTE_PORT} = $MUTE_PORT;

1;
