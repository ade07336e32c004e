# aggregate: configuration errors found at startup, and every directive at
# every level where it is allowed.

use Test::Nginx::Socket 'no_plan';

no_shuffle();
run_tests();

__DATA__

=== TEST 1: every directive at http, server and location level loads and works
--- http_config
    aggregate_timeout 5s;
    aggregate_merge off;
    aggregate_part_max_size 64k;
    aggregate_pass_request_body off;
--- config
    aggregate_merge on;

    location = /t {
        aggregate_timeout 2s;
        aggregate_part_max_size 1k;
        aggregate_part a /_a;
        aggregate_part b-2.x /_b required;
    }
    location = /_a { internal; return 200 '{"a":1}'; }
    location = /_b { internal; return 200 '{"b":2}'; }
--- request
GET /t
--- response_body chomp
{"a":1,"b":2}
--- no_error_log
[error]
[emerg]



=== TEST 2: a part name with characters that would need escaping
--- config
    location = /t {
        aggregate_part "a b" /_a;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid part name "a b": letters, digits, "_", "-" and "\." only in \S+nginx\.conf:\d+/



=== TEST 3: an empty part name
--- config
    location = /t {
        aggregate_part "" /_a;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"aggregate_part" directive has a name that is empty or longer than 64 characters in \S+nginx\.conf:\d+/



=== TEST 4: the same part name twice
--- config
    location = /t {
        aggregate_part a /_a;
        aggregate_part a /_b;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*duplicate part "a" in \S+nginx\.conf:\d+/



=== TEST 5: a URI that is not local
--- config
    location = /t {
        aggregate_part a http://example.com/;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid URI "http:\/\/example\.com\/" of part "a": a local URI such as "\/_svc\/products" in \S+nginx\.conf:\d+/



=== TEST 6: an unknown flag after the URI
--- config
    location = /t {
        aggregate_part a /_a optional;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter "optional": only "required" may follow the URI in \S+nginx\.conf:\d+/



=== TEST 7: too few arguments
--- config
    location = /t {
        aggregate_part a;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid number of arguments in "aggregate_part" directive/



=== TEST 8: aggregate_part outside a location
--- config
    aggregate_part a /_a;
--- must_die
--- error_log eval
qr/\[emerg\] .*"aggregate_part" directive is not allowed here/



=== TEST 9: a zero timeout
--- config
    location = /t {
        aggregate_timeout 0;
        aggregate_part a /_a;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"aggregate_timeout" must be more than 0/



=== TEST 10: an invalid size
--- config
    location = /t {
        aggregate_part_max_size 1q;
        aggregate_part a /_a;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"aggregate_part_max_size" directive invalid value/



=== TEST 11: an unknown variable in a part URI
--- config
    location = /t {
        aggregate_part a /_a/$nosuchvariable;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*unknown "nosuchvariable" variable/
