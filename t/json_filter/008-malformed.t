# json_filter and malformed JSON: the headers are already sent, so the body
# is not cut short: what follows the break passes through unchanged, and
# one error line says where the JSON broke.

use File::Spec;
use Test::Nginx::Socket 'no_plan';

$ENV{TEST_NGINX_JF_DATA} = File::Spec->rel2abs('t/data/json_filter');

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('config', <<'_EOC_') unless defined $block->config;
    location /t/ {
        json_fields $arg_fields;
        default_type application/json;
        alias $TEST_NGINX_JF_DATA/;
    }
_EOC_
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
