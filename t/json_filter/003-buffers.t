# json_filter: bodies that arrive in many buffers, split anywhere: one
# byte per buffer (a static file read with `output_buffers 1 1`), odd
# sizes, file buffers (sendfile), unbuffered and chunked upstream bodies.
#
# many.json is 10 KB of 60 elements with escapes, UTF-8, raw number text
# and brackets inside strings; many.fields.json and many.deny.json are the
# exact results (t/data/json_filter/make-many writes all three).

use File::Spec;
use Test::Nginx::Socket 'no_plan';

$ENV{TEST_NGINX_JF_DATA} = File::Spec->rel2abs('t/data/json_filter');

our %F;
for my $f (qw(many.json many.fields.json many.deny.json)) {
    open my $fh, '<:raw', "$ENV{TEST_NGINX_JF_DATA}/$f" or die "$f: $!";
    local $/;
    $F{$f} = <$fh>;
}

# the selection many.fields.json was made with
our $SEL = 'fields=items(id,name,nested/deep),trailer';

# For pretty-printed bodies: the body with the whitespace outside strings
# removed (to compare with the compact result), and a note when it differs
# from the first response of the block (the one-buffer reference).
our $first;
sub squeeze {
    my $body = shift;
    (my $s = $body) =~ s/("(?:[^"\\]|\\.)*")|\s+/defined $1 ? $1 : ''/ge;
    $first //= $body;
    return $body eq $first ? $s : "$s (whitespace differs from request 0)";
}

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('no_error_log', "[error]\n[crit]\n[alert]\n[emerg]")
        unless defined $block->no_error_log || defined $block->error_log;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: one byte per buffer: the selection and json_deny give the exact results
# one byte per buffer makes the debug log huge and slow: log warnings only
--- log_level: warn
--- config
    location /f/ {
        json_fields $arg_fields;
        default_type application/json;
        sendfile off;
        output_buffers 1 1;
        alias $TEST_NGINX_JF_DATA/;
    }
    location /d/ {
        json_deny items/desc items/nested/secret meta/note;
        default_type application/json;
        sendfile off;
        output_buffers 1 1;
        alias $TEST_NGINX_JF_DATA/;
    }
--- request eval
["GET /f/many.json?$::SEL", "GET /d/many.json", "GET /f/many.json?fields=*"]
--- response_body eval
[$::F{'many.fields.json'}, $::F{'many.deny.json'}, $::F{'many.json'}]
--- error_code eval
[200, 200, 200]



=== TEST 2: buffers of 2, 3, 7 and 64 bytes, and one buffer for the whole file
# one byte per buffer makes the debug log huge and slow: log warnings only
--- log_level: warn
--- config
    location /t/ {
        json_fields $arg_fields;
        default_type application/json;
        sendfile off;
        alias $TEST_NGINX_JF_DATA/;

        location /t/2/ { output_buffers 1 2;  alias $TEST_NGINX_JF_DATA/; }
        location /t/3/ { output_buffers 2 3;  alias $TEST_NGINX_JF_DATA/; }
        location /t/7/ { output_buffers 1 7;  alias $TEST_NGINX_JF_DATA/; }
        location /t/64/ { output_buffers 4 64; alias $TEST_NGINX_JF_DATA/; }
        location /t/all/ { output_buffers 1 64k; alias $TEST_NGINX_JF_DATA/; }
    }
--- request eval
[map { "GET /t/$_/many.json?$::SEL" } qw(2 3 7 64 all)]
--- response_body eval
[($::F{'many.fields.json'}) x 5]
--- error_code eval
[200, 200, 200, 200, 200]



=== TEST 3: sendfile on: the file is read into memory for the filter
--- config
    location /t/ {
        json_fields $arg_fields;
        default_type application/json;
        sendfile on;
        alias $TEST_NGINX_JF_DATA/;
    }
--- request eval
["GET /t/many.json?$::SEL", "GET /t/many.json?fields=meta"]
--- response_body eval
[$::F{'many.fields.json'},
 qq({"meta":{"count":60,"next":null,"note":"brace } bracket ] quote \\" backslash \\\\"}}\n)]
--- error_code eval
[200, 200]



=== TEST 4: an unbuffered upstream read 512 bytes at a time; the header's length moves the splits
--- config
    location /t {
        json_fields $arg_fields;
        proxy_buffering off;
        proxy_buffer_size 512;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/many.json;
    }
    location /backend/ {
        default_type application/json;
        add_header X-Pad $arg_pad;
        alias $TEST_NGINX_JF_DATA/;
    }
--- request eval
[map { "GET /t?$::SEL&pad=" . ('p' x $_) } 0, 1, 2, 3, 5, 8, 13, 21]
--- response_body eval
[($::F{'many.fields.json'}) x 8]
--- error_code eval
[(200) x 8]



=== TEST 5: a chunked upstream body in 7-byte chunks (HTTP/1.1 upstream, unbuffered)
--- config
    location /t {
        json_fields $arg_fields;
        proxy_http_version 1.1;
        proxy_buffering off;
        proxy_buffer_size 1k;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/many.json;
    }
    location /backend/ {
        default_type application/json;
        sendfile off;
        output_buffers 1 7;
        postpone_output 0;
        # sub_filter drops Content-Length: the backend answers chunked
        sub_filter_types application/json;
        sub_filter '@@@' '';
        alias $TEST_NGINX_JF_DATA/;
    }
--- request eval
["GET /t?$::SEL", "GET /t?fields=trailer,meta/count"]
--- response_body eval
[$::F{'many.fields.json'}, qq({"meta":{"count":60},"trailer":"end"}\n)]
--- error_code eval
[200, 200]



=== TEST 6: a chunked upstream body, buffered by the proxy in small buffers
--- config
    location /t {
        json_deny items/desc items/nested/secret meta/note;
        proxy_http_version 1.1;
        proxy_buffers 4 1k;
        proxy_buffer_size 1k;
        proxy_busy_buffers_size 1k;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/many.json;
    }
    location /backend/ {
        default_type application/json;
        sendfile off;
        output_buffers 1 100;
        postpone_output 0;
        sub_filter_types application/json;
        sub_filter '@@@' '';
        alias $TEST_NGINX_JF_DATA/;
    }
--- request
GET /t
--- response_body eval
$::F{'many.deny.json'}



=== TEST 7: pretty-printed, one byte per buffer: the same bytes as from one buffer
# one byte per buffer makes the debug log huge and slow: log warnings only
--- log_level: warn
--- config
    location /t/ {
        json_fields $arg_fields;
        default_type application/json;
        sendfile off;
        alias $TEST_NGINX_JF_DATA/;

        location /t/1/ { output_buffers 1 1; alias $TEST_NGINX_JF_DATA/; }
        location /t/5/ { output_buffers 1 5; alias $TEST_NGINX_JF_DATA/; }
    }
--- request eval
["GET /t/many-pretty.json?$::SEL", "GET /t/1/many-pretty.json?$::SEL",
 "GET /t/5/many-pretty.json?$::SEL"]
--- response_body_filters eval
\&::squeeze
--- response_body eval
[(substr $::F{'many.fields.json'}, 0, -1) x 3]
--- error_code eval
[200, 200, 200]



=== TEST 8: what is kept of an unbuffered upstream's reads goes out as they come, not held for more
# the upstream sends its first 24 elements at once and the rest at 40
# bytes a second: each read comes with a flush, and the client has the
# kept part of the first ones long before the end
--- config
    location /t {
        json_fields items/id;
        proxy_buffering off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/many.json;
    }
    location /backend/ {
        default_type application/json;
        sendfile off;
        limit_rate_after 4k;
        limit_rate 40;
        alias $TEST_NGINX_JF_DATA/;
    }
--- request
GET /t HTTP/1.0
--- timeout: 1.5
--- abort
--- response_body_like: ^\{"items":\[\{"id":1\},\{"id":2\},\{"id":3\},.*\{"id":20\}
--- error_code: 200
