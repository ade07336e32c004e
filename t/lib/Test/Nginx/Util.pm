package Test::Nginx::Util;

# Server side of the project's stand-in for openresty's Test::Nginx: the
# settings, the server root, nginx.conf, and running nginx as our own
# child process.  Test::Nginx::Socket is the part the .t files load.
#
# Used only where the real Test::Nginx is not installed; the .t files must
# keep passing under both.

use strict;
use warnings;

use base 'Exporter';

use File::Path qw(make_path remove_tree);
use File::Spec ();
use IO::Socket::INET ();
use List::Util qw(shuffle);
use POSIX qw(:sys_wait_h SIGQUIT SIGTERM SIGKILL);
use Time::HiRes qw(sleep time);
use Carp qw(croak);

our $VERSION = '0.33';

our @EXPORT = qw(
    env_to_nginx is_str no_long_string $NoLongString server_addr $ServerAddr
    server_name $ServerName bail_out add_cleanup_handler
    add_test_cleanup_handler add_block_preprocessor error_log_data
    access_log_data expand_env_in_text run_tests run_test trim show_all_chars
    parse_headers parse_time timeout worker_connections workers master_on
    master_off master_process_enabled config_preamble repeat_each log_level
    no_shuffle no_root_location html_dir server_root server_port
    server_port_for_client no_nginx_manager use_hup check_accum_error_log
    get_nginx_version sleep_time verbose
    $ServerPort $ServerPortForClient $NginxVersion $NginxBinary $PidFile
    $ServRoot $ConfFile $RepeatEach $RunTestHelper $CheckErrorLog
    $CheckShutdownErrorLog $UseValgrind
);

# ---------------------------------------------------------------- settings

sub env_num { my ($n, $d) = @_; defined $ENV{$n} && $ENV{$n} ne '' ? $ENV{$n} : $d }

our $NginxBinary    = $ENV{TEST_NGINX_BINARY} || 'nginx';
our $ServerAddr     = '127.0.0.1';
our $ServerName     = 'localhost';
our $ServerPort     = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;
our $ServerPortForClient = $ENV{TEST_NGINX_CLIENT_PORT} || $ServerPort;
our $LoadModules    = $ENV{TEST_NGINX_LOAD_MODULES} // '';
our $UseValgrind    = $ENV{TEST_NGINX_USE_VALGRIND};
our $Verbose        = $ENV{TEST_NGINX_VERBOSE};
our $Timeout        = env_num(TEST_NGINX_TIMEOUT => $UseValgrind ? 30 : 3);
our $TestNginxSleep = env_num(TEST_NGINX_SLEEP => 0.015);
our $LogLevel       = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $MasterProcessEnabled = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';
our $NoShuffle      = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $Workers           = 1;
our $WorkerConnections = 64;
our $RepeatEach        = 1;
our $NoLongString      = 0;
our $NoRootLocation    = 0;
our $CheckAccumErrLog  = 0;
our $ConfigPreamble    = '';
our (@EnvToNginx, @BlockPreprocessors, @CleanupHandlers, @TestCleanupHandlers);
our ($RunTestHelper, $CheckErrorLog, $CheckShutdownErrorLog);
our ($NginxVersion, $NginxRawVersion, $NginxV, $PrevConfig, $RandPorts);

our $ServRoot = File::Spec->rel2abs($ENV{TEST_NGINX_SERVROOT} || 't/servroot');
$ServRoot =~ s{/+$}{};
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;
our $LogDir     = "$ServRoot/logs";
our $ErrLogFile = "$LogDir/error.log";
our $AccLogFile = "$LogDir/access.log";
our $StderrFile = "$LogDir/stderr.log";
our $HtmlDir    = "$ServRoot/html";
our $ConfDir    = "$ServRoot/conf";
our $ConfFile   = "$ConfDir/nginx.conf";
our $PidFile    = "$LogDir/nginx.pid";
our $ValgrindLog = "$LogDir/valgrind.log";

our $ChildPid;          # the nginx we run, a direct child of this process
our $ChildStatus;       # its wait status if it exited before stop_nginx()
our $ErrLogPos = 0;     # how much of error.log the checks have read

# Settings the .t files change before run_tests(): setters that also read.
sub _accessor { my $ref = shift; @_ ? ($$ref = shift) : $$ref }
sub timeout (@)            { _accessor(\$Timeout, @_) }
sub workers (@)            { _accessor(\$Workers, @_) }
sub worker_connections (@) { _accessor(\$WorkerConnections, @_) }
sub log_level (@)          { _accessor(\$LogLevel, @_) }
sub repeat_each (@)        { _accessor(\$RepeatEach, @_) }
sub server_addr (@)        { _accessor(\$ServerAddr, @_) }
sub server_name (@)        { _accessor(\$ServerName, @_) }
sub server_port (@)        { _accessor(\$ServerPort, @_) }
sub server_port_for_client (@) { _accessor(\$ServerPortForClient, @_) }
sub master_process_enabled (@) {
    return $MasterProcessEnabled unless @_;
    $MasterProcessEnabled = $_[0] ? 'on' : 'off';
}
sub master_on ()  { $MasterProcessEnabled = 'on' }
sub master_off () { $MasterProcessEnabled = 'off' }
sub no_shuffle ()       { $NoShuffle = 1 }
sub no_long_string ()   { $NoLongString = 1 }
sub no_root_location () { $NoRootLocation = 1 }
sub check_accum_error_log () { $CheckAccumErrLog = 1 }
sub config_preamble ($) { $ConfigPreamble = shift }
sub html_dir ()    { $HtmlDir }
sub server_root () { $ServRoot }
sub sleep_time ()  { $TestNginxSleep }
sub verbose ()     { $Verbose }
sub add_block_preprocessor (&) { unshift @BlockPreprocessors, shift }
sub add_cleanup_handler ($)      { unshift @CleanupHandlers, shift }
sub add_test_cleanup_handler ($) { unshift @TestCleanupHandlers, shift }

# Accepted for compatibility; this runner always restarts nginx per block.
sub use_hup () { warn "use_hup() is not supported by this runner; ignored\n" }
sub no_nginx_manager () {
    warn "no_nginx_manager() is not supported by this runner; ignored\n";
}

sub env_to_nginx (@) {
    croak "env_to_nginx: no arguments specified" unless @_;
    for my $v (@_) {
        croak "env_to_nginx: bad argument value: $v\n"
            if $v !~ /^[A-Za-z_]/ || $v =~ /\n/;
        push @EnvToNginx, $v;
    }
}

# ----------------------------------------------------------------- helpers

sub bail_out (@) {
    cleanup();
    Test::More::BAIL_OUT(join '', @_);
}

sub is_str (@) {
    my ($got, $expected, $desc) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return Test::More::like($got, $expected, $desc)
        if ref $expected && ref $expected eq 'Regexp';
    return Test::Nginx::Socket::is_with_diff($got, $expected, $desc);
}

sub parse_time ($) {
    my $t = shift;
    return $t unless defined $t;
    $t =~ s/^\s+|\s+$//g;
    return $1 / 1000 if $t =~ /^([\d.]+)ms$/;
    $t =~ s/(?<=\d)s$//;
    return $t;
}

sub trim ($) {
    my $s = shift;
    return undef unless defined $s;
    $s =~ s/^\s+|\s+$//g;
    $s =~ s/\s+/ /g;
    return $s;
}

sub show_all_chars ($) {
    my $s = shift;
    $s =~ s/\n/\\n/g;
    $s =~ s/\r/\\r/g;
    $s =~ s/\t/\\t/g;
    return $s;
}

# "Name: value" lines to a hash; "!Name" means the header must be absent.
sub parse_headers ($) {
    my %h;
    for my $line (split /\n/, shift // '') {
        $line =~ s/^\s+|\s+$//g;
        next if $line eq '';
        if ($line =~ s/^!\s*//) {
            $h{$line} = undef;
        } else {
            my ($k, $v) = split /\s*:\s*/, $line, 2;
            $h{$k} = $v // '';
        }
    }
    return \%h;
}

sub free_port {
    my $used = shift;
    for (1 .. 1000) {
        my $port = 1988 + int rand 60000;
        next if $used->{$port};
        my $s = IO::Socket::INET->new(LocalAddr => $ServerAddr,
            LocalPort => $port, Listen => 1, ReuseAddr => 1) or next;
        close $s;
        return $port;
    }
    return undef;
}

# $TEST_NGINX_FOO is replaced with the environment variable's value;
# $TEST_NGINX_RAND_PORT_N with a free port, the same one within a block.
sub expand_env_in_text ($$$) {
    my ($text, $name, $ports) = @_;
    return $text unless defined $text;
    $ports ||= $RandPorts ||= {};
    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        my $var = $1;
        if ($var =~ /^TEST_NGINX_RAND_PORT_\d+$/) {
            $ports->{$var} //= do {
                my %used = map { $_ => 1 } grep { defined } $ServerPort, values %$ports;
                free_port(\%used) // bail_out("$name - no free port for $var");
            };
        } else {
            defined $ENV{$var}
                or bail_out("$name - No environment $var defined.\n");
            $ENV{$var};
        }
    }ge;
    return $text;
}

sub get_nginx_version () {
    $NginxV //= `$NginxBinary -V 2>&1`;
    bail_out("cannot run \"$NginxBinary -V\": $NginxV") if $? && !$NginxV;
    if ($NginxV =~ m{(?:nginx|openresty)[^/]*/(\d+)\.(\d+)\.(\d+)}) {
        $NginxRawVersion = "$1.$2.$3";
        return sprintf "%d.%03d%03d", $1, $2, $3;
    }
    bail_out("cannot parse the output of \"$NginxBinary -V\": $NginxV");
}

sub canon_version { sprintf "%d.%03d%03d", @_ }

# ------------------------------------------------------------ server root

sub setup_server_root () {
    kill_stale_nginx();
    if (-d $ServRoot) {
        remove_tree($ConfDir, $HtmlDir, $LogDir, "$ServRoot/cache",
                    glob("$ServRoot/*_temp"), glob("$ServRoot/*_cache"));
    }
    for my $d ($ServRoot, $LogDir, $HtmlDir, $ConfDir) {
        -d $d or mkdir $d or bail_out("cannot mkdir $d: $!");
    }
    write_file("$HtmlDir/index.html", '<html><head><title>It works!</title>'
               . '</head><body>It works!</body></html>');
}

# An nginx left behind by a killed earlier run would hold the port.
sub kill_stale_nginx {
    open my $in, '<', $PidFile or return;
    my $pid = <$in> // '';
    close $in;
    unlink $PidFile;
    return unless $pid =~ /^(\d+)/ && $1 != ($ChildPid // 0);
    $pid = $1;
    my $cmd = '';
    if (open my $c, '<', "/proc/$pid/cmdline") { local $/; $cmd = <$c> // '' }
    return unless $cmd =~ /nginx/ && index($cmd, "$ServRoot/") >= 0;
    warn "killing the stale nginx process $pid\n";
    kill SIGKILL, $pid;
}

sub write_file {
    my ($path, $body) = @_;
    open my $out, '>', $path or bail_out("cannot write $path: $!");
    binmode $out;
    print $out $body;
    close $out;
}

# --- user_files: ">>> path [touch-date]" starts a file, the rest is its body.
sub write_user_files ($) {
    my $block = shift;
    my $name = $block->name;
    my $files = $block->user_files;
    return unless defined $files;
    if (!ref $files) {
        my @list;
        for my $line (split /^/, $files) {
            if ($line =~ /^>>> (\S+)(?:\s+(.+?))?\s*$/) {
                push @list, [$1, '', $2];
            } elsif (@list) {
                $list[-1][1] .= $line;
            }
        }
        $files = \@list;
    }
    ref $files eq 'ARRAY' or bail_out("$name - user_files: bad value $files");
    for my $f (@$files) {
        my ($fname, $body, $date) = @$f;
        my $path = $fname =~ m{^/} ? $fname : "$HtmlDir/$fname";
        (my $dir = $path) =~ s{/[^/]*$}{};
        make_path($dir) unless -d $dir;
        write_file($path, expand_env_in_text($body // '', $name, $RandPorts));
        if ($date) {
            local $ENV{TZ} = 'GMT';
            system('touch', '-t', $date, $path) == 0
                or bail_out("$name - touch -t '$date' $path failed");
        }
    }
}

# -------------------------------------------------------------- nginx.conf

sub write_config_file ($$) {
    my ($block, $config) = @_;
    my $name = $block->name;
    my $x = sub { expand_env_in_text($_[0] // '', $name, $RandPorts) };

    my $http_config = $x->($block->http_config);
    my $main_config = $x->($block->main_config);
    my $post_main   = $x->($block->post_main_config);
    my $err_log     = $x->($block->error_log_file || $ErrLogFile);
    my $server_name = $block->server_name // $ServerName;
    my $loads = join '', map { "load_module $_;\n" } split ' ', $LoadModules;
    my $master = $UseValgrind ? 'off' : $MasterProcessEnabled;
    my $user = $> == 0 ? "user root;\n" : '';
    my $env = join '', map { my $v = /\s/ ? "'$_'" : $_; "env $v;\n" }
                       @EnvToNginx;

    # Keep every temporary file inside the server root.
    my $temp = '';
    for my $t (qw(client_body proxy fastcgi scgi uwsgi)) {
        next if $http_config =~ /\b${t}_temp_path\b/;
        next if $t =~ /^(?:fastcgi|scgi|uwsgi)$/
                && ($NginxV // '') =~ /--without-http_${t}_module/;
        $temp .= "    ${t}_temp_path $ServRoot/${t}_temp;\n";
    }

    my $root = $NoRootLocation ? '' : <<"_EOC_";
        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
_EOC_
    $server_name =~ s/([\\'])/\\$1/g;

    write_file($ConfFile, <<"_EOC_");
# generated by t/lib/Test/Nginx/Util.pm for: $name
${loads}worker_processes  $Workers;
daemon off;
master_process $master;
error_log $err_log $LogLevel;
pid       $PidFile;
$user$env
$main_config

http {
    access_log $AccLogFile;
$temp
    default_type text/plain;
    keepalive_timeout  68;

$http_config

    server {
        listen          $ServerAddr:$ServerPort;
        server_name     '$server_name';
        client_max_body_size 30M;

$ConfigPreamble
        # Begin test case config...
$config
        # End test case config.

$root    }
}

$post_main

events {
    accept_mutex off;
    worker_connections  $WorkerConnections;
}
_EOC_
}

# ----------------------------------------------------------- nginx process

# Is something listening on $port?  Read from /proc so that probing does
# not open connections nginx would log.
sub port_listening ($) {
    my $hex = sprintf ':%04X', shift;
    my $seen_proc;
    for my $f ('/proc/net/tcp', '/proc/net/tcp6') {
        open my $in, '<', $f or next;
        $seen_proc = 1;
        while (<$in>) {
            my (undef, $local, undef, $st) = split " ";
            return 1 if $st && $st eq '0A' && $local =~ /\Q$hex\E$/;
        }
    }
    return 0 if $seen_proc;
    my $s = IO::Socket::INET->new(PeerAddr => $ServerAddr,
                                  PeerPort => $ServerPort, Timeout => 1);
    return $s ? 1 : 0;
}

sub valgrind_cmd {
    my @opts;
    if ($UseValgrind =~ /^\d+$/) {
        @opts = qw(--tool=memcheck --leak-check=full --show-leak-kinds=definite
                   --errors-for-leak-kinds=definite --error-exitcode=66
                   --num-callers=50 --keep-debuginfo=yes --gen-suppressions=all);
        (my $supp = $INC{'Test/Nginx/Util.pm'} // '') =~ s{Util\.pm$}{valgrind.supp};
        push @opts, "--suppressions=$supp" if -f $supp;
        push @opts, '--suppressions=valgrind.suppress' if -f 'valgrind.suppress';
    } else {
        @opts = split ' ', $UseValgrind;
    }
    return ('valgrind', '-q', "--log-file=$ValgrindLog", @opts);
}

# Start nginx ("daemon off") as our child and wait until it listens or
# exits.  Returns ('up') or ('exited', $status) or ('timeout').
sub start_nginx ($$) {
    my ($block, $valgrind) = @_;
    my $name = $block->name;
    if (port_listening($ServerPort)) {
        my $until = time + 2;
        sleep 0.02 while port_listening($ServerPort) && time < $until;
        if (port_listening($ServerPort)) {
            Test::More::fail("$name - port $ServerPort is already in use "
                             . "(set TEST_NGINX_PORT to another port)");
            return ('busy');
        }
    }
    my @cmd = ($NginxBinary, '-p', "$ServRoot/", '-c', $ConfFile);
    push @cmd, '-e', $ErrLogFile if ($NginxVersion // 0) >= 1.019005;
    unshift @cmd, valgrind_cmd() if $valgrind;
    warn "command: @cmd\n" if $Verbose;

    my $pid = fork;
    bail_out("$name - fork() failed: $!") unless defined $pid;
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', $StderrFile;
        setpgrp(0, 0);
        { no warnings 'exec'; exec { $cmd[0] } @cmd; }
        print STDERR "cannot exec $cmd[0]: $!\n";
        POSIX::_exit(127);
    }
    $ChildPid = $pid;

    my $deadline = time + ($valgrind ? 120 : 10);
    my $nap = 0.0005;
    while (1) {
        return ('exited', stop_nginx()) unless child_alive();
        return ('up') if port_listening($ServerPort);
        return ('timeout') if time > $deadline;
        sleep $nap;
        $nap *= 1.5 if $nap < 0.01;
    }
}

# Is our nginx still running?  Reaps it (keeping its status) if not.
sub child_alive () {
    return 0 unless $ChildPid;
    return 1 if waitpid($ChildPid, WNOHANG) != $ChildPid;
    ($ChildPid, $ChildStatus) = (undef, $?);
    return 0;
}

# Stop our nginx (QUIT, or TERM with TEST_NGINX_FAST_SHUTDOWN) and reap
# it ourselves.  Returns its wait status, or undef when none was running.
sub stop_nginx () {
    if (!$ChildPid) {
        my $st = $ChildStatus;
        undef $ChildStatus;
        return $st;
    }
    my $pid = $ChildPid;
    undef $ChildPid;
    kill($ENV{TEST_NGINX_FAST_SHUTDOWN} ? SIGTERM : SIGQUIT, $pid);
    my $deadline = time + ($UseValgrind ? 60 : $Timeout > 5 ? $Timeout : 5);
    my $nap = 0.0005;
    while (time < $deadline) {
        return $? if waitpid($pid, WNOHANG) == $pid;
        sleep $nap;
        $nap *= 1.5 if $nap < 0.02;
    }
    warn "nginx $pid did not exit in time; killing it\n";
    kill SIGKILL, -$pid;
    kill SIGKILL, $pid;
    waitpid($pid, 0);
    return $?;
}

sub read_file_from {
    my ($file, $pos) = @_;
    open my $in, '<', $file or return ([], $pos);
    seek $in, $pos, 0 if $pos;
    my @lines = <$in>;
    my $end = tell $in;
    close $in;
    return (\@lines, $end);
}

# nginx may still be writing the tail of a request's log lines (those
# after the connection close): wait until error.log stops growing.
sub wait_log_quiet () {
    return unless $ChildPid;
    my $last = -s $ErrLogFile // 0;
    my ($quiet, $deadline) = (0, time + ($UseValgrind ? 2 : 0.3));
    while ($quiet < 2 && time < $deadline) {
        sleep($UseValgrind ? 0.02 : 0.002);
        my $size = -s $ErrLogFile // 0;
        $quiet = $size == $last ? $quiet + 1 : 0;
        $last = $size;
    }
}

# The part of error.log not yet read in this block.
sub error_log_data () {
    wait_log_quiet();
    my ($lines, $end) = read_file_from($ErrLogFile,
                                       $CheckAccumErrLog ? 0 : $ErrLogPos);
    $ErrLogPos = $end unless $CheckAccumErrLog;
    return $lines;
}

sub access_log_data () {
    wait_log_quiet();
    return (read_file_from($AccLogFile, 0))[0];
}

# ---------------------------------------------------------------- driver

sub cleanup () {
    $_->() for @CleanupHandlers;
    stop_nginx() if $ChildPid;
}

sub run_tests () {
    # Do not leave our nginx behind when killed (Ctrl-C, a closed pipe).
    for my $sig (qw(INT TERM HUP PIPE)) {
        $SIG{$sig} = sub {
            cleanup();
            $SIG{$sig} = 'DEFAULT';
            kill $sig, $$;
        };
    }
    $NginxVersion = get_nginx_version();
    $ENV{TEST_NGINX_SERVER_PORT} //= $ServerPort;
    my @blocks = Test::Base::blocks();
    @blocks = shuffle @blocks unless $NoShuffle;
    for my $block (@blocks) {
        $_->($block) for @BlockPreprocessors;
        $block->set_value(name => "$0 " . $block->name);
        run_test($block);
        $_->($block) for @TestCleanupHandlers;
    }
    cleanup();
}

# skip_nginx / skip_eval / todo: returns ($kind, $count, $reason).
sub skip_or_todo ($) {
    my $block = shift;
    my $name = $block->name;
    if (defined(my $s = $block->skip_nginx)) {
        $s =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)\s*(?::\s*(.*?))?\s*$/
            or bail_out("$name - Invalid --- skip_nginx spec: $s");
        my ($n, $op, $v, $why) = ($1, $2, canon_version($3, $4, $5), $6);
        return ('skip', $n, $why || "nginx version $op $3.$4.$5")
            if eval "$NginxVersion $op $v";
    }
    if (defined(my $s = $block->skip_eval)) {
        if ($s =~ /^\s*(\d+)\s*:\s*(.*)/s) {
            my ($n, $code) = ($1, $2);
            my $skip = eval $code;
            bail_out("$name - skip_eval: $@") if $@;
            return ('skip', $n, 'skip_eval') if $skip;
        }
    }
    if (defined(my $t = $block->todo)) {
        $t =~ /^\s*(\d+)\s*:\s*(.*)/s
            or bail_out("$name - Invalid --- todo spec: $t");
        return ('todo', $1, $2);
    }
    return;
}

my @Unsupported = qw(tcp_listen udp_listen stap http2 http3 reload_fails);

sub run_test ($) {
    my $block = shift;
    my $name = $block->name;
    return if defined $block->SKIP;

    for my $s (@Unsupported) {
        next unless defined $block->$s;
        Test::More::fail("$name - section \"$s\" is not supported by the "
                         . "project's Test::Nginx stand-in (t/lib)");
        return;
    }

    my ($kind, $count, $reason) = skip_or_todo($block);
    if ($kind) {
        for (1 .. $RepeatEach) {
            if ($kind eq 'skip') {
                SKIP: { Test::More::skip("$name - $reason", $count) }
            } else {
                TODO: { Test::More::todo_skip("$name - $reason", $count) }
            }
        }
        return;
    }

    $RandPorts = {};
    my $config = $block->config;
    if (!defined $config) {
        defined $PrevConfig or bail_out("$name - No '--- config' section "
            . "specified and could not get previous one.");
        $config = $PrevConfig;
    } else {
        $config = $PrevConfig = expand_env_in_text($config, $name, $RandPorts);
    }
    local $LogLevel = $block->log_level || $LogLevel;

    setup_server_root();
    if (defined(my $code = $block->post_setup_server_root)) {
        eval $code;
        bail_out("$name - post_setup_server_root failed: $@") if $@;
    }
    write_user_files($block);
    write_config_file($block, $config);
    $ErrLogPos = 0;

    if (defined $block->must_die) {
        run_must_die($block);
        return;
    }

    my $valgrind = $UseValgrind && !$block->no_valgrind;
    my ($state, $status) = start_nginx($block, $valgrind);
    if ($state ne 'up') {
        return if $state eq 'busy';
        stop_nginx();
        Test::More::fail("$name - nginx failed to start ("
            . ($state eq 'exited' ? 'exit status ' . ($status >> 8)
                                    . ($status & 127 ? ", signal " . ($status & 127) : '')
                                  : 'not listening in time')
            . ")");
        Test::More::diag(startup_errors());
        return;
    }

    if (defined(my $code = $block->init)) {
        eval $code;
        bail_out("$name - init failed: $@") if $@;
    }

    for my $i (0 .. $RepeatEach - 1) {
        write_user_files($block) if $i > 0;
        $RunTestHelper->($block, 0, $i);
    }

    my $st = stop_nginx();
    check_after_stop($block, $st, $valgrind);
}

sub startup_errors {
    my $text = '';
    for my $f ($StderrFile, $ErrLogFile) {
        my ($lines) = read_file_from($f, 0);
        my @l = grep { /\[(?:emerg|alert|crit|error)\]|^nginx:|cannot exec/ } @$lines;
        $text .= join '', @l[0 .. ($#l < 19 ? $#l : 19)];
    }
    return $text eq '' ? "no error messages found in $ErrLogFile" : $text;
}

# After nginx exited: shutdown_error_log checks, valgrind, warnings.
sub check_after_stop {
    my ($block, $status, $valgrind) = @_;
    my $name = $block->name;
    my ($lines) = read_file_from($ErrLogFile, $ErrLogPos);
    $CheckShutdownErrorLog->($block, $lines);

    if (defined $status && ($status & 127) && ($status & 127) != SIGKILL) {
        Test::More::fail("$name - nginx was killed by signal " . ($status & 127));
        my ($l) = read_file_from($ErrLogFile, 0);
        Test::More::diag("last lines of error.log:\n", @$l > 10 ? @$l[-10 .. -1] : @$l);
    }
    if ($valgrind) {
        my ($vlines) = read_file_from($ValgrindLog, 0);
        my $report = join '', @$vlines;
        if ((defined $status && $status >> 8 == 66) || $report =~ /\S/) {
            my (%seen, @kinds);
            for ($report =~ /^==\d+== (\S.*)$/mg) {
                next unless /^(?:Invalid|Conditional|Use of uninit|Syscall param|Mismatched|Source and dest|Argument)/
                    || s/ bytes in [\d,]+ blocks are definitely lost.*/ bytes definitely lost/;
                push @kinds, $_ unless $seen{$_}++;
            }
            Test::More::fail("$name - valgrind found memory errors: "
                             . (join('; ', @kinds) || 'see its report'));
            $report = substr($report, 0, 20000) . "\n[...]\n" if length $report > 20000;
            Test::More::diag($report);
        }
    }

    # Like the real one: warn about alerts the block did not ask for.
    my $asked = join "\n", map { ref $_ eq 'ARRAY' ? @$_ : $_ }
                            grep { defined } $block->error_log, $block->no_error_log;
    my ($all) = read_file_from($ErrLogFile, 0);
    for my $line (@$all) {
        next unless $line =~ /\[(alert|crit|emerg)\]/ && index($asked, "[$1") < 0;
        chomp(my $l = $line);
        warn "WARNING: $name - $l\n";
    }
}

sub run_must_die ($) {
    my $block = shift;
    my $name = $block->name;
    my $must_die = $block->must_die;
    for my $i (0 .. $RepeatEach - 1) {
        my ($state, $status) = start_nginx($block, 0);
        return if $state eq 'busy';
        if ($state eq 'up') {
            # A module may still fail after the sockets are open.
            my $until = time + 0.2;
            while (time < $until) {
                if (!child_alive()) {
                    ($state, $status) = ('exited', stop_nginx());
                    last;
                }
                sleep 0.005;
            }
        }
        my $exit = $state eq 'exited' ? $status >> 8 : 0;
        if ($state eq 'exited' && $status == 127 << 8) {
            Test::More::fail("$name - failed to execute the nginx command line");
        } elsif ($state eq 'exited' && ($status & 128)) {
            Test::More::fail("$name - nginx core dumped");
        } elsif ($must_die =~ /^\s*\d+\s*$/) {
            Test::More::is($must_die + 0, $exit, "$name - die with the expected exit code");
        } else {
            Test::More::isnt($state eq 'exited' ? $status : 0, 0,
                             "$name - die as expected");
        }
        # The startup error goes to stderr and (with -e) to error.log.
        my ($lines, $end) = read_file_from($ErrLogFile, $ErrLogPos);
        $ErrLogPos = $end;
        my ($err) = read_file_from($StderrFile, 0);
        local $Test::Nginx::Util::MustDieLines = [@$lines, @$err];
        $CheckErrorLog->($block, undef, 0, $i, 0);
        if ($ChildPid) {
            warn "WARNING: $name - nginx must die but it does not; killing it\n";
            stop_nginx();
        }
    }
}
our $MustDieLines;

END {
    local $?;
    stop_nginx() if $ChildPid;
}

1;
