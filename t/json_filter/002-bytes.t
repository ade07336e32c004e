# json_filter: what is kept is copied byte for byte: number text, string
# escapes, UTF-8, member order and the whitespace between kept members;
# only removed members and the separators next to them change.

use File::Spec;
use Test::Nginx::Socket 'no_plan';

$ENV{TEST_NGINX_JF_DATA} = File::Spec->rel2abs('t/data/json_filter');

# what a body filter makes of the body: is it JSON?
sub json_ok {
    require JSON::PP;
    my $body = shift;
    return eval { JSON::PP->new->allow_nonref->decode($body); 1 }
           ? "valid JSON\n" : "not JSON: $body";
}

# 100 levels of arrays in a member, then a short member
our $DEEP100 = '{"deep":' . ('[' x 100) . '1' . (']' x 100) . ',"keep":true}';

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('no_error_log', "[error]\n[crit]\n[alert]\n[emerg]")
        unless defined $block->no_error_log || defined $block->error_log;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: number text, escapes and UTF-8 pass byte for byte; a member with braces in strings is dropped whole
--- config
    location /t/ {
        json_fields $arg_fields;
        default_type application/json;
        alias $TEST_NGINX_JF_DATA/;
    }
--- request
GET /t/bytes.json?fields=big,huge,neg,exp,esc,utf8,empty,t,f,n,arr,ключ,last
--- response_body
{"big":9007199254740993,"huge":1e400,"neg":-0.0,"exp":1.5E-7,"esc":"caf\u00e9 \"q\" \\ \/ \n\t\u0000","utf8":"ünï 😀 ☃","empty":"","t":true,"f":false,"n":null,"arr":[1.0,2e+2,-3,"x\"y",{},[]],"ключ":"значение","last":0}



=== TEST 2: the order of the selection does not matter: the response's order is kept
--- config
    location /t/ {
        json_fields $arg_fields;
        default_type application/json;
        alias $TEST_NGINX_JF_DATA/;
    }
--- request
GET /t/bytes.json?fields=last,ключ,arr,huge,big
--- response_body
{"big":9007199254740993,"huge":1e400,"arr":[1.0,2e+2,-3,"x\"y",{},[]],"ключ":"значение","last":0}



=== TEST 3: json_deny of the last member leaves everything else exactly as sent
--- config
    location /t/ {
        json_deny last;
        default_type application/json;
        alias $TEST_NGINX_JF_DATA/;
    }
--- request
GET /t/bytes.json
--- response_body
{"big":9007199254740993,"huge":1e400,"neg":-0.0,"exp":1.5E-7,"esc":"caf\u00e9 \"q\" \\ \/ \n\t\u0000","utf8":"ünï 😀 ☃","dr\"op":{"x":"}]\"{[,"},"empty":"","t":true,"f":false,"n":null,"arr":[1.0,2e+2,-3,"x\"y",{},[]],"ключ":"значение"}



=== TEST 4: `*` keeps the whole document, byte for byte
--- config
    location /t/ {
        json_fields $arg_fields;
        default_type application/json;
        alias $TEST_NGINX_JF_DATA/;
    }
--- request
GET /t/bytes.json?fields=*
--- response_body
{"big":9007199254740993,"huge":1e400,"neg":-0.0,"exp":1.5E-7,"esc":"caf\u00e9 \"q\" \\ \/ \n\t\u0000","utf8":"ünï 😀 ☃","dr\"op":{"x":"}]\"{[,"},"empty":"","t":true,"f":false,"n":null,"arr":[1.0,2e+2,-3,"x\"y",{},[]],"ключ":"значение","last":0}



=== TEST 5: no trailing newline, and the space around the colon is kept
--- config
    location /t/ {
        json_fields $arg_fields;
        default_type application/json;
        alias $TEST_NGINX_JF_DATA/;
    }
--- request
GET /t/nonl.json?fields=id
--- response_body chop
{"id" : 7}



=== TEST 6: pretty-printed input: whitespace inside kept parts is kept, only the removed members' go
--- config
    location /t/ {
        json_deny   internal items/cost;
        default_type application/json;
        alias $TEST_NGINX_JF_DATA/;
    }
--- request
GET /t/pretty.json
--- response_body_like eval
qr{\A\{\n  "id" : 7,\s*"name":"Lamp",\n\t"items": \[\n    \{\n      "id": 1\s*\},\n    \{ "id": 2\s*\}\n  \],\n  "tags": \[ "a" , "b" \]\n\}\n\z}



=== TEST 7: pretty-printed input, removing the first and the last members
--- config
    location /t/ {
        json_fields $arg_fields;
        default_type application/json;
        alias $TEST_NGINX_JF_DATA/;
    }
--- request eval
["GET /t/pretty.json?fields=name,items",
 "GET /t/pretty.json?fields=items/id",
 "GET /t/pretty.json?fields=*"]
--- response_body_like eval
[qr{\A\{\s*"name":"Lamp",\n\t"items": \[\n    \{\n      "id": 1,\n      "cost": 2\n    \},\n    \{ "id": 2, "cost": 5 \}\n  \]\s*\}\n\z},
 qr{\A\{\s*"items": \[\n    \{\n      "id": 1\s*\},\n    \{ "id": 2\s*\}\n  \]\s*\}\n\z},
 qr{\A\{\n  "id" : 7,\n  "internal": \{\n    "sku": "L-7"\n  \},\n  "name":"Lamp",\n\t"items": \[\n    \{\n      "id": 1,\n      "cost": 2\n    \},\n    \{ "id": 2, "cost": 5 \}\n  \],\n  "tags": \[ "a" , "b" \]\n\}\n\z}]
--- error_code eval
[200, 200, 200]



=== TEST 8: CRLF line ends and leading whitespace are kept
--- config
    location /t/ {
        json_fields $arg_fields;
        default_type application/json;
        alias $TEST_NGINX_JF_DATA/;
    }
--- request eval
["GET /t/crlf.json?fields=a,c", "GET /t/crlf.json?fields=b"]
--- response_body_like eval
[qr{\A \{\r\n  "a": 1,\s*"c": \{\r\n    "d": 3\r\n  \}\r\n\}\r\n\z},
 qr{\A \{\s*"b": \[ 2 \]\s*\}\r\n\z}]
--- error_code eval
[200, 200]



=== TEST 9: deep nesting (20 levels) kept and dropped
--- config
    location /t/ {
        json_fields $arg_fields;
        default_type application/json;
        alias $TEST_NGINX_JF_DATA/;
    }
--- request eval
["GET /t/deep.json?fields=keep", "GET /t/deep.json?fields=deep/b,keep",
 "GET /t/deep.json?fields=z"]
--- response_body eval
[qq({"keep":true}\n),
 '{"deep":' . ('[' x 20) . '{"b":2}' . (']' x 20) . ',"keep":true}' . "\n",
 '{"z":' . ('{"y":' x 20) . '0' . ('}' x 20) . "}\n"]
--- error_code eval
[200, 200, 200]



=== TEST 10: a proxied body from a `return` is trimmed the same way
--- config
    location /t {
        json_fields $arg_fields;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        default_type application/json;
        return 200 '{"a" :"x\u0041", "b":[1 ,2], "c":{}}';
    }
--- request eval
["GET /t?fields=a,c", "GET /t?fields=b"]
--- response_body_like eval
[qr{\A\{"a" :"x\\u0041",\s*"c":\{\}\}\z}, qr{\A\{\s*"b":\[1 ,2\]\s*\}\z}]
--- error_code eval
[200, 200]



=== TEST 11: valid JSON nested 100 deep is still valid JSON once filtered, whether the deep member is dropped or kept
--- config
    location /t/ {
        json_fields $arg_fields;
        default_type application/json;
        alias html/;
    }
--- user_files eval
[["deep100.json", $::DEEP100]]
--- request eval
["GET /t/deep100.json?fields=keep", "GET /t/deep100.json?fields=deep,keep"]
--- response_body_filters eval
\&::json_ok
--- response_body eval
["valid JSON\n", "valid JSON\n"]
--- error_code eval
[200, 200]
--- no_error_log
[crit]
[alert]
