# The module pages against the code: every directive of a module's
# ngx_command_t array has a "### name" heading (several names may share
# one, separated by commas) and a "Syntax: name" line on docs/<module>.md,
# every heading under "## Directives" names a directive the code has,
# and every variable of its ngx_http_variable_t array appears as $name.
# Then the links between README.md, docs/ and bench/: each relative link
# leads to a file that exists, and each #anchor to a heading of its page.
# No nginx is started.

use strict;
use warnings;
use Test::More;
use FindBin;
use File::Basename qw(dirname);
use File::Spec;

my $root = File::Spec->rel2abs("$FindBin::Bin/../..");

sub slurp {
    my ($path) = @_;

    open my $fh, '<', $path or die "$path: $!";
    local $/;
    return scalar <$fh>;
}

# The strings of ngx_string("...") between "<name>_<what>[] = {" and the
# array's terminator, in every .c file of the module.

sub array_names {
    my ($dir, $what, $end) = @_;

    my @names;

    for my $file (sort glob "$dir/*.c") {
        my $c = slurp($file);

        while ($c =~ /\b\w+_\Q$what\E\[\]\s*=\s*\{(.*?)\b\Q$end\E\b/sg) {
            my $array = $1;
            push @names, $array =~ /\{\s*ngx_string\("([^"]+)"\)/g;
        }
    }

    return @names;
}

# Markdown without its fenced code blocks, whose "# comment" lines are not
# headings and whose brackets are not links.

sub prose {
    my ($md) = @_;

    $md =~ s/^(```|~~~).*?^\1[^\n]*$//msg;
    return $md;
}

sub headings {
    my ($md) = @_;

    return prose($md) =~ /^(#{1,6} .+?)\s*$/mg;
}

# GitHub's anchor for a heading: lower case, punctuation but "-" and "_"
# dropped, spaces made hyphens; a repeated one gets -1, -2, ...

sub anchors {
    my ($md) = @_;

    my (%seen, %anchors);

    for my $h (headings($md)) {
        (my $text = $h) =~ s/^#+ //;
        my $a = lc $text;
        $a =~ s/[^\w\- ]//g;
        $a =~ tr/ /-/;
        my $n = $seen{$a}++;
        $anchors{$n ? "$a-$n" : $a} = 1;
    }

    return \%anchors;
}

# The directive names of a page's "### " headings, and of those under its
# "## Directives" section alone.

sub documented {
    my ($md) = @_;

    my (%all, %section, $in);

    for my $h (headings($md)) {
        if ($h =~ /^## (.*)/) {
            $in = ($1 eq 'Directives');
            next;
        }

        next unless $h =~ /^### (.*)/;

        for my $name (split /,/, $1) {
            $name =~ s/\(.*?\)//g;
            $name =~ s/[`\s]//g;
            next unless length $name;
            $all{$name} = 1;
            $section{$name} = 1 if $in;
        }
    }

    return (\%all, \%section);
}

sub missing_directives {
    my ($md, @directives) = @_;

    my ($all) = documented($md);
    my %syntax = map { $_ => 1 } $md =~ /^\s+Syntax:\s+(\w+)/mg;

    return (grep({ !$all->{$_} } @directives),
            map { "$_ (no Syntax line)" }
                grep { $all->{$_} && !$syntax{$_} } @directives);
}

sub missing_variables {
    my ($md, @variables) = @_;

    # a name ending in "_" is a prefix, written $jwt_claim_<name>
    return grep {
        my $v = $_;
        $v =~ /_$/ ? $md !~ /\$\Q$v\E</ : $md !~ /\$\Q$v\E(?![\w<])/
    } @variables;
}

# The checks must be able to fail: a page that lacks a heading, a Syntax
# line or a variable is reported, naming what it lacks.

my $page = "## Directives\n\n### a_one, a_two\n\n    Syntax:  a_one x;\n"
           . "    Syntax:  a_two x;\n\n### a_three\n\n"
           . "```sh\n### a_four\n    Syntax:  a_four x;\n```\n\n"
           . "`\$a_var` and `\$a_prefix_<name>`\n";

is_deeply([missing_directives($page, qw(a_one a_two))], [],
          'self-check: headings shared by two directives count');
is_deeply([missing_directives($page, qw(a_one a_four a_three))],
          ['a_four', 'a_three (no Syntax line)'],
          'self-check: a missing heading or Syntax line is named');
is_deeply([missing_variables($page, qw(a_var a_prefix_ a_va a_other))],
          ['a_va', 'a_other'],
          'self-check: a missing variable is named');

# The pages.

my @modules = grep { $_ ne 'common' }
              map { (File::Spec->splitdir($_))[-1] }
              grep { -d } sort glob "$root/modules/*";

ok(@modules >= 7, "modules found: @modules");

for my $module (@modules) {
    my $dir = "$root/modules/$module";
    my $file = "docs/$module.md";

    my @directives = array_names($dir, 'commands', 'ngx_null_command');
    my @variables = array_names($dir, 'vars', 'ngx_http_null_variable');

    ok(@directives, "$module: directives found in its code");

    unless (-f "$root/$file") {
        fail("$file exists");
        next;
    }

    my $md = slurp("$root/$file");

    my @missing = missing_directives($md, @directives);
    ok(!@missing, "$file has a heading and a Syntax line for each of "
                  . scalar(@directives) . ' directives'
                  . (@missing ? "; missing: @missing" : ''));

    my %code = map { $_ => 1 } @directives;
    my (undef, $section) = documented($md);
    my @unknown = grep { !$code{$_} } sort keys %$section;
    ok(!@unknown, "$file documents no directive the code lacks"
                  . (@unknown ? "; unknown: @unknown" : ''));

    @missing = missing_variables($md, @variables);
    ok(!@missing, "$file names each of " . scalar(@variables)
                  . ' variables' . (@missing ? "; missing: @missing" : ''));
}

# The links.

my @pages = map { File::Spec->abs2rel($_, $root) }
            grep { -f } ("$root/README.md", sort(glob "$root/docs/*.md"),
                         sort glob "$root/bench/*.md");
my %anchors;

for my $p (@pages) {
    my $text = prose(slurp("$root/$p"));
    $text =~ s/`[^`\n]*`//g;

    my @broken;

    while ($text =~ /\[[^\]]*\]\(([^()\s]+)\)/g) {
        my $link = $1;

        next if $link =~ m{^[a-z]+:}i;

        my ($path, $anchor) = split /#/, $link, 2;
        my $target = length $path
                     ? File::Spec->abs2rel(File::Spec->rel2abs(
                           $path, dirname("$root/$p")), $root)
                     : $p;

        unless (-e "$root/$target") {
            push @broken, $link;
            next;
        }

        next unless defined $anchor && $target =~ /\.md$/;

        $anchors{$target} //= anchors(slurp("$root/$target"));
        push @broken, $link unless $anchors{$target}{$anchor};
    }

    ok(!@broken, "$p: every relative link and anchor resolves"
                 . (@broken ? "; broken: @broken" : ''));
}

done_testing();
