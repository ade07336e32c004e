#!/usr/bin/perl
# Turn bench/run's raw results into the summary table.
#
#   table.pl RESULTS_TSV META_TSV CLK_TCK
#
# RESULTS_TSV: name round requests duration_us p50_us p99_us status connect
#              read write timeout worker_cpu_ticks     (one line per wrk run)
# META_TSV:    name baseline peer errors_ok note speed ("-" for empty fields)
#              speed: "ALG COLUMN RATE", the openssl speed rate of the one
#              operation the scenario adds to its baseline on each request
#
# Every column is the median over the rounds; "ratio" and "+us" compare with
# the baseline measured in the same round, then take the median of those.
# Exits 1 if any run saw unexpected 4xx/5xx responses or socket errors.
use strict;
use warnings;
use List::Util qw(min max sum);

my ($results, $meta, $hz) = @ARGV;
my (%run, @order, %m);
open my $mf, '<', $meta or die "$meta: $!\n";
while (<$mf>) {
    chomp;
    my ($n, $base, $peer, $errors_ok, $note, $speed) = split /\t/;
    push @order, $n;
    $m{$n} = { base => $base, peer => $peer, errors_ok => $errors_ok, note => $note,
               speed => $speed // '-' };
}
open my $rf, '<', $results or die "$results: $!\n";
while (<$rf>) {
    chomp;
    my ($n, $r, $req, $dur, $p50, $p99, $st, @rest) = split /\t/;
    my $ticks = pop @rest;
    my $sec = $dur / 1e6;
    $run{$n}{$r} = {
        rps  => $req / $sec,
        p50  => $p50, p99 => $p99,
        st   => $st, sock => sum(@rest),
        cpu  => 100 * $ticks / $hz / $sec,
        usrq => $req ? 1e6 * $ticks / $hz / $req : 0,
    };
}

sub median {
    my @v = sort { $a <=> $b } @_;
    return undef unless @v;
    return @v % 2 ? $v[$#v / 2] : ($v[@v / 2 - 1] + $v[@v / 2]) / 2;
}
sub col { my ($n, $k) = @_; median(map { $_->{$k} } values %{ $run{$n} }) }
sub paired {    # median over rounds of f(scenario run, other run)
    my ($n, $o, $f) = @_;
    median(map { $f->($run{$n}{$_}, $run{$o}{$_}) }
           grep { $run{$o}{$_} } keys %{ $run{$n} });
}
sub lat {
    my $us = shift;
    return $us >= 10000 ? sprintf('%.0fms', $us / 1000)
         : $us >= 1000  ? sprintf('%.2fms', $us / 1000)
         :                sprintf('%dus', $us);
}

my @hdr = ('scenario', 'vs', 'req/s', '+-', 'ratio', 'p50', 'p99',
           'cpu%', 'us/req', '+us', '4xx/5xx', 'sockerr', 'note');
my @rows;
my $bad = 0;
for my $n (@order) {
    my $mm = $m{$n};
    my $base = $mm->{base} eq '-' ? '' : $mm->{base};
    my @note = $mm->{note} eq '-' ? () : ($mm->{note});
    unless ($run{$n}) {
        push @rows, [$n, $base, ('') x 10, join('; ', @note)];
        next;
    }
    my $rps = col($n, 'rps');
    my @all = map { $_->{rps} } values %{ $run{$n} };
    my $spread = $rps ? 50 * (max(@all) - min(@all)) / $rps : 0;
    my ($ratio, $dus) = ('', '');
    if ($base && $run{$base}) {
        $ratio = sprintf '%.2f', paired($n, $base, sub { $_[1]{rps} ? $_[0]{rps} / $_[1]{rps} : 0 });
        $dus = sprintf '%+.1f', paired($n, $base, sub { $_[0]{usrq} - $_[1]{usrq} });
    }
    my $peer = $mm->{peer};
    if ($peer ne '-' && $run{$peer}) {
        push @note, sprintf '%.2fx vs %s', paired($n, $peer, sub { $_[1]{rps} ? $_[0]{rps} / $_[1]{rps} : 0 }), $peer;
    }
    # The best the scenario can do if the baseline's work and the one
    # operation were all it cost: 1 / (1 / baseline + 1 / operations),
    # in req/s and in the worker's CPU time a request
    if ($mm->{speed} ne '-' && $base && $run{$base}) {
        my ($alg, $column, $ops) = split / /, $mm->{speed};
        push @note, sprintf '%.2f of 1/(1/%s + 1/%s %s %.0f/s) (%.2f in CPU time)', paired($n, $base, sub {
            $_[0]{rps} * (1 / $_[1]{rps} + 1 / $ops) }), $base, $alg, $column, $ops, paired($n, $base, sub {
            $_[0]{usrq} ? ($_[1]{usrq} + 1e6 / $ops) / $_[0]{usrq} : 0 });
    }
    my $st   = sum(map { $_->{st} } values %{ $run{$n} });
    my $sock = sum(map { $_->{sock} } values %{ $run{$n} });
    my $st_s = $st;
    if ($st && !$mm->{errors_ok}) { $st_s .= '!'; $bad = 1; push @note, 'UNEXPECTED 4xx/5xx' }
    if ($sock) { $sock .= '!'; $bad = 1; push @note, 'SOCKET ERRORS' }
    push @rows, [$n, $base, sprintf('%.0f', $rps), sprintf('%.0f%%', $spread), $ratio,
                 lat(col($n, 'p50')), lat(col($n, 'p99')), sprintf('%.0f', col($n, 'cpu')),
                 sprintf('%.2f', col($n, 'usrq')), $dus, $st_s, $sock, join('; ', @note)];
}

my @w = map { length } @hdr;
for my $r (@rows) { $w[$_] = max($w[$_], length $r->[$_]) for 0 .. $#hdr - 1 }
for my $r (\@hdr, @rows) {
    my @c = map { $_ < 2 ? sprintf('%-*s', $w[$_], $r->[$_]) : sprintf('%*s', $w[$_], $r->[$_]) } 0 .. $#hdr - 1;
    (my $line = join('  ', @c, $r->[-1])) =~ s/\s+$//;
    print "$line\n";
}
exit $bad;
