# bench/run's "# openssl-speed: ALG COLUMN": the rate read from openssl
# speed's output (bench/lib/speed-rate.pl), for the layouts of OpenSSL 3.0
# and of 3.2 and later, and the note bench/lib/table.pl writes from it:
# the ratio to 1 / (1 / baseline + 1 / rate), in req/s and in CPU time.
# No nginx is started.

use strict;
use warnings;
use Test::More;
use FindBin;
use File::Spec;
use File::Temp qw(tempdir);
use IPC::Open2;

my $bench = File::Spec->rel2abs("$FindBin::Bin/../../bench");
my $dir = tempdir(CLEANUP => 1);

sub run {
    my ($stdin, @cmd) = @_;
    my $pid = open2(my $out, my $in, $^X, @cmd);
    print $in $stdin;
    close $in;
    local $/;
    my $text = <$out> // '';
    waitpid $pid, 0;
    return ($? >> 8, $text);
}

my $v30 = <<'OUT';
version: 3.0.19
built on: Mon Jan 27 00:00:00 2026 UTC
options: bn(64,64)
                  sign    verify    sign/s verify/s
rsa 2048 bits 0.000254s 0.000016s   3936.5  63908.2
OUT

my $v32 = <<'OUT';
version: 3.5.1
                               sign    verify    encrypt   decrypt   sign/s verify/s  encr./s  decr./s
rsa   2048 bits 0.000632s 0.000018s 0.000019s 0.000628s   1582.3  54383.8  52068.2   1591.3
OUT

my $speed = "$bench/lib/speed-rate.pl";

is_deeply([run($v30, $speed, 'sign')], [0, "3936.5\n"], '3.0: sign/s');
is_deeply([run($v30, $speed, 'verify')], [0, "63908.2\n"], '3.0: verify/s');
is_deeply([run($v32, $speed, 'sign')], [0, "1582.3\n"], '3.2: sign/s');
is_deeply([run($v32, $speed, 'verify')], [0, "54383.8\n"], '3.2: verify/s');
is_deeply([run($v30, $speed, 'decrypt')], [1, ''],
          'a column the output lacks: exit 1, nothing printed');
is_deeply([run("Error: unknown algorithm\n", $speed, 'sign')], [1, ''],
          'no table at all: exit 1');

# table.pl: the static file at 100,000 req/s, 10 us of the worker's CPU a
# request (100 ticks of 10 ms for 100,000 requests in a second); the
# scenario at 3,000 req/s and 300 us (90 ticks); 4,000 operations a second
# make the bound 1 / (1 / 100000 + 1 / 4000) = 3,846 req/s (0.78 of it)
# and 10 + 250 us a request in CPU time (260 / 300 = 0.87)

sub write_file {
    my ($name, $text) = @_;
    open my $fh, '>', "$dir/$name" or die "$dir/$name: $!";
    print $fh $text;
    close $fh;
    return "$dir/$name";
}

my $results = write_file('results.tsv', join '',
    map { join("\t", @$_) . "\n" }
    [qw(static 1 100000 1000000 300 900 0 0 0 0 0 100)],
    [qw(rsa 1 3000 1000000 9000 20000 0 0 0 0 0 90)]);

my $table = sub {
    my $meta = write_file('meta.tsv', shift);
    my ($rc, $text) = run('', "$bench/lib/table.pl", $results, $meta, 100);
    my ($row) = grep { /^rsa / } split /\n/, $text;
    return ($rc, $row // '');
};

my ($rc, $row) = $table->("static\t-\t-\t0\t-\t-\n"
                          . "rsa\tstatic\t-\t0\t-\trsa2048 sign 4000\n");
is($rc, 0, 'table: exit 0');
like($row, qr{  0\.78 of 1/\(1/static \+ 1/rsa2048 sign 4000/s\) \(0\.87 in CPU time\)$},
     'table: the note gives the ratio to the bound');
like($row, qr{\s0\.03\s}, 'table: the ratio to the baseline is still there');

($rc, $row) = $table->("static\t-\t-\t0\t-\t-\n"
                       . "rsa\tstatic\t-\t0\t-\t-\n");
unlike($row, qr{ of 1/}, 'table: no openssl-speed, no bound');

done_testing;
