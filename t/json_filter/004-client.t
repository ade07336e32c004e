# json_filter: client selections that do not parse, are too long or too
# deep answer 400 with a short JSON body, before the request is passed on:
# the backend's line in access.log shows whether it was asked.

use Test::Nginx::Socket 'no_plan';

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('config', <<'_EOC_') unless defined $block->config;
    location /t {
        json_fields $arg_fields;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        default_type application/json;
        return 200 '{"a":{"b":{"c":{"d":1}}},"e":2}';
    }
_EOC_

    # a client's mistake is not the server's error
    $block->set_value('no_error_log', "[error]\n[crit]\n[alert]\n[emerg]")
        unless defined $block->no_error_log || defined $block->error_log;
});

our @BAD = ('a(b', 'a)', 'a(b))', 'a,,b', ',a', 'a,', 'a//b', 'a/', '/a',
            '()', 'a()', 'a*', 'a(b)c', 'a/(b)', 'a((b))', '*(', 'a(b,)');

no_shuffle();
run_tests();

__DATA__

=== TEST 1: selections that do not parse: 400 with a JSON body naming the error
--- request eval
[map { "GET /t?fields=$_" } @::BAD]
--- error_code eval
[(400) x @::BAD]
--- response_headers_like eval
[("Content-Type: application/json.*") x @::BAD]
--- response_body_like eval
[('"error"') x @::BAD]



=== TEST 2: ... and the backend is not asked for any of them
--- request eval
[map { "GET /t?fields=$_" } @::BAD]
--- error_code eval
[(400) x @::BAD]
--- no_access_log
GET /backend



=== TEST 3: the control: a valid selection reaches the backend
--- request
GET /t?fields=e
--- response_body chop
{"e":2}
--- access_log
GET /backend



=== TEST 4: a static location and a `return` answer 400 with a JSON body too
--- config
    location /t/ {
        json_fields $arg_fields;
        default_type application/json;
        return 200 '{"a":1}';
    }
    location /s/ {
        json_fields $arg_fields;
        default_type application/json;
        alias html/;
    }
--- user_files
>>> a.json
{"a":1,"b":2}
--- request eval
["GET /s/a.json?fields=a(", "GET /s/a.json?fields=b", "GET /t/x?fields=a("]
--- error_code eval
[400, 200, 400]
--- response_headers_like eval
["Content-Type: application/json.*", "Content-Type: application/json",
 "Content-Type: application/json.*"]
--- response_body_like eval
['"error"', '^\{"b":2\}\n$', '"error"']



=== TEST 5: json_fields_max_length: 10 characters pass, 11 are refused
--- config
    location /t {
        json_fields $arg_fields;
        json_fields_max_length 10;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        default_type application/json;
        return 200 '{"aaaaa":1,"bbbb":2,"bbbbb":3}';
    }
--- request eval
["GET /t?fields=aaaaa,bbbb", "GET /t?fields=aaaaa,bbbbb"]
--- error_code eval
[200, 400]
--- response_body_like eval
['^\{"aaaaa":1,"bbbb":2\}$', '"error"']



=== TEST 6: too long: the backend is not asked
--- config
    location /t {
        json_fields $arg_fields;
        json_fields_max_length 10;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        default_type application/json;
        return 200 '{"a":1}';
    }
--- request
GET /t?fields=aaaaa,bbbbb
--- error_code: 400
--- response_headers_like
Content-Type: application/json.*
--- no_access_log
GET /backend



=== TEST 7: the default json_fields_max_length is 1024
--- request eval
["GET /t?fields=" . ('a' x 1024), "GET /t?fields=" . ('a' x 1025),
 "GET /t?fields=e," . CORE::join(',', ('abcdefg') x 127) . ',abcdef',
 "GET /t?fields=e," . CORE::join(',', ('abcdefg') x 127) . ',abcdefg']
--- error_code eval
[200, 400, 200, 400]
--- response_body_like eval
['^\{\}$', '"error"', '^\{"e":2\}$', '"error"']



=== TEST 8: json_fields_max_depth 2: a and a/b pass; a/b/c and a(b(c)) are refused
--- config
    location /t {
        json_fields $arg_fields;
        json_fields_max_depth 2;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        default_type application/json;
        return 200 '{"a":{"b":{"c":{"d":1}}},"e":2}';
    }
--- request eval
["GET /t?fields=a", "GET /t?fields=a/b", "GET /t?fields=a(b,e),e",
 "GET /t?fields=a/b/c", "GET /t?fields=a(b(c))", "GET /t?fields=e,a(e,b/c)",
 "GET /t?fields=*/*/*"]
--- error_code eval
[200, 200, 200, 400, 400, 400, 400]
--- response_body_like eval
['^\{"a":\{"b":\{"c":\{"d":1\}\}\}\}$', '^\{"a":\{"b":\{"c":\{"d":1\}\}\}\}$',
 '^\{"a":\{"b":\{"c":\{"d":1\}\}\},"e":2\}$', '"error"', '"error"', '"error"',
 '"error"']



=== TEST 9: too deep: the backend is not asked
--- config
    location /t {
        json_fields $arg_fields;
        json_fields_max_depth 2;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        default_type application/json;
        return 200 '{"a":1}';
    }
--- request
GET /t?fields=a/b/c
--- error_code: 400
--- response_body_like: "error"
--- no_access_log
GET /backend



=== TEST 10: the default json_fields_max_depth is 8
--- config
    location /t {
        json_fields $arg_fields;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        default_type application/json;
        return 200 '{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":1,"x":2}}}}}}},"e":2}';
    }
--- request eval
["GET /t?fields=a/b/c/d/e/f/g/h", "GET /t?fields=a/b/c/d/e/f/g/h/i",
 "GET /t?fields=a(b(c(d(e(f(g(h)))))))", "GET /t?fields=a(b(c(d(e(f(g(h(i))))))))"]
--- error_code eval
[200, 400, 200, 400]
--- response_body_like eval
['^\{"a":\{"b":\{"c":\{"d":\{"e":\{"f":\{"g":\{"h":1\}\}\}\}\}\}\}\}$', '"error"',
 '^\{"a":\{"b":\{"c":\{"d":\{"e":\{"f":\{"g":\{"h":1\}\}\}\}\}\}\}\}$', '"error"']



=== TEST 11: a profile from a map is checked the same way
--- http_config
    map $http_x_client $profile {
        broken   "id,(";
        default  "e";
    }
--- config
    location /t {
        json_fields $profile;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        default_type application/json;
        return 200 '{"a":1,"e":2}';
    }
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
["X-Client: broken", "X-Client: web"]
--- error_code eval
[400, 200]
--- response_body_like eval
['"error"', '^\{"e":2\}$']
