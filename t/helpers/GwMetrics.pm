package GwMetrics;

# What the metrics tests do with the text gateway_metrics serves: keep the
# lines of some metrics, and ask promtool whether the whole text is valid.

use strict;
use warnings;

use File::Temp ();

use Exporter 'import';
our @EXPORT_OK = qw(families promtool);

# a filter keeping the sample lines of the named metrics, in order
sub families {
    my $re = join '|', map { quotemeta } @_;
    return sub {
        join '', grep { /^(?:$re)[{ ]/ } split /^/m, shift;
    };
}

# "promtool exit N" and what it printed
sub promtool {
    my $text = shift;
    my ($fh, $file) = File::Temp::tempfile();
    print $fh $text;
    close $fh;
    my $out = `promtool check metrics <$file 2>&1`;
    my $rc = $? >> 8;
    unlink $file;
    return "promtool exit $rc\n$out";
}

1;
