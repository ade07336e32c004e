# tools/gateway-api-key: the lines it prints make a key file that
# auth_api_key_file loads, and its keys, new or imported with --key-stdin,
# then pass auth_api_key with their consumer and fields; and its errors:
# exit status and one line.

use Test::Nginx::Socket 'no_plan';
use Digest::SHA qw(sha256_hex);
use File::Temp qw(tempdir);

# prove runs from the repository's root
our $TOOL = $ENV{TEST_GATEWAY_API_KEY} || 'build/tools/gateway-api-key';
die "$TOOL is not built: make tools\n" unless -x $TOOL;

my $dir = tempdir(CLEANUP => 1);

# tool([stdin], args...): its exit status, stdout and stderr; stdin is
# the text given in a scalar reference, or the file a hash's "file" names
sub tool {
    my $in = '/dev/null';

    if (ref $_[0] eq 'SCALAR') {
        $in = "$dir/in";
        open my $fh, '>', $in or die "$in: $!\n";
        binmode $fh;
        print $fh ${ shift() };
        close $fh;

    } elsif (ref $_[0] eq 'HASH') {
        $in = shift->{file};
    }

    my $pid = fork // die "fork: $!\n";

    if ($pid == 0) {
        open STDOUT, '>', "$dir/out" or die "$dir/out: $!\n";
        open STDERR, '>', "$dir/err" or die "$dir/err: $!\n";
        open STDIN, '<', $in or die "$in: $!\n";
        alarm 30;
        exec $TOOL, @_ or exit 127;
    }

    waitpid $pid, 0;
    my $status = $? & 127 ? "signal " . ($? & 127) : $? >> 8;
    my @out = map { local (@ARGV, $/) = "$dir/$_"; <> // '' } qw(out err);
    return ($status, @out);
}

my %seen;

# generate(args...): a new key and its line, checking both
sub generate {
    my ($status, $out, $err) = tool(@_);
    my $name = "generate @_";

    Test::More::is($status, 0, "$name: exit 0");
    Test::More::like($err, qr/^key: gk_[A-Za-z0-9_-]{43}\n\z/,
                     "$name: the key on stderr");
    Test::More::like($out, qr/^[0-9a-f]{64} \S/, "$name: a line");

    my ($key) = $err =~ /^key: (\S+)$/m;
    my ($hash) = $out =~ /^(\S+)/;

    Test::More::is($hash, sha256_hex($key // ''), "$name: its SHA-256");
    Test::More::ok(!$seen{$key // ''}++, "$name: a key not seen before");

    return ($out, $key);
}

# import(stdin, key, args...): the line of a key given on stdin
sub import_key {
    my ($stdin, $key, @args) = @_;
    my ($status, $out, $err) = tool(\$stdin, '--key-stdin', @args);
    my $name = "--key-stdin @args";

    Test::More::is($status, 0, "$name: exit 0");
    Test::More::is($err, '', "$name: nothing on stderr");
    Test::More::is($out, sha256_hex($key) . " @args\n", "$name: the line");

    return $out;
}

my (@lines, $line);

our %key;

($line, $key{alice}) = generate(qw(alice plan=premium tier=gold));
push @lines, $line;
Test::More::is($line, sha256_hex($key{alice}) . " alice plan=premium "
                      . "tier=gold\n", 'the line: SHA-256, consumer, fields');

($line, $key{bob}) = generate(qw(bob plan=free));
push @lines, $line;

# two keys of the same consumer
for (1, 2) {
    ($line, $key{"same$_"}) = generate(qw(same plan=free));
    push @lines, $line;
}

Test::More::isnt($key{same1}, $key{same2}, 'two keys differ');

# the most fields a line may have; a value with "="; a name in capitals;
# a consumer that looks like an option
($line, $key{frank}) = generate('--', '-frank', 'Tier_2=a=b',
                                map { "f$_=v$_" } 3 .. 16);
push @lines, $line;

push @lines,
    import_key("legacy-key-1\n", 'legacy-key-1', qw(carol plan=legacy)),
    import_key("legacy-key-2\r\n", 'legacy-key-2', qw(dave plan=legacy)),
    import_key('legacy-key-3', 'legacy-key-3', qw(erin));

# the largest key auth_api_key takes
import_key('k' x 4096 . "\n", 'k' x 4096, 'large');

{
    my ($status, $out, $err) = tool(\"key-4\n", 'grace', '--key-stdin',
                                    'plan=x');
    Test::More::is($out, sha256_hex('key-4') . " grace plan=x\n",
                   'an option after CONSUMER');
}

our $keys = "# keys for t/tools/002-gateway-api-key.t\n\n" . join '', @lines;

# the errors: [ arguments, stdin, exit status, the line on stderr ]
my @errors = (
    [ [], '', 2, 'CONSUMER: missing (see --help)' ],
    [ ['--key-stdin'], "k\n", 2, 'CONSUMER: missing (see --help)' ],
    [ ['--'], '', 2, 'CONSUMER: missing (see --help)' ],
    [ [qw(--keys alice)], '', 2, '--keys: unknown option (see --help)' ],
    [ [qw(-k alice)], '', 2, '-k: unknown option (see --help)' ],
    [ [qw(-frank)], '', 2, '-frank: unknown option (see --help)' ],
    [ [qw(--key-stdin=yes alice)], '', 2, '--key-stdin: takes no value' ],
    [ [qw(--help=yes)], '', 2, '--help: takes no value' ],

    [ [''], '', 2, 'consumer "": empty' ],
    [ ['al ice'], '', 2, 'consumer "al ice": has a space or a tab' ],
    [ ["al\tice"], '', 2, 'consumer "al\x09ice": has a space or a tab' ],
    [ ["al\nice"], '', 2, 'consumer "al\x0aice": has a control character' ],
    [ ["alice\r"], '', 2, 'consumer "alice\x0d": has a control character' ],
    [ ["al\x7fice"], '', 2,
      'consumer "al\x7fice": has a control character' ],
    [ ['#alice'], '', 2, 'consumer "#alice": starts with "#"' ],

    (map { [ ['alice', $_], '', 2, "field \"$_\": not NAME=VALUE" ] }
         ('plan', '=premium', '')),
    (map { [ ['alice', $_], '', 2,
             "field \"$_\": a name has letters, digits and \"_\" only" ] }
         qw(pl-an=x pl.an=x $plan=x), "pl\xc3\xa4n=x"),
    (map { [ ['alice', $_], '', 2,
             "field \"$_\": \"consumer\" is no field name, CONSUMER sets "
             . '$api_key_consumer' ] } qw(consumer=bob Consumer=bob)),
    [ [qw(alice plan=)], '', 2, 'field "plan=": empty value' ],
    [ ['alice', 'plan=a b'], '', 2,
      'field "plan=a b": the value has a space or a tab' ],
    [ ['alice', "plan=a\tb"], '', 2,
      'field "plan=a\x09b": the value has a space or a tab' ],
    [ ['alice', "plan=a\nb"], '', 2,
      'field "plan=a\x0ab": the value has a control character' ],
    [ [qw(alice plan=a tier=b plan=c)], '', 2,
      'field "plan=c": the name is given twice (case does not count)' ],
    [ [qw(alice plan=a PLAN=c)], '', 2,
      'field "PLAN=c": the name is given twice (case does not count)' ],
    [ ['alice', map { "f$_=v" } 1 .. 17], '', 2,
      'field "f17=v": more than 16 fields' ],

    (map { [ [qw(--key-stdin alice)], $_, 2, '--key-stdin: empty key' ] }
         ('', "\n", "\r\n")),
    (map { [ [qw(--key-stdin alice)], $_, 2,
             '--key-stdin: more than one line' ] }
         ("a\nb\n", "a\n\n", "a\nb", "\na")),
    (map { [ [qw(--key-stdin alice)], $_, 2,
             '--key-stdin: a key longer than 4096 bytes, which auth_api_key '
             . 'refuses' ] }
         ('k' x 4097, 'k' x 4097 . "\n", 'k' x 10000)),
    (map { [ [qw(--key-stdin alice)], $_, 2,
             '--key-stdin: the key has a control character' ] }
         ("a\tb\n", "a\0b", "a\rb\n", "ab\r\r\n", "\x7f\n")),
    (map { [ [qw(--key-stdin alice)], $_, 2,
             '--key-stdin: the key starts or ends with a space, which a '
             . 'header cannot carry' ] } (" abc\n", "abc \n", ' ')),

    # a usage error first, before stdin is read
    [ [qw(--key-stdin), ''], "k\n", 2, 'consumer "": empty' ],

    [ [qw(--key-stdin alice)], { file => $dir }, 1,
      '--key-stdin: reading stdin failed: Is a directory' ],
);

# names that differ only in length are no duplicates
{
    my ($status, $out, $err) = tool(qw(alice plan=a plan2=b pla=c));
    Test::More::is($status, 0, 'names that share a prefix: exit 0');
    Test::More::like($out, qr/ alice plan=a plan2=b pla=c\n\z/,
                     'names that share a prefix');
}

for my $e (@errors) {
    my ($args, $stdin, $want, $line) = @$e;
    my ($status, $out, $err) = tool(ref $stdin ? $stdin : \$stdin, @$args);
    my $name = join(' ', map { "'$_'" } @$args);

    $name .= ' <<< ' . (ref $stdin ? 'a directory' : length $stdin > 20
                        ? length($stdin) . ' bytes' : "'$stdin'");
    $name =~ s/([\x00-\x1f\x7f])/sprintf '\\x%02x', ord $1/ge;

    Test::More::is($status, $want, "$name: exit $want");
    Test::More::is($out, '', "$name: no line");
    Test::More::is(($err =~ tr/\n//), 1, "$name: one line, no key");

    $err =~ s/^gateway-api-key: //
        or Test::More::fail("$name: the tool's name first");
    chomp $err;
    Test::More::is($err, $line, "$name: message");
}

{
    my ($status, $out, $err) = tool('--help');
    Test::More::is($status, 0, '--help: exit 0');
    Test::More::is((split /\n/, $out)[0], 'Usage: gateway-api-key '
                   . '[--key-stdin] CONSUMER [NAME=VALUE]...', 'usage');
    Test::More::is($err, '', '--help: nothing on stderr');

    ($status, $out, $err) = tool(qw(alice plan=x -h));
    Test::More::is($status, 0, '-h: exit 0');
    Test::More::like($out, qr/^Usage: /, '-h: the usage alone');
    Test::More::is($err, '', '-h: no key');

    # a failed write is a failure, and the key is not shown: the file
    # would not know it
    SKIP: {
        Test::More::skip('no /dev/full', 2) unless -c '/dev/full';
        my $pid = fork // die "fork: $!\n";
        if ($pid == 0) {
            open STDOUT, '>', '/dev/full' or exit 127;
            open STDERR, '>', "$dir/err" or exit 127;
            exec $TOOL, 'alice' or exit 127;
        }
        waitpid $pid, 0;
        Test::More::is($? >> 8, 1, 'stdout full: exit 1');
        Test::More::is(do { local (@ARGV, $/) = "$dir/err"; <> },
                       "gateway-api-key: writing the line failed: No space "
                       . "left on device\n", 'stdout full: no key');
    }
}

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('config', <<'CONFIG') unless defined $block->config;
    location /t {
        auth_api_key "api" key=$arg_k;
        auth_api_key_file $TEST_NGINX_SERVER_ROOT/html/keys.txt;
        add_header X-Consumer $api_key_consumer always;
        add_header X-Plan $api_key_plan always;
        alias html/ok.txt;
    }
CONFIG

    $block->set_value('user_files', ">>> ok.txt\nok\n>>> keys.txt\n$keys");
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: new keys pass with their consumer and fields; others do not
--- request eval
[map { "GET /t?k=$_" } @::key{qw(alice bob same1 same2)},
                       'gk_' . 'A' x 43, substr($::key{alice}, 0, -1)]
--- error_code eval
[200, 200, 200, 200, 401, 401]
--- response_headers eval
["X-Consumer: alice\nX-Plan: premium", "X-Consumer: bob\nX-Plan: free",
 "X-Consumer: same\nX-Plan: free", "X-Consumer: same\nX-Plan: free",
 ("!X-Consumer\n!X-Plan\nWWW-Authenticate: Key realm=\"api\"") x 2]
--- response_body_like eval
[qr/^ok$/, qr/^ok$/, qr/^ok$/, qr/^ok$/, qr/401/, qr/401/]



=== TEST 2: a new key in the X-API-Key header
--- config
    location /t {
        auth_api_key "api";
        auth_api_key_file $TEST_NGINX_SERVER_ROOT/html/keys.txt;
        add_header X-Consumer $api_key_consumer always;
        add_header X-Tier $api_key_tier always;
        alias html/ok.txt;
    }
--- more_headers eval
"X-API-Key: $::key{alice}"
--- request
GET /t
--- error_code: 200
--- response_headers
X-Consumer: alice
X-Tier: gold
--- response_body
ok



=== TEST 3: keys imported with --key-stdin, with LF, CR LF or no newline
--- request eval
["GET /t?k=legacy-key-1", "GET /t?k=legacy-key-2", "GET /t?k=legacy-key-3",
 "GET /t?k=legacy-key-2%0D"]
--- error_code eval
[200, 200, 200, 401]
--- response_headers eval
["X-Consumer: carol\nX-Plan: legacy", "X-Consumer: dave\nX-Plan: legacy",
 "X-Consumer: erin\n!X-Plan", "!X-Consumer"]



=== TEST 4: sixteen fields, a value with "=", a name in capitals
--- config
    location /t {
        auth_api_key "api" key=$arg_k;
        auth_api_key_file $TEST_NGINX_SERVER_ROOT/html/keys.txt;
        add_header X-Consumer $api_key_consumer always;
        add_header X-Tier $api_key_tier_2 always;
        add_header X-F3 $api_key_f3 always;
        add_header X-F16 $api_key_f16 always;
        alias html/ok.txt;
    }
--- request eval
"GET /t?k=$::key{frank}"
--- error_code: 200
--- response_headers
X-Consumer: -frank
X-Tier: a=b
X-F3: v3
X-F16: v16
