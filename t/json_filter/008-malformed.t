# json_filter and malformed JSON: the headers are already sent when the
# body stops being JSON (bytes that are not UTF-8, nesting deeper than 256,
# a name or the space before it over 4k, a body that ends too soon).
#
# With json_fields alone (TEST 1-8, 20) the body is not cut short: what
# follows the break passes through unchanged, and one error line says
# where the JSON broke.  Under json_deny or json_allow (TEST 9-17, 21) nothing
# that they remove ever passes: the body stops before the byte that broke
# it, less what was still undecided (the separator and name of a member
# that might be denied), one error line says where, and the response ends
# as one whose upstream broke off: no last chunk, the connection closed.
# An HTTP/1.0 request shows the bytes sent; nginx as an HTTP/1.1 client
# (/via/) shows that the end is seen as premature.  An unpaired surrogate
# escape ("\ud800") is valid JSON, trimmed as any other string (TEST 18-19).

use File::Spec;
use Test::Nginx::Socket 'no_plan';

$ENV{TEST_NGINX_JF_DATA} = File::Spec->rel2abs('t/data/json_filter');

# The bodies that break, and what json_deny "secret */secret" and the
# json_allow of $ALLOW keep of them: the same bytes.  "LEAK" is in every
# member they remove.
our $ALLOW = 'id,name,x,items(id,name),deep,obj(id,name)';

our @ITEMS = map { qq({"id":$_,"name":"item $_","secret":"LEAK $_"}) } 1 .. 60;
our @KEPT = map { qq({"id":$_,"name":"item $_"}) } 1 .. 60;

our %BAD = (
    # a byte that is not UTF-8 in a kept value, then a denied member
    'utf8-kept.json' => [qq({"id":1,"name":"ab\xffcd","secret":"LEAK","x":2}\n),
                         '{"id":1,"name":"ab'],
    # ... right after a denied member's name, and after its colon
    'utf8-name-end.json' => [qq({"id":1,"secret"\xff:"LEAK","x":2}\n),
                             '{"id":1'],
    'utf8-colon.json' => [qq({"id":1,"secret":\xff"LEAK","x":2}\n),
                          '{"id":1'],
    # ... inside a denied member's name, and inside its value
    'utf8-in-name.json' => [qq({"id":1,"sec\xffret":"LEAK","x":2}\n),
                            '{"id":1'],
    'utf8-in-value.json' => [qq({"id":1,"secret":"LE\xffAK","x":2}\n),
                             '{"id":1'],
    # ... as the first byte
    'utf8-first.json' => [qq(\xff{"secret":"LEAK"}\n), ''],
    # ... in an object kept in part, after a denied member
    'utf8-nested.json' => [qq({"id":1,"obj":{"id":2,"secret":"LEAK",)
                           . qq("name":"n\xffm"},"secret":"LEAK"}\n),
                           '{"id":1,"obj":{"id":2,"name":"n'],
    # an overlong form and a surrogate written in UTF-8
    'utf8-overlong.json' => [qq({"id":1,"name":"\xc0\xaf","secret":"LEAK"}\n),
                             '{"id":1,"name":"'],
    'utf8-surrogate.json' => [qq({"id":1,"name":"\xed\xa0\x80",)
                              . qq("secret":"LEAK"}\n),
                              qq({"id":1,"name":"\xed)],
    # nesting deeper than 256 levels, then a denied member
    'deep.json' => ['{"id":1,"deep":' . ('[' x 300) . (']' x 300)
                    . qq(,"secret":"LEAK"}\n),
                    '{"id":1,"deep":' . ('[' x 255)],
    # the space before a denied name longer than 4k
    'space.json' => ['{"id":1,' . (' ' x 5000) . qq("secret":"LEAK","x":2}\n),
                     '{"id":1'],
    # ... and before the brace that closes the object
    'space-close.json' => ['{"id":1,"x":3' . (' ' x 5000) . qq(}\n),
                           '{"id":1,"x":3'],
    # the body ends inside a denied name, and after one
    'end-in-name.json' => ['{"id":1,"x":[1,2],"secr', '{"id":1,"x":[1,2]'],
    'end-after-name.json' => ['{"id":1,"x":[1,2],"secret"', '{"id":1,"x":[1,2]'],
    # 3 KB of elements, the bad byte in the last but one
    'late.json' => ['{"id":1,"items":[' . join(',', @ITEMS)
                    . qq(,{"id":99,"secret":"LEAK","name":"bad\xffname"},)
                    . qq({"id":100,"secret":"LEAK"}]}\n),
                    '{"id":1,"items":[' . join(',', @KEPT)
                    . ',{"id":99,"name":"bad'],
);

our @BAD = sort keys %BAD;

# valid JSON with unpaired surrogates: a high one before a quote, before
# another escape and before an escaped low one's look-alike, a low one
# alone, and a pair
our $LONE = <<'_EOJ_';
{"id":"\ud800","name":"a\udc00b\ud83d\ude00","secret":"\ud800LEAK","x":"\ud800\n\ud800\u0041\udbff\\udc00","items":[{"id":"\udfff","secret":"\ud800"}],"obj":{"secret":"\ud800\ud800","id":2,"name":"\ud800\"q"},"x\ud83d":"\ud83d"}
_EOJ_
our $LONE_TRIMMED = <<'_EOJ_';
{"id":"\ud800","name":"a\udc00b\ud83d\ude00","x":"\ud800\n\ud800\u0041\udbff\\udc00","items":[{"id":"\udfff"}],"obj":{"id":2,"name":"\ud800\"q"}}
_EOJ_
our $LONE_DENIED = <<'_EOJ_';
{"id":"\ud800","name":"a\udc00b\ud83d\ude00","x":"\ud800\n\ud800\u0041\udbff\\udc00","items":[{"id":"\udfff"}],"obj":{"id":2,"name":"\ud800\"q"},"x\ud83d":"\ud83d"}
_EOJ_

# an array of scalars one level too deep, in an object whose members a
# deny path decides (each value read whole, as a scalar is)
our $DEEP_FLAT = '{"id":1,"deep":' . ('[' x 254) . '{"x":[1],"secret":"LEAK"}'
                 . (']' x 254) . qq(}\n);

our $FILES = [(map { [$_, $BAD{$_}[0]] } @BAD), ['lone.json', $LONE],
              ['deep-flat.json', $DEEP_FLAT]];

# one error line for each request, saying where the body was cut short
our $CUT = qr/\Ajson_filter: (?:malformed JSON from upstream: [^\n]+ at (?:byte \d+|its end)|a member name or the space before it is longer than 4k at byte \d+); the response is cut short(?: there)?\n\z/;

# locations: /deny/, /allow/, their 8-byte buffers, proxies to them with
# proxy_buffering on and off (and small buffers), the unfiltered /raw/,
# and /via/, nginx as an HTTP/1.1 client of any of them
our $CONFIG = <<"_EOC_";
    default_type application/json;

    location /deny/ {
        json_deny secret */secret;
        alias html/;
    }
    location /allow/ {
        json_allow "$ALLOW";
        alias html/;
    }
    location /deny-split/ {
        json_deny secret */secret;
        sendfile off;
        output_buffers 1 8;
        alias html/;
    }
    location /allow-split/ {
        json_allow "$ALLOW";
        sendfile off;
        output_buffers 1 8;
        alias html/;
    }
    location /deny-buffered/ {
        json_deny secret */secret;
        proxy_buffer_size 1k;
        proxy_buffers 4 1k;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/raw/;
    }
    location /deny-unbuffered/ {
        json_deny secret */secret;
        proxy_buffering off;
        proxy_buffer_size 1k;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/raw/;
    }
    location /allow-unbuffered/ {
        json_allow "$ALLOW";
        proxy_buffering off;
        proxy_buffer_size 1k;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/raw/;
    }
    location /raw/ {
        sendfile off;
        output_buffers 1 512;
        alias html/;
    }
    location /fields/ {
        json_fields \$arg_fields;
        alias html/;
    }
    location /via/ {
        proxy_http_version 1.1;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('config', <<'_EOC_') unless defined $block->config;
    location /t/ {
        json_fields $arg_fields;
        default_type application/json;
        alias $TEST_NGINX_JF_DATA/;
    }
_EOC_

    $block->set_value('user_files', $FILES) unless defined $block->user_files;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: a break inside a kept array: trimmed up to the break, the rest unchanged, one error line
--- request
GET /t/broken-kept.json?fields=keep,x,keep2
--- response_body_like eval
qr{\A\{"keep":1,"x":\[1,2\s*3\],"drop2":4,"keep2":5\}\n\z}
--- grep_error_log eval
qr/\[error\](?=.*json_filter: .*malformed JSON)/
--- grep_error_log_out
[error]



=== TEST 2: a break inside a dropped member: what follows the break is sent as is
--- request
GET /t/broken-dropped.json?fields=keep,keep2
--- response_body_like eval
qr{\A\{"keep":1.*2\],"keep2":3\}\n\z}s
--- grep_error_log eval
qr/\[error\](?=.*json_filter: .*malformed JSON)/
--- grep_error_log_out
[error]



=== TEST 3: not JSON from the first byte: the whole body unchanged
--- request
GET /t/broken-start.json?fields=keep
--- response_body
nope{"keep":1}
--- grep_error_log eval
qr/\[error\](?=.*json_filter: .*malformed JSON)/
--- grep_error_log_out
[error]



=== TEST 4: one byte per buffer: still one error line, the same body
--- log_level: warn
--- config
    location /t/ {
        json_fields $arg_fields;
        default_type application/json;
        sendfile off;
        output_buffers 1 1;
        alias $TEST_NGINX_JF_DATA/;
    }
--- request
GET /t/broken-kept.json?fields=keep,x,keep2
--- response_body_like eval
qr{\A\{"keep":1,"x":\[1,2\s*3\],"drop2":4,"keep2":5\}\n\z}
--- grep_error_log eval
qr/\[error\](?=.*json_filter: .*malformed JSON)/
--- grep_error_log_out
[error]



=== TEST 5: a body cut short inside an array: what was kept is sent, and an error line
--- request
GET /t/truncated.json?fields=keep,x
--- response_body_like eval
qr{\A\{"keep":1,"x":\[1,2\z}
--- grep_error_log eval
qr/\[error\](?=.*json_filter: )/
--- grep_error_log_out
[error]



=== TEST 6: a malformed proxied body, unbuffered: the same, and the connection ends cleanly
--- config
    location /t {
        json_fields $arg_fields;
        proxy_buffering off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        default_type application/json;
        return 200 '{"a":1,"b":2,"c":[1,}],"d":4}';
    }
--- request
GET /t?fields=a,c
--- response_body_like eval
qr{\A\{"a":1,"c":\[1,\}\],"d":4\}\z}
--- grep_error_log eval
qr/\[error\](?=.*json_filter: .*malformed JSON)/
--- grep_error_log_out
[error]



=== TEST 7: no projection: a malformed body is not looked at, no error line
--- request
GET /t/broken-start.json
--- response_body
nope{"keep":1}
--- no_error_log
json_filter:
[error]



=== TEST 8: well-formed JSON logs no error
--- request
GET /t/product.json?fields=id
--- response_body
{"id":7}
--- no_error_log
[error]



=== TEST 9: json_deny and json_allow, the break in the body's only buffer: cut before it, less what was undecided, one error line each
--- config eval: $::CONFIG
--- request eval
[map { my $f = $_; map { "GET /$_/$f HTTP/1.0" } qw(deny allow) } @::BAD]
--- response_body eval
[map { ($::BAD{$_}[1]) x 2 } @::BAD]
--- raw_response_headers_unlike eval
[('Content-Length:') x (2 * @::BAD)]
--- grep_error_log eval
qr/json_filter: .*?(?= while |, client: )/
--- grep_error_log_out eval
$::CUT



=== TEST 10: ... in 8-byte buffers, the break in a later one: the same bytes
--- config eval: $::CONFIG
--- request eval
[map { my $f = $_; map { "GET /$_/$f HTTP/1.0" } qw(deny-split allow-split) }
 @::BAD]
--- response_body eval
[map { ($::BAD{$_}[1]) x 2 } @::BAD]
--- grep_error_log eval
qr/json_filter: .*?(?= while |, client: )/
--- grep_error_log_out eval
$::CUT



=== TEST 11: an HTTP/1.1 client (nginx) sees each of them end too soon
--- config eval: $::CONFIG
--- request eval
[map { "GET /via/deny/$_ HTTP/1.0" } @::BAD]
--- response_body eval
[map { $::BAD{$_}[1] } @::BAD]
--- error_log
upstream prematurely closed connection while reading upstream
--- grep_error_log eval
qr/json_filter: .*?(?= while |, client: )/
--- grep_error_log_out eval
$::CUT



=== TEST 12: from a proxied upstream, buffered and not, in 1k buffers: the same bytes
--- config eval: $::CONFIG
--- request eval
[map { my $f = $_; map { "GET /$_/$f HTTP/1.0" }
                   qw(deny-buffered deny-unbuffered allow-unbuffered) } @::BAD]
--- response_body eval
[map { ($::BAD{$_}[1]) x 3 } @::BAD]
--- grep_error_log eval
qr/json_filter: .*?(?= while |, client: )/
--- grep_error_log_out eval
$::CUT



=== TEST 13: ... and an HTTP/1.1 client sees them end too soon
--- config eval: $::CONFIG
--- request eval
[map { my $f = $_; map { "GET /via/$_/$f HTTP/1.0" }
                   qw(deny-buffered deny-unbuffered allow-unbuffered) }
 qw(late.json utf8-colon.json deep.json end-in-name.json)]
--- response_body eval
[map { ($::BAD{$_}[1]) x 3 }
 qw(late.json utf8-colon.json deep.json end-in-name.json)]
--- error_log
upstream prematurely closed connection while reading upstream
--- grep_error_log eval
qr/json_filter: .*?(?= while |, client: )/
--- grep_error_log_out eval
$::CUT



=== TEST 14: the error line says what broke and where: a byte not UTF-8
--- config eval: $::CONFIG
--- request
GET /deny/utf8-kept.json HTTP/1.0
--- response_body eval
$::BAD{'utf8-kept.json'}[1]
--- grep_error_log eval
qr/\[error\] .*?json_filter: .*?(?= while |, client: )/
--- grep_error_log_out eval
qr/\A\[error\] [^\n]*json_filter: malformed JSON from upstream: invalid UTF-8 at byte 18; the response is cut short there\n\z/



=== TEST 15: ... nesting too deep
--- config eval: $::CONFIG
--- request
GET /allow-split/deep.json HTTP/1.0
--- response_body eval
$::BAD{'deep.json'}[1]
--- grep_error_log eval
qr/json_filter: .*?(?= while |, client: )/
--- grep_error_log_out
json_filter: malformed JSON from upstream: nesting too deep at byte 270; the response is cut short there



=== TEST 16: ... the space before a name over 4k
--- config eval: $::CONFIG
--- request
GET /deny/space.json HTTP/1.0
--- response_body eval
$::BAD{'space.json'}[1]
--- grep_error_log eval
qr/json_filter: .*?(?= while |, client: )/
--- grep_error_log_out
json_filter: a member name or the space before it is longer than 4k at byte 7; the response is cut short there



=== TEST 17: ... a body that ends too soon
--- config eval: $::CONFIG
--- request
GET /deny-unbuffered/end-in-name.json HTTP/1.0
--- response_body eval
$::BAD{'end-in-name.json'}[1]
--- grep_error_log eval
qr/json_filter: .*?(?= while |, client: )/
--- grep_error_log_out
json_filter: malformed JSON from upstream: unexpected end of input at its end; the response is cut short



=== TEST 18: unpaired surrogates are valid JSON: trimmed under json_deny and json_allow, whole, with no error
--- config eval: $::CONFIG
--- request eval
["GET /deny/lone.json", "GET /deny-split/lone.json",
 "GET /deny-unbuffered/lone.json", "GET /allow/lone.json",
 "GET /allow-split/lone.json", "GET /via/deny-buffered/lone.json HTTP/1.0"]
--- response_body eval
[$::LONE_DENIED, $::LONE_DENIED, $::LONE_DENIED, $::LONE_TRIMMED,
 $::LONE_TRIMMED, $::LONE_DENIED]
--- no_error_log
[error]
[crit]
[alert]



=== TEST 19: ... and under json_fields, where a name's unpaired surrogate is the 3 bytes of its code point
--- config eval: $::CONFIG
--- request eval
["GET /fields/lone.json?fields=id,x", "GET /fields/lone.json?fields=x%ED%A0%BD",
 "GET /fields/lone.json?fields=*(id)"]
--- response_body eval
[qq({"id":"\\ud800","x":"\\ud800\\n\\ud800\\u0041\\udbff\\\\udc00"}\n),
 qq({"x\\ud83d":"\\ud83d"}\n),
 qq({"id":"\\ud800","name":"a\\udc00b\\ud83d\\ude00","secret":"\\ud800LEAK",)
 . qq("x":"\\ud800\\n\\ud800\\u0041\\udbff\\\\udc00","items":[{"id":"\\udfff"}],)
 . qq("obj":{"id":2},"x\\ud83d":"\\ud83d"}\n)]
--- no_error_log
[error]



=== TEST 20: json_fields alone keeps passing the rest of a broken body untrimmed, with one error line
--- config eval: $::CONFIG
--- request eval
["GET /fields/space.json?fields=id,x", "GET /fields/utf8-colon.json?fields=id,x"]
--- response_body eval
[$::BAD{'space.json'}[0], qq({"id":1\xff"LEAK","x":2}\n)]
--- grep_error_log eval
qr/json_filter: .*?(?= while |, client: )/
--- grep_error_log_out eval
qr/\Ajson_filter: [^\n]+ at byte \d+; the rest passes untrimmed\n\z/



=== TEST 21: ... as the space before the brace that closes an object
--- config eval: $::CONFIG
--- request eval
["GET /deny/space-close.json HTTP/1.0", "GET /allow/space-close.json HTTP/1.0"]
--- response_body eval
[($::BAD{'space-close.json'}[1]) x 2]
--- grep_error_log eval
qr/json_filter: .*?(?= while |, client: )/
--- grep_error_log_out eval
["json_filter: a member name or the space before it is longer than 4k at byte 13; the response is cut short there\n",
 "json_filter: a member name or the space before it is longer than 4k at byte 13; the response is cut short there\n"]



=== TEST 22: ... an array of scalars too deep, where a member is read whole
--- config eval: $::CONFIG
--- request eval
["GET /deny/deep-flat.json HTTP/1.0", "GET /deny-split/deep-flat.json HTTP/1.0"]
--- response_body eval
[('{"id":1,"deep":' . ('[' x 254) . '{"x":') x 2]
--- grep_error_log eval
qr/json_filter: .*?(?= while |, client: )/
--- grep_error_log_out eval
[("json_filter: malformed JSON from upstream: nesting too deep at byte 274; the response is cut short there\n") x 2]
