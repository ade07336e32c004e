#!/usr/bin/perl

# The tables, plots and shapes of bench/scaling/run, from its raw.tsv:
#
#   report.pl RAW RUNS RESULTS_DIR HZ
#
# raw.tsv: curve x scenario role requests duration_us p50_us p99_us ticks
# rss_kb hwm_kb shm_kb extra, a line per scenario and round; role is
# "point" or "base" (the point's baseline, measured in the same run).
# RUNS: curve date load machine nginx rounds, a line per curve, for when
# and where its rows were measured.
# Writes RESULTS_DIR/<curve>.tsv, <curve>.gp and <curve>.png (gnuplot),
# and README.md with every table and the shape of each curve: the slope of
# its cost against its work on a log-log scale, read as flat, sublinear,
# linear or worse.

use strict;
use warnings;
use POSIX qw(floor);

my ($raw, $runs_tsv, $dir, $hz) = @ARGV;
die "usage: $0 RAW RUNS DIR HZ\n" unless defined $hz;

my (%rows, %run);
my @order = qw(json-size json-kept rate-local rate-redis api-keys jwt
               agg-parts agg-size);

open my $rh, '<', $runs_tsv or die "$runs_tsv: $!\n";
while (<$rh>) {
    chomp;
    my ($curve, @f) = split /\t/;
    $run{$curve} = \@f;
}
close $rh;

open my $fh, '<', $raw or die "$raw: $!\n";
while (<$fh>) {
    chomp;
    my ($curve, $x, $name, $role, $req, $dur, $p50, $p99, $ticks, $rss,
        $hwm, $shm, $extra) = split /\t/;
    push @{ $rows{$curve}{$x}{$role} }, {
        rps   => $req / ($dur / 1e6),
        us    => $req ? $ticks / $hz * 1e6 / $req : 0,
        p50   => $p50 / 1000,
        p99   => $p99 / 1000,
        rss   => $rss / 1024,
        hwm   => $hwm / 1024,
        shm   => $shm / 1024,
        extra => $extra // '',
    };
}
close $fh;

sub median {
    my @v = sort { $a <=> $b } @_;
    return 0 unless @v;
    return @v % 2 ? $v[$#v / 2] : ($v[@v / 2 - 1] + $v[@v / 2]) / 2;
}

# the medians of a point's rounds, and of its baseline's
sub stat_of {
    my ($curve, $x) = @_;
    my (%s, %b);
    for my $k (qw(rps us p50 p99 rss hwm shm)) {
        $s{$k} = median(map { $_->{$k} } @{ $rows{$curve}{$x}{point} });
        $b{$k} = median(map { $_->{$k} } @{ $rows{$curve}{$x}{base} || [] });
    }
    $s{extra} = $rows{$curve}{$x}{point}[0]{extra};
    $s{base} = \%b;
    $s{plus} = $s{us} - $b{us};
    $s{ratio} = $b{rps} ? $s{rps} / $b{rps} : 0;
    return \%s;
}

sub slope {
    my ($x0, $y0, $x1, $y1) = @_;
    return undef if $x0 <= 0 || $x1 <= 0 || $y0 <= 0 || $y1 <= 0 || $x0 == $x1;
    return log($y1 / $y0) / log($x1 / $x0);
}

# flat: within 15% over the whole range, or a log-log slope under 0.1;
# linear: a + b x fits (R^2 of 0.95 or more) and the last step costs no
# more per x than twice the average; else the log-log slope says how it
# grows
sub shape {
    my ($what, $xs, $ys) = @_;
    my $n = @$xs;
    return "$what: not enough data" if $n < 2;

    my ($x0, $y0, $x1, $y1) = ($xs->[0], $ys->[0], $xs->[-1], $ys->[-1]);
    my $e = slope($x0, $y0, $x1, $y1);
    my $exp = defined $e ? sprintf(", x^%.2f", $e) : "";

    return sprintf("%s flat (%s to %s%s)", $what, num($y0), num($y1), $exp)
        if ($y0 > 0 && abs($y1 - $y0) / $y0 < 0.15)
           || (defined $e && abs($e) < 0.1);

    my ($sx, $sy, $sxx, $sxy) = (0, 0, 0, 0);
    for my $i (0 .. $n - 1) {
        $sx += $xs->[$i]; $sy += $ys->[$i];
        $sxx += $xs->[$i] ** 2; $sxy += $xs->[$i] * $ys->[$i];
    }
    my $d = $n * $sxx - $sx ** 2;
    my $b = $d ? ($n * $sxy - $sx * $sy) / $d : 0;
    my $a = ($sy - $b * $sx) / $n;
    my ($ss, $st, $mean) = (0, 0, $sy / $n);
    for my $i (0 .. $n - 1) {
        $ss += ($ys->[$i] - $a - $b * $xs->[$i]) ** 2;
        $st += ($ys->[$i] - $mean) ** 2;
    }
    my $r2 = $st ? 1 - $ss / $st : 1;
    my $last = ($ys->[-1] - $ys->[-2]) / (($xs->[-1] - $xs->[-2]) || 1);

    if ($r2 >= 0.95 && $b > 0 && $last <= 2 * $b) {
        return sprintf("%s linear: %s + %s per unit (R^2 %.2f%s)",
                       $what, num($a), num($b), $r2, $exp);
    }

    return "$what: not enough data" unless defined $e;
    return "$what falls (x^" . sprintf("%.2f", $e) . ")" if $e < -0.1;
    return "$what sublinear (x^" . sprintf("%.2f", $e) . ")" if $e < 0.85;
    return "$what linear (x^" . sprintf("%.2f", $e) . ")" if $e < 1.15;
    return "$what worse than linear (x^" . sprintf("%.2f", $e) . ")";
}

sub num {
    my $v = shift;
    return sprintf("%.3g", $v);
}

sub fmt {
    my ($v, $d) = @_;
    return sprintf "%.${d}f", $v;
}

# curve: title, x label, log x, the columns, and what its shape is read on
my %spec = (
    'json-size' => {
        title => 'JSON trimming (json_fields "id,price", 22% kept) vs document size',
        xlabel => 'document size (bytes)', logx => 1,
        cols => [
            [ 'bytes', sub { $_[1] } ],
            [ 'req/s', sub { fmt($_[0]{rps}, 1) } ],
            [ 'MB/s of input', sub { fmt($_[0]{rps} * $_[1] / 1e6, 0) } ],
            [ 'CPU ns/byte', sub { fmt($_[0]{us} * 1000 / $_[1], 2) } ],
            [ 'untouched MB/s', sub { fmt($_[0]{base}{rps} * $_[1] / 1e6, 0) } ],
            [ 'p99 ms', sub { fmt($_[0]{p99}, 1) } ],
            [ 'worker peak MB', sub { fmt($_[0]{hwm}, 1) } ],
        ],
        plot => [ [ 3, 'MB/s of input', 'y1' ], [ 7, 'worker peak RSS (MB)', 'y2' ] ],
        y1 => 'MB/s', y2 => 'MB',
        shapes => [ [ 'CPU per request vs size:', 'us' ],
                    [ 'worker peak memory vs size:', 'hwm' ] ],
    },
    'json-kept' => {
        title => 'JSON trimming of the 1 MB catalogue vs fraction kept',
        xlabel => 'bytes kept (%)', logx => 0,
        cols => [
            [ 'kept %', sub { $_[1] } ],
            [ 'req/s', sub { fmt($_[0]{rps}, 0) } ],
            [ 'CPU us/req', sub { fmt($_[0]{us}, 0) } ],
            [ 'ratio to untouched', sub { fmt($_[0]{ratio}, 2) } ],
            [ 'p99 ms', sub { fmt($_[0]{p99}, 1) } ],
            [ 'worker peak MB', sub { fmt($_[0]{hwm}, 1) } ],
        ],
        plot => [ [ 3, 'CPU us per request', 'y1' ] ],
        y1 => 'us',
        shapes => [ [ 'CPU per request vs fraction kept:', 'us' ] ],
    },
    'rate-local' => {
        title => 'rate_limit, local zone, vs live keys',
        xlabel => 'live keys', logx => 1,
        cols => [
            [ 'keys', sub { $_[1] } ],
            [ 'req/s', sub { fmt($_[0]{rps}, 0) } ],
            [ 'ratio to static', sub { fmt($_[0]{ratio}, 2) } ],
            [ 'CPU us/req', sub { fmt($_[0]{us}, 2) } ],
            [ '+us', sub { fmt($_[0]{plus}, 2) } ],
            [ 'zone MB touched', sub { fmt($_[0]{shm}, 1) } ],
        ],
        plot => [ [ 2, 'req/s', 'y1' ], [ 6, 'zone MB touched', 'y2' ] ],
        y1 => 'req/s', y2 => 'MB',
        shapes => [ [ 'CPU per request vs keys:', 'us' ],
                    [ 'zone memory vs keys:', 'shm' ] ],
    },
    'rate-redis' => {
        title => 'rate_limit, buckets in Redis, vs live keys',
        xlabel => 'live keys', logx => 1,
        cols => [
            [ 'keys', sub { $_[1] } ],
            [ 'req/s', sub { fmt($_[0]{rps}, 0) } ],
            [ 'ratio to static', sub { fmt($_[0]{ratio}, 2) } ],
            [ 'CPU us/req', sub { fmt($_[0]{us}, 2) } ],
            [ 'p99 ms', sub { fmt($_[0]{p99}, 2) } ],
            [ 'Redis MB', sub { fmt(($_[0]{extra} || 0) / 1048576, 1) } ],
        ],
        plot => [ [ 2, 'req/s', 'y1' ], [ 6, 'Redis used_memory (MB)', 'y2' ] ],
        y1 => 'req/s', y2 => 'MB',
        shapes => [ [ 'CPU per request vs keys:', 'us' ],
                    [ 'Redis memory vs keys:', 'extra' ] ],
    },
    'api-keys' => {
        title => 'auth_api_key vs key-table size',
        xlabel => 'keys in the file', logx => 1,
        cols => [
            [ 'keys', sub { $_[1] } ],
            [ 'req/s', sub { fmt($_[0]{rps}, 0) } ],
            [ 'ratio to static', sub { fmt($_[0]{ratio}, 2) } ],
            [ '+us per lookup', sub { fmt($_[0]{plus}, 2) } ],
            [ 'load s (nginx -t)', sub { $_[0]{extra} } ],
            [ 'worker RSS MB', sub { fmt($_[0]{rss}, 1) } ],
        ],
        plot => [ [ 4, '+us per lookup', 'y1' ], [ 6, 'worker RSS (MB)', 'y2' ] ],
        y1 => 'us', y2 => 'MB',
        shapes => [ [ 'lookup cost vs keys:', 'us' ],
                    [ 'load time vs keys:', 'extra' ],
                    [ 'worker memory vs keys:', 'rss' ] ],
    },
    'jwt' => {
        title => 'auth_jwt RS256 vs distinct tokens (verified cache: 1024)',
        xlabel => 'distinct tokens in turn', logx => 1,
        cols => [
            [ 'tokens', sub { $_[1] } ],
            [ 'req/s', sub { fmt($_[0]{rps}, 0) } ],
            [ 'ratio to static', sub { fmt($_[0]{ratio}, 2) } ],
            [ 'CPU us/req', sub { fmt($_[0]{us}, 1) } ],
            [ '+us', sub { fmt($_[0]{plus}, 1) } ],
        ],
        plot => [ [ 4, 'CPU us per request', 'y1' ] ],
        y1 => 'us',
        shapes => [ [ 'CPU per request vs tokens, up to the cache size:', 'us', 1024 ],
                    [ 'CPU per request vs tokens, past it:', 'us', -1536 ] ],
    },
    'agg-parts' => {
        title => 'aggregation vs number of parts (each a 37-byte return)',
        xlabel => 'parts', logx => 1,
        cols => [
            [ 'parts', sub { $_[1] } ],
            [ 'req/s', sub { fmt($_[0]{rps}, 0) } ],
            [ 'p50 ms', sub { fmt($_[0]{p50}, 2) } ],
            [ 'p99 ms', sub { fmt($_[0]{p99}, 2) } ],
            [ 'CPU us/req', sub { fmt($_[0]{us}, 1) } ],
            [ 'us per part', sub { fmt($_[0]{plus} / $_[1], 2) } ],
        ],
        plot => [ [ 2, 'req/s', 'y1' ], [ 5, 'CPU us per request', 'y2' ] ],
        y1 => 'req/s', y2 => 'us',
        shapes => [ [ 'CPU per request vs parts:', 'us' ] ],
    },
    'agg-size' => {
        title => 'aggregation of 3 parts (static files) vs part size',
        xlabel => 'part size (bytes)', logx => 1,
        cols => [
            [ 'bytes', sub { $_[1] } ],
            [ 'req/s', sub { fmt($_[0]{rps}, 0) } ],
            [ 'p50 ms', sub { fmt($_[0]{p50}, 2) } ],
            [ 'p99 ms', sub { fmt($_[0]{p99}, 2) } ],
            [ 'CPU us/req', sub { fmt($_[0]{us}, 1) } ],
            [ 'ns per part byte', sub { fmt($_[0]{plus} * 1000 / 3 / $_[1], 2) } ],
        ],
        plot => [ [ 2, 'req/s', 'y1' ], [ 5, 'CPU us per request', 'y2' ] ],
        y1 => 'req/s', y2 => 'us',
        shapes => [ [ 'CPU per request vs part size:', 'us' ] ],
    },
);

my @md = (
    "# Scaling curves",
    "",
    "How each cost grows with its work, made by `make bench-scaling`",
    "(bench/scaling/run): one nginx worker on CPU 0, wrk on CPU 1, every",
    "point a fresh nginx with the point and its baseline measured",
    "interleaved. Absolute numbers depend on the machine and its load (each",
    "curve says when, on what and under which load average it was",
    "measured); the shapes are the result. A shape is the slope of the cost",
    "against the work on a log-log scale, between the first and the last",
    "point (x^1: linear; x^0: flat). The measured rows are in",
    "[raw.tsv](raw.tsv), the runs in [runs.tsv](runs.tsv).",
    "",
);

for my $curve (@order) {
    my $sp = $spec{$curve} or next;
    next unless $rows{$curve};
    my @xs = sort { $a <=> $b } keys %{ $rows{$curve} };
    my @st = map { stat_of($curve, $_) } @xs;

    open my $tsv, '>', "$dir/$curve.tsv" or die "$dir/$curve.tsv: $!\n";
    print $tsv "# ", join("\t", map { $_->[0] } @{ $sp->{cols} }), "\n";
    for my $i (0 .. $#xs) {
        print $tsv join("\t", map { $_->[1]->($st[$i], $xs[$i]) } @{ $sp->{cols} }), "\n";
    }
    close $tsv;

    # gnuplot, run in DIR: the columns named in plot, against the first
    open my $gp, '>', "$dir/$curve.gp" or die "$dir/$curve.gp: $!\n";
    print $gp "set terminal png size 900,540\n";
    print $gp "set output '$curve.png'\n";
    print $gp "set title '$sp->{title}' noenhanced\n";
    print $gp "set xlabel '$sp->{xlabel}'\n";
    print $gp "set logscale x\n" if $sp->{logx};
    print $gp "set ylabel '$sp->{y1}'\nset yrange [0:*]\n";
    if ($sp->{y2}) {
        print $gp "set y2label '$sp->{y2}'\nset y2range [0:*]\nset y2tics\nset ytics nomirror\n";
    }
    print $gp "set key outside bottom center horizontal\nset grid\n";
    print $gp "plot ", join(", ", map {
        "'$curve.tsv' using 1:$_->[0] with linespoints lw 2 title '$_->[1]' axes x1$_->[2]"
    } @{ $sp->{plot} }), "\n";
    close $gp;

    system('sh', '-c', 'cd "$1" && gnuplot "$2"', 'gnuplot', $dir,
           "$curve.gp") == 0
        or warn "gnuplot failed for $curve\n";

    # the shapes
    my @lines;
    for my $sh (@{ $sp->{shapes} }) {
        my ($what, $key, $limit) = @$sh;
        my @i = (0 .. $#xs);
        @i = grep { $xs[$_] <= $limit } @i if $limit && $limit > 0;
        @i = grep { $xs[$_] >= -$limit } @i if $limit && $limit < 0;
        push @lines, shape($what, [ map { $xs[$_] } @i ],
                           [ map { $st[$_]{$key} } @i ]);
    }

    my $r = $run{$curve} || [ ('?') x 5 ];
    push @md, "## $sp->{title}", "",
         "Measured $r->[0] on $r->[2], load average $r->[1] at the start;",
         "$r->[3], $r->[4] round(s) a point.", "",
         "![$curve]($curve.png)", "";
    push @md, "| " . join(" | ", map { $_->[0] } @{ $sp->{cols} }) . " |";
    push @md, "|" . ("---|" x @{ $sp->{cols} });
    for my $i (0 .. $#xs) {
        push @md, "| " . join(" | ", map { $_->[1]->($st[$i], $xs[$i]) } @{ $sp->{cols} }) . " |";
    }
    push @md, "", map({ "- $_" } @lines), "",
         "Data: [$curve.tsv]($curve.tsv).", "";
    print "$curve: ", join("; ", @lines), "\n";
}

open my $out, '>', "$dir/README.md" or die "$dir/README.md: $!\n";
print $out join("\n", @md), "\n";
close $out;
