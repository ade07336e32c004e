# json_filter: selections of every shape (deep paths, many names, many
# "*", "*" inside "*", a named member beside "*" at every level) give what
# the rules of README's Selections section give, computed here by a model
# of them; and the work and memory of a request follow the selection's
# length, not its shape: "a(z),b(z),*(a(z),b(z),*(...))" once made a node
# for every path through it, (k+1)^depth of them.
#
# The memory check reads the high-water mark of the process that answered
# (its pid comes in the body) before and after the selection; it is left
# out under valgrind, whose own memory would be counted.

use Test::Nginx::Socket 'no_plan';

# --------------------------------------------------------------- the model

# (in a package of its own: Test::Base takes subs of main for its filters)
package SelModel;

# a document without whitespace: ['o', [[name, value], ...]], ['a', [...]]
# or ['s', text], in the document's order
sub doc_parse {
    my ($t) = @_;
    if ($$t =~ /\G\{/gc) {
        my @m;
        if ($$t !~ /\G\}/gc) {
            do {
                $$t =~ /\G"([^"]*)":/gc or die "a name at " . pos($$t);
                my $name = $1;
                push @m, [$name, doc_parse($t)];
            } while ($$t =~ /\G,/gc);
            $$t =~ /\G\}/gc or die "} at " . pos($$t);
        }
        return ['o', \@m];
    }
    if ($$t =~ /\G\[/gc) {
        my @e;
        if ($$t !~ /\G\]/gc) {
            do { push @e, doc_parse($t) } while ($$t =~ /\G,/gc);
            $$t =~ /\G\]/gc or die "] at " . pos($$t);
        }
        return ['a', \@e];
    }
    $$t =~ /\G("[^"]*"|-?[0-9.eE+]+|true|false|null)/gc
        or die "a value at " . pos($$t);
    return ['s', $1];
}

sub doc_text {
    my ($v) = @_;
    return $v->[1] if $v->[0] eq 's';
    return '[' . join(',', map { doc_text($_) } @{$v->[1]}) . ']'
        if $v->[0] eq 'a';
    return '{' . join(',', map { "\"$_->[0]\":" . doc_text($_->[1]) }
                                 @{$v->[1]}) . '}';
}

# a selection: nodes { named => { name => node }, star => node, whole => 1 };
# a name twice is one node, a member selected whole stays whole
sub sel_member {
    my ($node, $name) = @_;
    $node = { named => {} } if $node->{whole};     # checked, then forgotten
    return $node->{star} //= { named => {} } if $name eq '*';
    return $node->{named}{$name} //= { named => {} };
}

sub sel_list {
    my ($t, $node) = @_;
    do {
        my $sel = $node;
        do {
            $$t =~ m{\G(\*|[^,/()*]+)}gc or die "a name at " . pos($$t);
            my $name = $1;
            $sel = sel_member($sel, $name);
        } while ($$t =~ m{\G/}gc);
        if ($$t =~ /\G\(/gc) {
            sel_list($t, $sel);
            $$t =~ /\G\)/gc or die ") at " . pos($$t);
        } else {
            %$sel = (whole => 1);
        }
    } while ($$t =~ /\G,/gc);
}

sub sel_parse {
    my $root = { named => {} };
    for my $text (@_) {
        pos($text) = 0;
        sel_list(\$text, $root);
        pos($text) == length $text or die "the end at " . pos($text);
    }
    return [$root];
}

our $WHOLE = [{ whole => 1 }];

# a member of a value that a set of nodes selects: its named nodes and
# the "*" beside them, or the whole member if one of these is whole
sub set_find {
    my ($set, $name) = @_;
    return $set if $set->[0] && $set->[0]{whole};
    my @found;
    for my $n (@$set) {
        push @found, $n->{named}{$name} if $n->{named}{$name};
        push @found, $n->{star} if $n->{star};
    }
    return (grep { $_->{whole} } @found) ? $WHOLE : \@found;
}

sub whole { my ($set) = @_; return $set->[0] && $set->[0]{whole} }

# what json_fields, json_allow and json_deny (sets; deny [] once nothing
# below is denied) keep of a value
sub trim {
    my ($v, $f, $a, $d) = @_;
    return $v if $v->[0] eq 's' || (whole($f) && whole($a) && !@$d);
    return ['a', [map { trim($_, $f, $a, $d) } @{$v->[1]}]] if $v->[0] eq 'a';
    my @kept;
    for my $m (@{$v->[1]}) {
        my $ff = set_find($f, $m->[0]);
        my $aa = set_find($a, $m->[0]);
        my $dd = @$d ? set_find($d, $m->[0]) : [];
        next if !@$ff || !@$aa || whole($dd);
        push @kept, [$m->[0], trim($m->[1], $ff, $aa, $dd)];
    }
    return ['o', \@kept];
}

sub expect {
    my ($doc, $fields, $allow, @deny) = @_;
    my $t = $doc;
    pos($t) = 0;
    my $v = doc_parse(\$t);
    return doc_text(trim($v,
        defined $fields ? sel_parse($fields) : $WHOLE,
        defined $allow ? sel_parse($allow) : $WHOLE,
        @deny ? sel_parse(@deny) : []));
}

package main;

# ----------------------------------------------------------- the document

# each level: "a" goes on down, "b" is an object, "z" a number, "y" an
# array of objects, "c" an object with an "a" of its own
sub level {
    my ($n) = @_;
    return '{"z":0,"y":[0]}' if $n == 0;
    return "{\"a\":" . level($n - 1) . ",\"b\":{\"z\":$n,\"y\":$n,"
        . "\"a\":{\"z\":$n,\"y\":$n}},\"z\":$n,\"y\":[{\"z\":$n,\"a\":$n},$n],"
        . "\"c\":{\"a\":{\"z\":$n,\"b\":$n},\"z\":$n}}";
}

our $DOC = level(10);
our $PID = 4242;                   # stands for $pid in the model's document
(our $DOC_PID = $DOC) =~ s/^\{/{"pid":$PID,/;
(our $CONF_DOC = $DOC_PID) =~ s/$PID/\$pid/;

# ------------------------------------------------------------- selections

# names at each level, and "*(" the same ")" inside, to a depth
sub amplifier {
    my ($names, $depth, $leaf) = @_;
    my $level = join ',', map { "$_($leaf)" } @$names;
    return $level if $depth == 1;
    return "$level,*(" . amplifier($names, $depth - 1, $leaf) . ")";
}

our @SHAPES = (
    # named members beside "*"
    'a(z),*(y)', '*(y),a(z)', 'a,*(z)', '*,a(z)', 'a(z),*', '*(z),*(y)',
    'a(*(z)),a(b)', 'a/b,*(b/z)', '*/z,a/y', 'a/*/z,a/b/y', '*/*/*',
    'a(a(z),*(y)),*(a(y),*(z))', 'b,*(b(y)),a(b(z))',
    # "*" inside "*"
    '*(*(*(*(z))))', '*(*(a),b)', '*(a(*(z)),*(b))', '*,*,*(*)', '*(*,z)',
    '*(*(*(*(*(*(*(z)))))))', '*/*/*/*/*/*/*/z',
    # deep paths, duplicates, a member whole and with a sub-selection
    'a/a/a/a/a/a/a/z', 'a(a(a(a(a(a(a(z)))))))', 'a(z),a(y)', 'a,a(z)',
    'a(z),a', 'a/z,a/y,a(b)', 'c/a/b,c(z),*(a/b)', 'y(z),y(a),y/*',
    'pid,nosuch(*),*(nosuch)',
    # many names
    join(',', map { "n$_" } 1 .. 150) . ',z',
    join(',', ('z') x 200),
    join(',', map { "a/n$_" } 1 .. 100) . ',a/z',
    # the amplifiers
    amplifier([qw(a b)], 7, 'z'), amplifier([qw(a b y z)], 7, 'z,y'),
    amplifier([qw(a b c y z)], 7, '*,z'),
    amplifier([qw(a b c y z)], 7, 'z'),
);

# those that took the most: 230 bytes took 157 MB, 1000 bytes many GB
our @BIG = (amplifier([qw(a b c y z x)], 7, 'z'),
            amplifier([qw(a b c y z), 'd' .. 'x'], 7, 'z'));

# the body the model expects, whatever the pid
sub body_re {
    my $q = quotemeta SelModel::expect(@_);
    $q =~ s/$PID/\\d+/;
    return qr/\A$q\z/;
}

# the body check: how much the answering process grew, once it answered
# the first request of a block
our ($HWM0, $GROWTH_MAX);

sub vm_hwm {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/status" or return;
    while (my $line = <$fh>) {
        return $1 if $line =~ /^VmHWM:\s+(\d+) kB/;
    }
    return;
}

add_response_body_check(sub {
    my ($block, $body, $req_idx, $rep, $dry_run) = @_;
    my $max = $block->hwm_growth_max_kb;
    return if !defined $max || $dry_run || $ENV{TEST_NGINX_USE_VALGRIND};
    my ($pid) = ($body // '') =~ /"pid":(\d+)/;
    my $hwm = defined $pid ? vm_hwm($pid) : undef;
    if ($req_idx == 0) {
        $HWM0 = $hwm;
        return;
    }
    Test::More::ok(defined $hwm && defined $HWM0 && $hwm - $HWM0 <= $max,
                   $block->name . " - request $req_idx: the process grew "
                   . (defined $hwm && defined $HWM0 ? $hwm - $HWM0 : '?')
                   . " kB, at most $max kB");
});

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('config', <<"_EOC_") unless defined $block->config;
    location /t {
        json_fields \$arg_fields;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        default_type application/json;
        return 200 '$CONF_DOC';
    }
_EOC_

    $block->set_value('no_error_log', "[error]\n[crit]\n[alert]")
        unless defined $block->no_error_log;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: every shape gives what the rules give
--- request eval
[map { "GET /t?fields=$_" } @::SHAPES]
--- error_code eval
[(200) x @::SHAPES]
--- response_body eval
[map { ::body_re($::DOC_PID, $_) } @::SHAPES]



=== TEST 2: the model is not vacuous: some shapes keep little, some all
--- request eval
["GET /t?fields=a/a/a/a/a/a/a/z", "GET /t?fields=*"]
--- response_body eval
[qr/\A\{"a":\{"a":\{"a":\{"a":\{"a":\{"a":\{"a":\{"z":3\}\}\}\}\}\}\}\}\z/,
 qr/\A\{"pid":\d+,"a":\{"a":.*"c":\{"a":\{"z":10,"b":10\},"z":10\}\}\z/]



=== TEST 3: selections that multiplied nodes: the process stays small
--- hwm_growth_max_kb: 2048
--- request eval
["GET /t?fields=pid", map { "GET /t?fields=$_" } @::BIG]
--- error_code eval
[(200) x 3]
--- response_body eval
[qr/\A\{"pid":\d+\}\z/, map { ::body_re($::DOC_PID, $_) } @::BIG]



=== TEST 4: longer and deeper than the defaults allow, as an operator may
--- config eval
"    location /t {
        json_fields \$arg_fields;
        json_fields_max_length 8192;
        json_fields_max_depth 64;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        default_type application/json;
        return 200 '$::CONF_DOC';
    }"
--- hwm_growth_max_kb: 2048
--- request eval
["GET /t?fields=pid",
 "GET /t?fields=" . ::amplifier([qw(a b c y z)], 40, 'z'),
 "GET /t?fields=" . CORE::join(',', ('*(' x 60) . 'z' . (')' x 60),
                         ('a(' x 60) . 'z' . (')' x 60)),
 "GET /t?fields=" . ::amplifier([map { "n$_" } 1 .. 60, 'a'], 12, 'z')]
--- error_code eval
[(200) x 4]
--- response_body eval
[qr/\A\{"pid":\d+\}\z/,
 map { ::body_re($::DOC_PID, $_) }
 ::amplifier([qw(a b c y z)], 40, 'z'),
 CORE::join(',', ('*(' x 60) . 'z' . (')' x 60), ('a(' x 60) . 'z' . (')' x 60)),
 ::amplifier([map { "n$_" } 1 .. 60, 'a'], 12, 'z')]



=== TEST 5: json_allow and json_deny from the configuration, of the same shapes
--- config eval
"    location /t {
        json_fields \$arg_fields;
        json_allow '" . ::amplifier([qw(a b c y)], 8, 'z') . "';
        json_deny */*/z a/*/y */b/*/a c/a/b;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        default_type application/json;
        return 200 '$::CONF_DOC';
    }"
--- request eval
["GET /t", "GET /t?fields=a(z),*(y)", "GET /t?fields=*(*(*(*(z))))",
 "GET /t?fields=" . ::amplifier([qw(a b)], 7, 'z')]
--- response_body eval
[map { ::body_re($::DOC_PID, $_ eq '' ? undef : $_,
                 ::amplifier([qw(a b c y)], 8, 'z'),
                 qw(*/*/z a/*/y */b/*/a c/a/b)) }
 '', 'a(z),*(y)', '*(*(*(*(z))))', ::amplifier([qw(a b)], 7, 'z')]
