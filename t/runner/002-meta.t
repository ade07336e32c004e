# Proves that the project's Test::Nginx stand-in (t/lib) fails when it
# should: runs the deliberately wrong test files in t/data/runner/ as
# subprocesses and checks that each one fails, naming the failing check.
# t/data/runner/pass.t.txt must pass, so the harness is not always failing.

use strict;
use warnings;
use Test::More;
use Cwd qw(abs_path);
use File::Spec;
use IO::Socket::INET;
use POSIX ();

my $lib = abs_path('t/lib');
my $ours = abs_path("$lib/Test/Nginx/Socket.pm");

# Which Test::Nginx::Socket would a .t file load?  Only test ours.
my ($found) = grep { -f } map { "$_/Test/Nginx/Socket.pm" }
                              grep { !ref } @INC;
plan skip_all => 'the real Test::Nginx is in use, not the runner in t/lib'
    unless $found && abs_path($found) eq $ours;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;
my %env = (
    PERL5LIB => join(':', $lib, grep { defined && length } $ENV{PERL5LIB}),
    TEST_NGINX_SERVROOT => File::Spec->rel2abs('t/servroot_meta'),
    TEST_NGINX_BINARY => $ENV{TEST_NGINX_BINARY} || 'nginx',
    TEST_NGINX_SERVER_PORT => $port,
);

# Runs one fixture with perl; returns (exit code, stdout + stderr).
sub run_fixture {
    my $file = shift;
    pipe my $r, my $w or die "pipe: $!";
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        close $r;
        open STDOUT, '>&', $w or POSIX::_exit(126);
        open STDERR, '>&', $w or POSIX::_exit(126);
        open STDIN, '<', '/dev/null';
        @ENV{keys %env} = values %env;
        delete @ENV{qw(TEST_NGINX_USE_VALGRIND TEST_NGINX_LOAD_MODULES)};
        { no warnings "exec"; exec $^X, $file; }
        POSIX::_exit(127);
    }
    close $w;
    my $out = do { local $/; <$r> } // '';
    close $r;
    waitpid $pid, 0;
    return ($? >> 8, $out);
}

sub port_free {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Timeout => 1);
    return !$s;
}

my $dir = 't/data/runner';

# fixture => what the failing check's name contains
my %must_fail = (
    'fail-status.t.txt'       => qr/^not ok \d+ - .*TEST 1: .* - status code ok$/m,
    'fail-header.t.txt'       => [qr/^not ok \d+ - .*TEST 1: .* - header X-Foo ok$/m,
                                  qr/^not ok \d+ - .*TEST 2: .* - header X-Present not present in the raw headers$/m],
    'fail-body.t.txt'         => [qr/^not ok \d+ - .*TEST 1: .* - response_body - response is expected/m,
                                  qr/^#\s+-line 2\n#\s+\+line two$/m],
    'fail-error-log.t.txt'    => qr/^not ok \d+ - .* - pattern "this line is never logged" should match a line in error\.log/m,
    'fail-no-error-log.t.txt' => qr/^not ok \d+ - .* - pattern "\[error\]" should not match any line in error\.log but matches line ".*access forbidden by rule/m,
    'fail-must-die.t.txt'     => qr/^not ok \d+ - .*TEST 1: .* - die as expected$/m,
    'fail-start.t.txt'        => [qr/^not ok \d+ - .*TEST 1: .* - nginx failed to start/m,
                                  qr/^#.*\[emerg\] unknown directive "bogus_directive"/m],
    'fail-body-like.t.txt'    => qr/^not ok \d+ - .*TEST 1: .* - response_body_like - response is expected/m,
    'fail-timeout.t.txt'      => qr/^not ok \d+ - ERROR: client socket timed out - .*TEST 1: /m,
);

for my $f (sort keys %must_fail) {
    my ($rc, $out) = run_fixture("$dir/$f");
    isnt($rc, 0, "$f: exits non-zero") or diag($out);
    my $pats = $must_fail{$f};
    for my $p (ref $pats eq 'ARRAY' ? @$pats : $pats) {
        like($out, $p, "$f: output names the failing check") or diag($out);
    }
    ok(port_free(), "$f: no nginx left listening on port $port");
}

{
    my ($rc, $out) = run_fixture("$dir/pass.t.txt");
    is($rc, 0, 'pass.t.txt: exits zero') or diag($out);
    unlike($out, qr/^not ok/m, 'pass.t.txt: no failing test');
    my $n = () = $out =~ /^ok \d+ - /mg;
    is($n, 8, 'pass.t.txt: ran all its checks') or diag($out);
    ok(port_free(), "pass.t.txt: no nginx left listening on port $port");
}

done_testing();
