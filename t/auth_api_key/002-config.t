# auth_api_key: what a key file may hold, the errors of malformed files
# and directives, and key files read again on reload.
#
# "SHA(name)" in a --- user_files section stands for the SHA-256 of
# $key{name}. The reload blocks need a master process; under valgrind the
# runner starts nginx without one, so they are skipped there.

use lib 't/helpers';
use GwHttp ();
use Digest::SHA ();
use Time::HiRes ();
use Test::Nginx::Socket 'no_plan';

master_on();

our %key = (
    alice   => 'ak_live_alice_7f3c9e21b0d44a58',
    bob     => 'ak_live_bob_0a9b8c7d6e5f4a3b',
    carol   => 'ak_live_carol_c0ffee15good',
    mallory => 'ak_live_mallory_not_in_any_file',
);

our $HASH = 'ab' x 32;

sub sha {
    my $name = shift;
    die "no key \"$name\"\n" unless defined $key{$name};
    return Digest::SHA::sha256_hex($key{$name});
}

# the name nginx gives a file of html/ named as ../html/<file>
sub path {
    return "$Test::Nginx::Util::ServRoot/conf/../html/" . shift;
}

# an [emerg] line for the key file html/<file>
sub bad_file {
    my ($file, $line, $reason) = @_;
    my $path = path($file);
    return qr/\[emerg\] .*invalid key file "\Q$path\E", line $line: \Q$reason\E in \S+nginx\.conf:\d+/;
}

# writes html/<file> with $text, "SHA(name)" replaced
sub write_keys {
    my ($file, $text) = @_;
    $text =~ s/SHA\((\w+)\)/sha($1)/ge;
    my $path = "$Test::Nginx::Util::ServRoot/html/$file";
    open my $out, '>', "$path.new" or die "cannot write $path.new: $!\n";
    print $out $text;
    close $out;
    rename "$path.new", $path or die "cannot rename to $path: $!\n";
}

# Edits nginx.conf and sends HUP: true once the master logs that it
# refused the new configuration because of $why
sub refused_reload {
    my ($edit, $why) = @_;
    my $file = $Test::Nginx::Util::ConfFile;
    open my $in, '<', $file or die "cannot read $file: $!\n";
    local $_ = do { local $/; <$in> };
    close $in;
    $edit->();
    open my $out, '>', $file or die "cannot write $file: $!\n";
    print $out $_;
    close $out;
    open my $pf, '<', $Test::Nginx::Util::PidFile or die "no pid file: $!\n";
    my ($pid) = <$pf> =~ /(\d+)/;
    close $pf;
    kill 'HUP', $pid or die "cannot send HUP: $!\n";
    for (1 .. 500) {
        open my $log, '<', $Test::Nginx::Util::ErrLogFile or next;
        my $text = do { local $/; <$log> };
        close $log;
        return 1 if $text =~ $why;
        Time::HiRes::sleep(0.02);
    }
    return 0;
}

# most blocks protect /t with html/keys.txt
add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('config', <<'CONFIG') unless defined $block->config;
    location /t {
        auth_api_key "api";
        auth_api_key_file ../html/keys.txt;
        add_header X-Consumer $api_key_consumer always;
        alias html/ok.txt;
    }
CONFIG

    my $files = $block->user_files // '';
    $files = ">>> ok.txt\nok\n$files" unless $files =~ /^>>> ok\.txt$/m;
    $files =~ s/SHA\((\w+)\)/sha($1)/ge;
    $block->set_value('user_files', $files);
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: comments, blank lines, CRLF, tabs, spaces around, hex in capitals
--- user_files eval
">>> keys.txt\n"
. "# consumers\r\n"
. "\r\n"
. "   \t\n"
. "  SHA(alice)\t alice   plan=gold  \r\n"
. "    # an indented comment\n"
. uc(main::sha('bob')) . " bob\tplan=free\t\n"
. "SHA(carol) carol"
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t"]
--- more_headers eval
["X-API-Key: $::key{alice}", "X-API-Key: $::key{bob}",
 "X-API-Key: $::key{carol}", "X-API-Key: $::key{mallory}"]
--- error_code eval
[200, 200, 200, 401]
--- response_headers eval
["X-Consumer: alice", "X-Consumer: bob", "X-Consumer: carol", "!X-Consumer"]



=== TEST 2: field values as given: empty, with "=", in any case; 16 fields
--- config
    location /t {
        auth_api_key "api";
        auth_api_key_file ../html/keys.txt;
        add_header X-Consumer $api_key_consumer always;
        add_header X-Empty "[$api_key_empty]" always;
        add_header X-Eq $api_key_eq always;
        add_header X-Case $api_key_case always;
        add_header X-F16 $api_key_f16 always;
        alias html/ok.txt;
    }
--- user_files eval
">>> keys.txt\n"
. "SHA(alice) team.payments\@example empty= eq=a=b=c case=MiXeD\n"
. "SHA(bob) bob " . CORE::join(' ', map { "f$_=v$_" } 1 .. 16) . "\n"
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
["X-API-Key: $::key{alice}", "X-API-Key: $::key{bob}"]
--- response_headers eval
["X-Consumer: team.payments\@example\nX-Empty: []\nX-Eq: a=b=c\n"
 . "X-Case: MiXeD",
 "X-Consumer: bob\nX-F16: v16"]



=== TEST 3: an empty key file: accepted, and every key is unknown
--- user_files
>>> keys.txt
--- request
GET /t
--- more_headers eval
"X-API-Key: $::key{alice}"
--- error_code: 401
--- error_log
auth_api_key: unknown key



=== TEST 4: one file named at the server level and again in a location
--- config
    auth_api_key_file ../html/keys.txt;

    location /a {
        auth_api_key "a";
        add_header X-Consumer $api_key_consumer always;
        alias html/ok.txt;
    }
    location /b {
        auth_api_key "b";
        auth_api_key_file ../html/keys.txt;
        add_header X-Consumer $api_key_consumer always;
        alias html/ok.txt;
    }
--- user_files
>>> keys.txt
SHA(alice) alice
--- request eval
["GET /a", "GET /b"]
--- more_headers eval
["X-API-Key: $::key{alice}", "X-API-Key: $::key{alice}"]
--- response_headers eval
["X-Consumer: alice", "X-Consumer: alice"]



=== TEST 5: auth_api_key and its file at the http level
--- http_config
    auth_api_key "http";
    auth_api_key_file ../html/keys.txt;
--- config
    location /t {
        add_header X-Consumer $api_key_consumer always;
        alias html/ok.txt;
    }
--- user_files
>>> keys.txt
SHA(bob) bob
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
["X-API-Key: $::key{bob}", ""]
--- error_code eval
[200, 401]
--- response_headers eval
["X-Consumer: bob", 'WWW-Authenticate: Key realm="http"']



=== TEST 5a: a control character in a consumer or a field value, which
would reach $api_key_consumer and $api_key_<field> raw: a CR left over
--- user_files eval
">>> keys.txt\nSHA(bob) bob\n" . $::HASH . " alice\r\r\n"
--- must_die
--- error_log eval
main::bad_file('keys.txt', 2, 'a control character in the line')



=== TEST 5b: a NUL in a field value
--- user_files eval
">>> keys.txt\n" . $::HASH . " alice plan=gold\0x\n"
--- must_die
--- error_log eval
main::bad_file('keys.txt', 1, 'a control character in the line')



=== TEST 5c: DEL in a consumer
--- user_files eval
">>> keys.txt\n" . $::HASH . " al\x7fice\n"
--- must_die
--- error_log eval
main::bad_file('keys.txt', 1, 'a control character in the line')



=== TEST 5d: ESC in a field value
--- user_files eval
">>> keys.txt\n" . $::HASH . " alice plan=\e[31m\n"
--- must_die
--- error_log eval
main::bad_file('keys.txt', 1, 'a control character in the line')



=== TEST 5e: a tab between words is a separator, not a control character
--- config
    location /t {
        auth_api_key "api";
        auth_api_key_file ../html/keys.txt;
        add_header X-Plan $api_key_plan;
        alias html/ok.txt;
    }
--- user_files eval
">>> ok.txt\nok\n>>> keys.txt\nSHA(bob)\tbob\tplan=gold\n"
--- request
GET /t
--- more_headers eval
"X-API-Key: $::key{bob}"
--- response_headers
X-Plan: gold



=== TEST 6: a digest with a letter that is not hex
--- user_files eval
">>> keys.txt\n" . ('0' x 63) . "g alice\n"
--- must_die
--- error_log eval
main::bad_file('keys.txt', 1, 'a SHA-256 in hex, 64 characters, expected first')



=== TEST 7: a short digest, on the third line after a comment and a blank line
--- user_files eval
">>> keys.txt\n# keys\n\n" . substr($::HASH, 1) . " alice\n"
--- must_die
--- error_log eval
main::bad_file('keys.txt', 3, 'a SHA-256 in hex, 64 characters, expected first')



=== TEST 8: a digest one character too long
--- user_files eval
">>> keys.txt\nSHA(bob) bob\n" . $::HASH . "0 alice\n"
--- must_die
--- error_log eval
main::bad_file('keys.txt', 2, 'a SHA-256 in hex, 64 characters, expected first')



=== TEST 9: a key that is not a digest at all
--- user_files eval
">>> keys.txt\n$::key{alice} alice\n"
--- must_die
--- error_log eval
main::bad_file('keys.txt', 1, 'a SHA-256 in hex, 64 characters, expected first')



=== TEST 10: no consumer after the digest
--- user_files eval
">>> keys.txt\nSHA(bob) bob\n$::HASH  \t\n"
--- must_die
--- error_log eval
main::bad_file('keys.txt', 2, 'a consumer name expected after the SHA-256')



=== TEST 11: a field without "="
--- user_files eval
">>> keys.txt\n$::HASH alice plan=gold premium\n"
--- must_die
--- error_log eval
main::bad_file('keys.txt', 1, 'a field must be name=value')



=== TEST 12: a field without a name
--- user_files eval
">>> keys.txt\n$::HASH alice =gold\n"
--- must_die
--- error_log eval
main::bad_file('keys.txt', 1, 'a field must be name=value')



=== TEST 13: a field name that cannot be a variable's
--- user_files eval
">>> keys.txt\n$::HASH alice plan-tier=gold\n"
--- must_die
--- error_log eval
main::bad_file('keys.txt', 1, 'a field name has letters, digits and "_" only')



=== TEST 14: a field named "consumer", in any case
--- user_files eval
">>> keys.txt\n$::HASH alice Consumer=bob\n"
--- must_die
--- error_log eval
main::bad_file('keys.txt', 1,
               '"consumer" is not a field name: the consumer comes second')



=== TEST 15: a field twice, in two cases
--- user_files eval
">>> keys.txt\n$::HASH alice plan=gold team=a Plan=free\n"
--- must_die
--- error_log eval
main::bad_file('keys.txt', 1, 'a field name appears twice')



=== TEST 16: seventeen fields
--- user_files eval
">>> keys.txt\n$::HASH alice " . CORE::join(' ', map { "f$_=v" } 1 .. 17) . "\n"
--- must_die
--- error_log eval
main::bad_file('keys.txt', 1, 'more than 16 fields')



=== TEST 17: one key twice, for two consumers
--- user_files eval
">>> keys.txt\n$::HASH alice\nSHA(bob) bob\n" . uc($::HASH) . " mallory\n"
--- must_die
--- error_log eval
my $path = main::path('keys.txt');
qr/\[emerg\] .*key file "\Q$path\E" has the key of consumer "mallory" twice in \S+nginx\.conf:\d+/



=== TEST 18: a key file that does not exist
--- config
    location /t {
        auth_api_key "api";
        auth_api_key_file ../html/nope.txt;
        alias html/ok.txt;
    }
--- must_die
--- error_log eval
my $path = main::path('nope.txt');
qr/\[emerg\] .*open\(\) "\Q$path\E" failed \(2: No such file or directory\) in \S+nginx\.conf:\d+/



=== TEST 19: auth_api_key without a key file
--- config
    location /t {
        auth_api_key "api";
        alias html/ok.txt;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"auth_api_key" in \S+nginx\.conf:\d+ has no keys: add "auth_api_key_file" where it applies/



=== TEST 20: auth_api_key inherited by a location without keys
--- config
    location /t {
        auth_api_key "api";
        auth_api_key_file ../html/keys.txt;
        alias html/ok.txt;

        location /t/inner {
            auth_api_key off;

            location /t/inner/most {
                auth_api_key "inner";
            }
        }
    }
    location /u {
        auth_api_key "u";
    }
--- user_files
>>> keys.txt
--- must_die
--- error_log eval
qr/\[emerg\] .*"auth_api_key" in \S+nginx\.conf:\d+ has no keys: add "auth_api_key_file" where it applies/



=== TEST 21: key= without a variable
--- config
    location /t {
        auth_api_key "api" key=abc;
        auth_api_key_file ../html/keys.txt;
    }
--- user_files
>>> keys.txt
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter "key=abc": "key=\$variable" expected in /



=== TEST 22: another parameter than key=
--- config
    location /t {
        auth_api_key "api" token=$arg_t;
        auth_api_key_file ../html/keys.txt;
    }
--- user_files
>>> keys.txt
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter "token=\$arg_t": "key=\$variable" expected in /



=== TEST 23: "off" with a parameter
--- config
    location /t {
        auth_api_key off key=$arg_k;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"auth_api_key" directive takes no parameters with "off" in /



=== TEST 24: auth_api_key twice at one level
--- config
    location /t {
        auth_api_key "api";
        auth_api_key off;
        auth_api_key_file ../html/keys.txt;
    }
--- user_files
>>> keys.txt
--- must_die
--- error_log eval
qr/\[emerg\] .*"auth_api_key" directive is duplicate in /



=== TEST 25: auth_api_key with three parameters
--- config
    location /t {
        auth_api_key "api" key=$arg_k key=$arg_l;
        auth_api_key_file ../html/keys.txt;
    }
--- user_files
>>> keys.txt
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid number of arguments in "auth_api_key" directive in /



=== TEST 26: a reload reads the key file again: the old key is refused, the new one gets in
--- config
    location /t {
        auth_api_key "api";
        auth_api_key_file ../html/keys.txt;
        add_header X-Consumer $api_key_consumer always;
        add_header X-Plan $api_key_plan always;
        alias html/ok.txt;
    }
    location = /gen {
        return 200 "gen-1";
    }
--- user_files
>>> keys.txt
SHA(alice) alice plan=free
SHA(bob) bob
--- init
main::write_keys('keys.txt', "SHA(alice) alice plan=gold\nSHA(carol) carol\n");
Test::More::ok(GwHttp::reload_nginx(sub { s/gen-1/gen-2/g }, '/gen',
                                      'gen-2'),
               'the new configuration serves');
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
["X-API-Key: $::key{bob}", "X-API-Key: $::key{carol}",
 "X-API-Key: $::key{alice}"]
--- error_code eval
[401, 200, 200]
--- response_headers eval
['WWW-Authenticate: Key realm="api"', "X-Consumer: carol",
 "X-Consumer: alice\nX-Plan: gold"]
--- skip_eval: 8: $ENV{TEST_NGINX_USE_VALGRIND}



=== TEST 27: a reload with a malformed key file is refused; the old keys serve on
--- config
    location /t {
        auth_api_key "api" key=$arg_api_key;
        auth_api_key_file ../html/keys.txt;
        alias html/ok.txt;
    }
    location = /gen {
        return 200 "gen-1";
    }
--- user_files
>>> keys.txt
SHA(alice) alice
--- init
main::write_keys('keys.txt', "SHA(carol) carol\nSHA(bob)\n");
Test::More::ok(main::refused_reload(sub { s/gen-1/gen-2/g },
                   main::bad_file('keys.txt', 2,
                       'a consumer name expected after the SHA-256')),
               'the reload is refused');
Test::More::is((GwHttp::http_get('/gen'))[2], 'gen-1',
               'the old configuration serves');
Test::More::is(scalar GwHttp::http_get("/t?api_key=$::key{alice}"), 200,
               'the old key gets in');
--- request eval
"GET /t?api_key=$::key{carol}"
--- error_code: 401
--- error_log eval
main::bad_file('keys.txt', 2, 'a consumer name expected after the SHA-256')
--- skip_eval: 5: $ENV{TEST_NGINX_USE_VALGRIND}
