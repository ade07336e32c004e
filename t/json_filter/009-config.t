# json_filter: configuration errors found at startup (selections written
# in the configuration, numbers, arguments), and a configuration using
# every directive at every level.

use Test::Nginx::Socket 'no_plan';

no_shuffle();
run_tests();

__DATA__

=== TEST 1: every directive at http, server and location level loads and works
--- http_config
    json_fields_max_length 64;
    json_fields_max_depth 4;
    json_filter_types text/plain;
    json_deny internal;
--- config
    json_allow "id,name,internal";

    location /t {
        json_fields $arg_fields;
        json_deny internal items/cost */secret;
        default_type application/json;
        return 200 '{"id":1,"name":"n","internal":2,"x":3}';
    }
--- request eval
["GET /t?fields=id,x", "GET /t"]
--- response_body eval
['{"id":1}', '{"id":1,"name":"n"}']
--- error_code eval
[200, 200]
--- no_error_log
[error]
[emerg]



=== TEST 2: json_fields "a,,b": an empty name is refused at startup
--- config
    location /t {
        json_fields "a,,b";
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid selection "a,,b".* in \S+nginx\.conf:\d+/



=== TEST 3: json_fields with unbalanced parentheses
--- config
    location /t {
        json_fields "items(id,name";
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"items\(id,name".* in \S+nginx\.conf:\d+/



=== TEST 4: json_fields with a space in a name
--- config
    location /t {
        json_fields "first name";
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"first name".* in \S+nginx\.conf:\d+/



=== TEST 5: json_allow with a stray closing parenthesis
--- config
    location /t {
        json_allow "a)";
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"a\)".* in \S+nginx\.conf:\d+/



=== TEST 6: json_allow with an empty path step
--- config
    json_allow "address//city";
--- must_die
--- error_log eval
qr/\[emerg\] .*"address\/\/city".* in \S+nginx\.conf:\d+/



=== TEST 7: json_deny with an empty path step
--- config
    location /t {
        json_deny internal "a//b";
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"a\/\/b".* in \S+nginx\.conf:\d+/



=== TEST 8: json_deny with a trailing slash
--- config
    location /t {
        json_deny "items/";
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"items\/".* in \S+nginx\.conf:\d+/



=== TEST 9: json_fields_max_length that is not a number
--- config
    location /t {
        json_fields_max_length abc;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"json_fields_max_length".* in \S+nginx\.conf:\d+/



=== TEST 10: json_fields_max_length that is negative
--- config
    location /t {
        json_fields_max_length -1;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"json_fields_max_length".* in \S+nginx\.conf:\d+/



=== TEST 11: json_fields_max_depth that is not a number
--- http_config
    json_fields_max_depth 8k;
--- config
    location /t {
        json_fields id;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"json_fields_max_depth".* in \S+nginx\.conf:\d+/



=== TEST 12: json_fields takes one argument
--- config
    location /t {
        json_fields id name;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"json_fields".* in \S+nginx\.conf:\d+/



=== TEST 13: json_deny needs a path
--- config
    location /t {
        json_deny;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"json_deny".* in \S+nginx\.conf:\d+/



=== TEST 14: json_filter_types needs a type
--- config
    location /t {
        json_filter_types;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"json_filter_types".* in \S+nginx\.conf:\d+/



=== TEST 15: json_fields twice in one location
--- config
    location /t {
        json_fields id;
        json_fields name;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"json_fields".* in \S+nginx\.conf:\d+/



=== TEST 16: a selection containing a variable is only checked per request, so it loads
--- config
    location /t {
        json_fields "id,$arg_more";
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        default_type application/json;
        return 200 '{"id":1,"a":2,"b":3}';
    }
--- request eval
["GET /t?more=b", "GET /t?more=(", "GET /t"]
--- error_code eval
[200, 400, 400]
--- response_body_like eval
['^\{"id":1,"b":3\}$', '"error"', '"error"']



=== TEST 17: json_deny with a name longer than the 256 bytes a response's names are read for
--- config eval
"    location /t {
        json_deny a/" . ('n' x 257) . ";
    }"
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid path "a\/n{257}": a name longer than 256 bytes cannot be matched in \S+nginx\.conf:\d+/



=== TEST 18: ... 256 bytes are matched
--- config eval
"    location /t {
        json_deny a/" . ('n' x 256) . ";
        default_type application/json;
        return 200 '{\"a\":{\"" . ('n' x 256) . "\":1,\"" . ('n' x 255)
    . "\":2}}';
    }"
--- request
GET /t
--- response_body eval
'{"a":{"' . ('n' x 255) . '":2}}'
