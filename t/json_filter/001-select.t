# json_filter: selections (members, paths, sub-selections, arrays, `*`),
# json_allow as a ceiling, json_deny, per-client profiles and inheritance.
#
# The fixtures are in t/data/json_filter; each ends with a newline, which
# passes through after the top-level value.

use File::Spec;
use Test::Nginx::Socket 'no_plan';

$ENV{TEST_NGINX_JF_DATA} = File::Spec->rel2abs('t/data/json_filter');

# product.json, the document most blocks trim
our $P = '{"id":7,"name":"Lamp","price":19.5,'
    . '"internal":{"sku":"L-7","margin":0.4},'
    . '"address":{"city":"Oslo","zip":"0150","geo":{"lat":59.9,"lon":10.7}},'
    . '"items":[{"id":1,"name":"bulb","cost":2,"qty":3},'
    . '{"id":2,"name":"shade","cost":5,"qty":1}],'
    . '"tags":["new","sale"],"email":"l@example.com"}';

no_shuffle();
run_tests();

__DATA__

=== TEST 1: members: only the selected ones, in the response's order
--- config
    location /t/ {
        json_fields $arg_fields;
        default_type application/json;
        alias $TEST_NGINX_JF_DATA/;
    }
--- request eval
["GET /t/product.json?fields=id,name", "GET /t/product.json?fields=name,id",
 "GET /t/product.json?fields=email,id", "GET /t/product.json?fields=id,nosuch",
 "GET /t/product.json?fields=tags", "GET /t/product.json?fields=price,internal"]
--- response_body eval
[map { "$_\n" }
 '{"id":7,"name":"Lamp"}', '{"id":7,"name":"Lamp"}',
 '{"id":7,"email":"l@example.com"}', '{"id":7}', '{"tags":["new","sale"]}',
 '{"price":19.5,"internal":{"sku":"L-7","margin":0.4}}']
--- error_code eval
[200, 200, 200, 200, 200, 200]



=== TEST 2: paths and sub-selections inside objects
--- config
    location /t/ {
        json_fields $arg_fields;
        default_type application/json;
        alias $TEST_NGINX_JF_DATA/;
    }
--- request eval
["GET /t/product.json?fields=address/city",
 "GET /t/product.json?fields=address/geo/lat",
 "GET /t/product.json?fields=address(city,geo/lon)",
 "GET /t/product.json?fields=address(geo(lon),zip)",
 "GET /t/product.json?fields=internal/sku,id"]
--- response_body eval
[map { "$_\n" }
 '{"address":{"city":"Oslo"}}', '{"address":{"geo":{"lat":59.9}}}',
 '{"address":{"city":"Oslo","geo":{"lon":10.7}}}',
 '{"address":{"zip":"0150","geo":{"lon":10.7}}}',
 '{"id":7,"internal":{"sku":"L-7"}}']
--- error_code eval
[200, 200, 200, 200, 200]



=== TEST 3: a selection applied to an array applies to each element
--- config
    location /t/ {
        json_fields $arg_fields;
        default_type application/json;
        alias $TEST_NGINX_JF_DATA/;
    }
--- request eval
["GET /t/product.json?fields=items(id,name)",
 "GET /t/product.json?fields=items/qty",
 "GET /t/product.json?fields=items(name),id",
 "GET /t/product.json?fields=items"]
--- response_body eval
[map { "$_\n" }
 '{"items":[{"id":1,"name":"bulb"},{"id":2,"name":"shade"}]}',
 '{"items":[{"qty":3},{"qty":1}]}',
 '{"id":7,"items":[{"name":"bulb"},{"name":"shade"}]}',
 '{"items":[{"id":1,"name":"bulb","cost":2,"qty":3},'
 . '{"id":2,"name":"shade","cost":5,"qty":1}]}']
--- error_code eval
[200, 200, 200, 200]



=== TEST 4: two paths into the same member add up: items/id,items/name is items(id,name)
--- config
    location /t/ {
        json_fields $arg_fields;
        default_type application/json;
        alias $TEST_NGINX_JF_DATA/;
    }
--- request eval
["GET /t/product.json?fields=items/id,items/name",
 "GET /t/product.json?fields=address/city,address/zip"]
--- response_body eval
[map { "$_\n" }
 '{"items":[{"id":1,"name":"bulb"},{"id":2,"name":"shade"}]}',
 '{"address":{"city":"Oslo","zip":"0150"}}']
--- error_code eval
[200, 200]



=== TEST 5: `*` keeps every member; `*(id)` and `*/id` apply to each member's value
--- config
    location /t/ {
        json_fields $arg_fields;
        default_type application/json;
        alias $TEST_NGINX_JF_DATA/;
    }
--- request eval
["GET /t/product.json?fields=*", "GET /t/star.json?fields=*(id)",
 "GET /t/star.json?fields=*/id", "GET /t/star.json?fields=*(e)",
 "GET /t/star.json?fields=a/*", "GET /t/star.json?fields=b(*)"]
--- response_body eval
[map { "$_\n" } $::P,
 '{"a":{"id":1},"b":[{"id":2},{"id":3}],"c":{},"d":{"id":6}}',
 '{"a":{"id":1},"b":[{"id":2},{"id":3}],"c":{},"d":{"id":6}}',
 '{"a":{},"b":[{},{}],"c":{},"d":{"e":{"id":5}}}',
 '{"a":{"id":1,"x":2}}', '{"b":[{"id":2,"y":3},{"id":3}]}']
--- error_code eval
[200, 200, 200, 200, 200, 200]



=== TEST 6: a top-level array: the selection applies to each element
--- config
    location /t/ {
        json_fields $arg_fields;
        default_type application/json;
        alias $TEST_NGINX_JF_DATA/;
    }
--- request eval
["GET /t/list.json?fields=id", "GET /t/list.json?fields=name",
 "GET /t/list.json?fields=*", "GET /t/list.json?fields=cost,id"]
--- response_body eval
[map { "$_\n" }
 '[{"id":1},{"id":2},{"id":3}]', '[{"name":"a"},{"name":"b"},{}]',
 '[{"id":1,"name":"a","cost":3},{"id":2,"name":"b","cost":4},{"id":3}]',
 '[{"id":1,"cost":3},{"id":2,"cost":4},{"id":3}]']
--- error_code eval
[200, 200, 200, 200]



=== TEST 7: arrays of arrays: the selection reaches the objects at any array depth
--- config
    location /t/ {
        json_fields $arg_fields;
        default_type application/json;
        alias $TEST_NGINX_JF_DATA/;
    }
--- request eval
["GET /t/nested.json?fields=m/a", "GET /t/nested.json?fields=m(b),n/a",
 "GET /t/nested.json?fields=b", "GET /t/nested.json?fields=n"]
--- response_body eval
[map { "$_\n" }
 '{"m":[[{"a":1}],[{"a":3},{}],[]]}',
 '{"m":[[{"b":2}],[{"b":4},{"b":5}],[]],"n":[[[{"a":6}]]]}',
 '{"b":0}', '{"n":[[[{"a":6,"c":7}]]]}']
--- error_code eval
[200, 200, 200, 200]



=== TEST 8: nothing selected: empty containers stay, as {} and []
--- config
    location /t/ {
        json_fields $arg_fields;
        default_type application/json;
        alias $TEST_NGINX_JF_DATA/;
    }
--- request eval
["GET /t/product.json?fields=nosuch",
 "GET /t/product.json?fields=address/nosuch",
 "GET /t/product.json?fields=items(nosuch)",
 "GET /t/empty-object.json?fields=id", "GET /t/empty-array.json?fields=id"]
--- response_body eval
[map { "$_\n" }
 '{}', '{"address":{}}', '{"items":[{},{}]}', '{}', '[]']
--- error_code eval
[200, 200, 200, 200, 200]



=== TEST 9: an empty or absent selection is no projection: the body is unchanged
--- config
    location /t/ {
        json_fields $arg_fields;
        default_type application/json;
        alias $TEST_NGINX_JF_DATA/;
    }
--- request eval
["GET /t/product.json", "GET /t/product.json?fields=",
 "GET /t/list.json?other=1"]
--- response_body eval
["$::P\n", "$::P\n",
 qq{[{"id":1,"name":"a","cost":3},{"id":2,"name":"b","cost":4},{"id":3}]\n}]
--- error_code eval
[200, 200, 200]



=== TEST 10: a selection written in the configuration
--- config
    location /t/ {
        json_fields "items(name),id";
        default_type application/json;
        alias $TEST_NGINX_JF_DATA/;
    }
--- request
GET /t/product.json?fields=price
--- response_body
{"id":7,"items":[{"name":"bulb"},{"name":"shade"}]}



=== TEST 11: json_allow is a ceiling; with no json_fields value exactly the allowed members are sent
--- config
    location /t/ {
        json_fields $arg_fields;
        json_allow  "id,name,email,address";
        default_type application/json;
        alias $TEST_NGINX_JF_DATA/;
    }
--- request eval
["GET /t/product.json?fields=id,price", "GET /t/product.json",
 "GET /t/product.json?fields=address/city", "GET /t/product.json?fields=*",
 "GET /t/product.json?fields=internal", "GET /t/product.json?fields=items(id)"]
--- response_body eval
[map { "$_\n" }
 '{"id":7}',
 '{"id":7,"name":"Lamp","address":{"city":"Oslo","zip":"0150",'
 . '"geo":{"lat":59.9,"lon":10.7}},"email":"l@example.com"}',
 '{"address":{"city":"Oslo"}}',
 '{"id":7,"name":"Lamp","address":{"city":"Oslo","zip":"0150",'
 . '"geo":{"lat":59.9,"lon":10.7}},"email":"l@example.com"}',
 '{}', '{}']
--- error_code eval
[200, 200, 200, 200, 200, 200]



=== TEST 12: a ceiling with paths and sub-selections: asking for more gets only the allowed part
--- config
    location /t/ {
        json_fields $arg_fields;
        json_allow  "address/city,items(id)";
        default_type application/json;
        alias $TEST_NGINX_JF_DATA/;
    }
--- request eval
["GET /t/product.json?fields=address", "GET /t/product.json?fields=items",
 "GET /t/product.json?fields=items(id,cost)",
 "GET /t/product.json?fields=items(cost)", "GET /t/product.json"]
--- response_body eval
[map { "$_\n" }
 '{"address":{"city":"Oslo"}}', '{"items":[{"id":1},{"id":2}]}',
 '{"items":[{"id":1},{"id":2}]}', '{"items":[{},{}]}',
 '{"address":{"city":"Oslo"},"items":[{"id":1},{"id":2}]}']
--- error_code eval
[200, 200, 200, 200, 200]



=== TEST 13: a ceiling with `*`: json_allow "*(id)"
--- config
    location /t/ {
        json_fields $arg_fields;
        json_allow  "*(id)";
        default_type application/json;
        alias $TEST_NGINX_JF_DATA/;
    }
--- request eval
["GET /t/star.json?fields=a", "GET /t/star.json?fields=b,d(e)",
 "GET /t/star.json"]
--- response_body eval
[map { "$_\n" }
 '{"a":{"id":1}}', '{"b":[{"id":2},{"id":3}],"d":{}}',
 '{"a":{"id":1},"b":[{"id":2},{"id":3}],"c":{},"d":{"id":6}}']
--- error_code eval
[200, 200, 200]



=== TEST 14: json_deny of a top-level member, whatever was selected
--- config
    location /t/ {
        json_fields $arg_fields;
        json_deny   internal;
        default_type application/json;
        alias $TEST_NGINX_JF_DATA/;
    }
--- request eval
["GET /t/product.json", "GET /t/product.json?fields=internal,id",
 "GET /t/product.json?fields=internal/sku", "GET /t/product.json?fields=*"]
--- response_body eval
[map { "$_\n" }
 '{"id":7,"name":"Lamp","price":19.5,'
 . '"address":{"city":"Oslo","zip":"0150","geo":{"lat":59.9,"lon":10.7}},'
 . '"items":[{"id":1,"name":"bulb","cost":2,"qty":3},'
 . '{"id":2,"name":"shade","cost":5,"qty":1}],'
 . '"tags":["new","sale"],"email":"l@example.com"}',
 '{"id":7}', '{}',
 '{"id":7,"name":"Lamp","price":19.5,'
 . '"address":{"city":"Oslo","zip":"0150","geo":{"lat":59.9,"lon":10.7}},'
 . '"items":[{"id":1,"name":"bulb","cost":2,"qty":3},'
 . '{"id":2,"name":"shade","cost":5,"qty":1}],'
 . '"tags":["new","sale"],"email":"l@example.com"}']
--- error_code eval
[200, 200, 200, 200]



=== TEST 15: json_deny items/cost removes cost in each element of items
--- config
    location /t/ {
        json_fields $arg_fields;
        json_deny   items/cost;
        default_type application/json;
        alias $TEST_NGINX_JF_DATA/;
    }
--- request eval
["GET /t/product.json?fields=items", "GET /t/product.json?fields=items(cost,id)",
 "GET /t/product.json?fields=items/cost", "GET /t/product.json?fields=id,cost"]
--- response_body eval
[map { "$_\n" }
 '{"items":[{"id":1,"name":"bulb","qty":3},{"id":2,"name":"shade","qty":1}]}',
 '{"items":[{"id":1},{"id":2}]}', '{"items":[{},{}]}', '{"id":7}']
--- error_code eval
[200, 200, 200, 200]



=== TEST 16: json_deny */secret: secret in any top-level member's value (arrays: in each element), not deeper, not at the top
--- config
    location /t/ {
        json_fields $arg_fields;
        json_deny   */secret;
        default_type application/json;
        alias $TEST_NGINX_JF_DATA/;
    }
--- request eval
["GET /t/secret.json", "GET /t/secret.json?fields=a,secret",
 "GET /t/secret.json?fields=b/secret,c"]
--- response_body eval
[map { "$_\n" }
 '{"secret":"top","a":{"x":2},"b":[{"y":3},{"y":4}],'
 . '"c":{"d":{"secret":"deep"}},"e":[]}',
 '{"secret":"top","a":{"x":2}}',
 '{"b":[{},{}],"c":{"d":{"secret":"deep"}}}']
--- error_code eval
[200, 200, 200]



=== TEST 17: json_deny with several paths, removing the first and the last member
--- config
    location /a/ {
        json_deny   id email;
        default_type application/json;
        alias $TEST_NGINX_JF_DATA/;
    }
    location /b/ {
        json_deny   internal */cost;
        default_type application/json;
        alias $TEST_NGINX_JF_DATA/;
    }
    location /c/ {
        json_deny   items/id items/qty;
        default_type application/json;
        alias $TEST_NGINX_JF_DATA/;
    }
--- request eval
["GET /a/product.json", "GET /b/product.json", "GET /c/product.json"]
--- response_body eval
[map { "$_\n" }
 '{"name":"Lamp","price":19.5,"internal":{"sku":"L-7","margin":0.4},'
 . '"address":{"city":"Oslo","zip":"0150","geo":{"lat":59.9,"lon":10.7}},'
 . '"items":[{"id":1,"name":"bulb","cost":2,"qty":3},'
 . '{"id":2,"name":"shade","cost":5,"qty":1}],"tags":["new","sale"]}',
 '{"id":7,"name":"Lamp","price":19.5,'
 . '"address":{"city":"Oslo","zip":"0150","geo":{"lat":59.9,"lon":10.7}},'
 . '"items":[{"id":1,"name":"bulb","qty":3},{"id":2,"name":"shade","qty":1}],'
 . '"tags":["new","sale"],"email":"l@example.com"}',
 '{"id":7,"name":"Lamp","price":19.5,"internal":{"sku":"L-7","margin":0.4},'
 . '"address":{"city":"Oslo","zip":"0150","geo":{"lat":59.9,"lon":10.7}},'
 . '"items":[{"name":"bulb","cost":2},{"name":"shade","cost":5}],'
 . '"tags":["new","sale"],"email":"l@example.com"}']
--- error_code eval
[200, 200, 200]



=== TEST 18: fields, ceiling and deny together
--- config
    location /t/ {
        json_fields $arg_fields;
        json_allow  "id,items";
        json_deny   items/cost;
        default_type application/json;
        alias $TEST_NGINX_JF_DATA/;
    }
--- request eval
["GET /t/product.json?fields=items", "GET /t/product.json?fields=id,price",
 "GET /t/product.json"]
--- response_body eval
[map { "$_\n" }
 '{"items":[{"id":1,"name":"bulb","qty":3},{"id":2,"name":"shade","qty":1}]}',
 '{"id":7}',
 '{"id":7,"items":[{"id":1,"name":"bulb","qty":3},'
 . '{"id":2,"name":"shade","qty":1}]}']
--- error_code eval
[200, 200, 200]



=== TEST 19: per-client profiles through a map on X-Client (the README's example)
--- http_config
    map $http_x_client $profile {
        mobile   "id,name,price";
        default  "";
    }
--- config
    location /products/ {
        json_fields $profile;
        json_deny   internal */cost;
        default_type application/json;
        alias $TEST_NGINX_JF_DATA/;
    }
--- request eval
[("GET /products/product.json") x 3]
--- more_headers eval
["X-Client: mobile", "X-Client: web", ""]
--- response_body eval
[map { "$_\n" }
 '{"id":7,"name":"Lamp","price":19.5}',
 ('{"id":7,"name":"Lamp","price":19.5,'
  . '"address":{"city":"Oslo","zip":"0150","geo":{"lat":59.9,"lon":10.7}},'
  . '"items":[{"id":1,"name":"bulb","qty":3},{"id":2,"name":"shade","qty":1}],'
  . '"tags":["new","sale"],"email":"l@example.com"}') x 2]
--- error_code eval
[200, 200, 200]



=== TEST 20: directives are inherited from the server; a location's own json_deny replaces the inherited one
--- config
    json_deny  internal;
    json_allow "id,internal,email";

    location /inherit/ {
        default_type application/json;
        alias $TEST_NGINX_JF_DATA/;
    }
    location /own/ {
        json_deny email;
        default_type application/json;
        alias $TEST_NGINX_JF_DATA/;
    }
--- request eval
["GET /inherit/product.json", "GET /own/product.json"]
--- response_body eval
[map { "$_\n" }
 '{"id":7,"email":"l@example.com"}',
 '{"id":7,"internal":{"sku":"L-7","margin":0.4}}']
--- error_code eval
[200, 200]



=== TEST 21: a percent-encoded selection from the query string is decoded first
--- config
    location /t/ {
        json_fields $arg_fields;
        default_type application/json;
        alias $TEST_NGINX_JF_DATA/;
    }
--- request eval
["GET /t/product.json?fields=items%28id%2Cname%29",
 "GET /t/product.json?fields=address%2Fcity,id"]
--- response_body eval
[map { "$_\n" }
 '{"items":[{"id":1,"name":"bulb"},{"id":2,"name":"shade"}]}',
 '{"id":7,"address":{"city":"Oslo"}}']
--- error_code eval
[200, 200]
