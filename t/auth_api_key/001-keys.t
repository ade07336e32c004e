# auth_api_key: which keys get in, from where, and what the consumer's
# variables show.
#
# Key files are written with the SHA-256 of the keys below: "SHA(name)" in
# a --- user_files section stands for the digest of $key{name}.

use Digest::SHA ();
use Test::Nginx::Socket 'no_plan';

our %key = (
    alice   => 'ak_live_alice_7f3c9e21b0d44a58',
    bob     => 'ak_live_bob_0a9b8c7d6e5f4a3b',
    carol   => 'ak_live_carol_c0ffee15good',
    max     => 'm' x 4096,
    long    => 'l' x 4097,
    mallory => 'ak_live_mallory_not_in_any_file',
);

our $KEYS = <<'KEYS';
# the consumers of the tests
SHA(alice) alice plan=gold Team=payments
SHA(bob)	bob	plan=free

SHA(carol) carol
SHA(max) max
SHA(long) long
KEYS

sub sha {
    my $name = shift;
    die "no key \"$name\"\n" unless defined $key{$name};
    return Digest::SHA::sha256_hex($key{$name});
}

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('config', <<'CONFIG') unless defined $block->config;
    location /t {
        auth_api_key "api";
        auth_api_key_file ../html/keys.txt;
        add_header X-Consumer $api_key_consumer always;
        add_header X-Plan $api_key_plan always;
        alias html/ok.txt;
    }
CONFIG

    $block->set_value('user_files', ">>> ok.txt\nok\n>>> keys.txt\n$KEYS")
        unless defined $block->user_files;

    (my $files = $block->user_files) =~ s/SHA\((\w+)\)/sha($1)/ge;
    $block->set_value('user_files', $files);
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: a valid key: the file, the consumer and a field
--- request
GET /t
--- more_headers eval
"X-API-Key: $::key{alice}"
--- response_headers
X-Consumer: alice
X-Plan: gold
!WWW-Authenticate
--- response_body
ok
--- no_error_log
auth_api_key
[error]



=== TEST 2: no key: 401 with the realm, and one info line
--- request
GET /t
--- error_code: 401
--- response_headers
WWW-Authenticate: Key realm="api"
!X-Consumer
!X-Plan
--- error_log eval
qr/\[info\] .*auth_api_key: no key, client: /
--- no_error_log
unknown key
[error]



=== TEST 3: an unknown key: 401, and the key is not in the log
--- log_level: info
--- request
GET /t
--- more_headers eval
"X-API-Key: $::key{mallory}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Key realm="api"
!X-Consumer
--- error_log eval
qr/\[info\] .*auth_api_key: unknown key, client: /
--- no_error_log eval
[$::key{mallory}, "no key", "[error]"]



=== TEST 4: a valid key is not logged either
--- log_level: info
--- request
GET /t
--- more_headers eval
"X-API-Key: $::key{bob}"
--- response_headers
X-Consumer: bob
--- no_error_log eval
[$::key{bob}, "auth_api_key"]



=== TEST 5: keys are case-sensitive, and one byte off is unknown
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
["X-API-Key: " . uc $::key{alice},
 "X-API-Key: " . substr($::key{alice}, 0, -1),
 "X-API-Key: $::key{alice}x"]
--- error_code eval
[401, 401, 401]
--- error_log
auth_api_key: unknown key



=== TEST 6: the header's name in any case
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
["x-api-key: $::key{alice}", "X-Api-Key: $::key{bob}",
 "X-API-KEY: $::key{carol}"]
--- response_headers eval
["X-Consumer: alice", "X-Consumer: bob", "X-Consumer: carol"]



=== TEST 7: an empty key is no key
--- request
GET /t
--- more_headers
X-API-Key:
--- error_code: 401
--- response_headers
WWW-Authenticate: Key realm="api"
--- error_log
auth_api_key: no key
--- no_error_log
unknown key



=== TEST 8: key= from the query string; the header then does not count
--- config
    location /t {
        auth_api_key "api" key=$arg_api_key;
        auth_api_key_file ../html/keys.txt;
        add_header X-Consumer $api_key_consumer always;
        alias html/ok.txt;
    }
--- request eval
["GET /t?api_key=$::key{alice}", "GET /t?x=1&api_key=$::key{carol}&y=2",
 "GET /t", "GET /t?api_key="]
--- more_headers eval
["", "", "X-API-Key: $::key{bob}", ""]
--- error_code eval
[200, 200, 401, 401]
--- response_headers eval
["X-Consumer: alice", "X-Consumer: carol", "!X-Consumer", "!X-Consumer"]



=== TEST 9: key= from a cookie, and from another header
--- config
    location /cookie {
        auth_api_key "api" key=$cookie_api_key;
        auth_api_key_file ../html/keys.txt;
        add_header X-Consumer $api_key_consumer always;
        alias html/ok.txt;
    }
    location /apikey {
        auth_api_key "api" key=$http_apikey;
        auth_api_key_file ../html/keys.txt;
        add_header X-Consumer $api_key_consumer always;
        alias html/ok.txt;
    }
--- request eval
["GET /cookie", "GET /cookie", "GET /apikey", "GET /apikey"]
--- more_headers eval
["Cookie: theme=dark; api_key=$::key{bob}; lang=en",
 "X-API-Key: $::key{bob}",
 "ApiKey: $::key{alice}",
 "X-API-Key: $::key{alice}"]
--- error_code eval
[200, 401, 200, 401]
--- response_headers eval
["X-Consumer: bob", "!X-Consumer", "X-Consumer: alice", "!X-Consumer"]



=== TEST 10: a key of 4096 bytes is looked up
--- request
GET /t
--- more_headers eval
"X-API-Key: $::key{max}"
--- response_headers
X-Consumer: max



=== TEST 11: a key of 4097 bytes is unknown, even with its digest in the file
--- request
GET /t
--- more_headers eval
"X-API-Key: $::key{long}"
--- error_code: 401
--- response_headers
!X-Consumer
--- error_log
auth_api_key: unknown key



=== TEST 12: fields as variables, names in any case; a field the consumer lacks is empty
--- config
    location /t {
        auth_api_key "api";
        auth_api_key_file ../html/keys.txt;
        add_header X-Consumer $api_key_consumer always;
        add_header X-Plan $api_key_Plan always;
        add_header X-Team $api_key_TEAM always;
        add_header X-Region "[$api_key_region]" always;
        alias html/ok.txt;
    }
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t"]
--- more_headers eval
["X-API-Key: $::key{alice}", "X-API-Key: $::key{bob}",
 "X-API-Key: $::key{carol}", "X-API-Key: $::key{mallory}"]
--- error_code eval
[200, 200, 200, 401]
--- response_headers eval
["X-Consumer: alice\nX-Plan: gold\nX-Team: payments\nX-Region: []",
 "X-Consumer: bob\nX-Plan: free\n!X-Team\nX-Region: []",
 "X-Consumer: carol\n!X-Plan\n!X-Team\nX-Region: []",
 "!X-Consumer\n!X-Plan\n!X-Team\nX-Region: []"]



=== TEST 13: the consumer and fields in the access log
--- http_config
    log_format keys "consumer=$api_key_consumer plan=$api_key_plan";
--- config
    location /t {
        auth_api_key "api";
        auth_api_key_file ../html/keys.txt;
        access_log logs/access.log keys;
        alias html/ok.txt;
    }
--- request
GET /t
--- more_headers eval
"X-API-Key: $::key{alice}"
--- access_log
consumer=alice plan=gold



=== TEST 14: the consumer of a rejected key is empty in the access log
--- http_config
    log_format keys "consumer=[$api_key_consumer] status=$status";
--- config
    location /t {
        auth_api_key "api";
        auth_api_key_file ../html/keys.txt;
        access_log logs/access.log keys;
        alias html/ok.txt;
    }
--- request
GET /t
--- more_headers eval
"X-API-Key: $::key{mallory}"
--- error_code: 401
--- access_log
consumer=[-] status=401



=== TEST 15: two files at one level: the keys of both get in
--- config
    location /t {
        auth_api_key "api";
        auth_api_key_file ../html/a.txt;
        auth_api_key_file ../html/b.txt;
        add_header X-Consumer $api_key_consumer always;
        add_header X-Plan $api_key_plan always;
        alias html/ok.txt;
    }
--- user_files
>>> ok.txt
ok
>>> a.txt
SHA(alice) alice plan=gold
>>> b.txt
SHA(bob) bob plan=free
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
["X-API-Key: $::key{alice}", "X-API-Key: $::key{bob}",
 "X-API-Key: $::key{carol}"]
--- error_code eval
[200, 200, 401]
--- response_headers eval
["X-Consumer: alice\nX-Plan: gold", "X-Consumer: bob\nX-Plan: free",
 "!X-Consumer"]



=== TEST 16: inherited from the server; a location's own file replaces the server's, its own realm keeps the server's files
--- config
    auth_api_key "server";
    auth_api_key_file ../html/keys.txt;
    add_header X-Consumer $api_key_consumer always;

    location /inherits {
        alias html/ok.txt;
    }
    location /own-file {
        auth_api_key_file ../html/bob.txt;
        alias html/ok.txt;
    }
    location /own-realm {
        auth_api_key "location";
        alias html/ok.txt;
    }
--- user_files
>>> ok.txt
ok
>>> keys.txt
SHA(alice) alice
SHA(bob) bob
>>> bob.txt
SHA(bob) bob
--- request eval
["GET /inherits", "GET /inherits", "GET /own-file", "GET /own-file",
 "GET /own-realm", "GET /own-realm"]
--- more_headers eval
["X-API-Key: $::key{alice}", "", "X-API-Key: $::key{bob}",
 "X-API-Key: $::key{alice}", "X-API-Key: $::key{alice}", ""]
--- error_code eval
[200, 401, 200, 401, 200, 401]
--- response_headers eval
["X-Consumer: alice", 'WWW-Authenticate: Key realm="server"',
 "X-Consumer: bob", 'WWW-Authenticate: Key realm="server"',
 "X-Consumer: alice", 'WWW-Authenticate: Key realm="location"']



=== TEST 17: auth_api_key off in a nested location: no key needed, and none looked up
--- config
    location /api/ {
        auth_api_key "api";
        auth_api_key_file ../html/keys.txt;
        add_header X-Consumer $api_key_consumer always;
        alias html/;

        location /api/public/ {
            auth_api_key off;
            alias html/;
        }
    }
--- request eval
["GET /api/ok.txt", "GET /api/public/ok.txt", "GET /api/public/ok.txt",
 "GET /api/ok.txt"]
--- more_headers eval
["", "", "X-API-Key: $::key{alice}", "X-API-Key: $::key{alice}"]
--- error_code eval
[401, 200, 200, 200]
--- response_headers eval
['WWW-Authenticate: Key realm="api"', "!WWW-Authenticate\n!X-Consumer",
 "!X-Consumer", "X-Consumer: alice"]



=== TEST 18: auth_api_key in limit_except guards the other methods only
--- config
    location /t {
        auth_api_key_file ../html/keys.txt;

        limit_except GET {
            auth_api_key "writes";
        }

        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        return 200 "$request_method\n";
    }
--- request eval
["GET /t", "POST /t", "POST /t", "DELETE /t"]
--- more_headers eval
["", "", "X-API-Key: $::key{carol}", "X-API-Key: $::key{mallory}"]
--- error_code eval
[200, 401, 200, 401]
--- response_headers eval
["!WWW-Authenticate", 'WWW-Authenticate: Key realm="writes"',
 "!WWW-Authenticate", 'WWW-Authenticate: Key realm="writes"']
--- response_body_like eval
["^GET\n\$", "401", "^POST\n\$", "401"]



=== TEST 19: the realm from a variable, with quotes escaped
--- config
    location /v {
        auth_api_key "keys of $host";
        auth_api_key_file ../html/keys.txt;
        alias html/ok.txt;
    }
    location /q {
        auth_api_key 'say "hi" \ bye';
        auth_api_key_file ../html/keys.txt;
        alias html/ok.txt;
    }
--- request eval
["GET /v", "GET /q"]
--- error_code eval
[401, 401]
--- response_headers eval
['WWW-Authenticate: Key realm="keys of localhost"',
 'WWW-Authenticate: Key realm="say \"hi\" \\\\ bye"']



=== TEST 20: an internal redirect (error_page) checks the key again for the new location
--- config
    auth_api_key "api";
    auth_api_key_file ../html/keys.txt;

    location /t {
        error_page 404 = /fallback;
        alias html/missing.txt;
    }
    location /fallback {
        add_header X-Consumer $api_key_consumer always;
        add_header X-Plan $api_key_plan always;
        alias html/fallback.txt;
    }
--- user_files
>>> fallback.txt
fallback
>>> keys.txt
SHA(alice) alice plan=gold
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
["X-API-Key: $::key{alice}", ""]
--- error_code eval
[200, 401]
--- response_headers eval
["X-Consumer: alice\nX-Plan: gold", 'WWW-Authenticate: Key realm="api"']
--- response_body_like eval
["^fallback\n\$", "401"]



=== TEST 21: a subrequest sees the client request's consumer
--- config
    location /page {
        auth_api_key "api";
        auth_api_key_file ../html/keys.txt;
        ssi on;
        ssi_types text/plain;
        alias html/page.txt;
    }
    location = /whoami {
        internal;
        return 200 "subrequest: $api_key_consumer, $api_key_plan";
    }
--- user_files
>>> page.txt
<!--# include virtual="/whoami" -->; echo: <!--# echo var="api_key_Plan" -->
>>> keys.txt
SHA(alice) alice plan=gold
SHA(bob) bob plan=free
--- request eval
["GET /page", "GET /page", "GET /page"]
--- more_headers eval
["X-API-Key: $::key{alice}", "X-API-Key: $::key{bob}", ""]
--- error_code eval
[200, 200, 401]
--- response_body_like eval
["^subrequest: alice, gold; echo: gold\n\$",
 "^subrequest: bob, free; echo: free\n\$", "401"]



=== TEST 22: the variables read before the access phase look the key up
--- config
    location /t {
        auth_api_key "api";
        auth_api_key_file ../html/keys.txt;
        set $who "[$api_key_consumer]";
        add_header X-Who $who always;
        alias html/ok.txt;
    }
--- request
GET /t
--- more_headers eval
"X-API-Key: $::key{bob}"
--- response_headers
X-Who: [bob]



=== TEST 23: an unknown key read before the access phase: empty, and one line when access rejects it
--- config
    location /t {
        auth_api_key "api";
        auth_api_key_file ../html/keys.txt;
        set $who "[$api_key_consumer]";
        add_header X-Who $who always;
        add_header X-Consumer $api_key_consumer always;
        alias html/ok.txt;
    }
--- request
GET /t
--- more_headers eval
"X-API-Key: $::key{mallory}"
--- error_code: 401
--- response_headers
X-Who: []
!X-Consumer
--- grep_error_log eval
qr/auth_api_key: [a-z ]+key/
--- grep_error_log_out
auth_api_key: unknown key



=== TEST 24: one connection, keys of several consumers in turn: nothing carried over
--- pipelined_requests eval
["GET /t", "GET /t", "GET /t", "GET /t"]
--- more_headers eval
["X-API-Key: $::key{alice}", "X-API-Key: $::key{mallory}",
 "X-API-Key: $::key{bob}", ""]
--- error_code eval
[200, 401, 200, 401]
--- response_headers eval
["X-Consumer: alice\nX-Plan: gold", "!X-Consumer\n!X-Plan",
 "X-Consumer: bob\nX-Plan: free", "!X-Consumer\n!X-Plan"]
