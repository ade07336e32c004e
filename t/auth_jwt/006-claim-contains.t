# auth_jwt: auth_jwt_claim_contains, membership in a claim that holds a
# list. $jwt_claim_* joins an array with commas, as NGINX Plus does, so
# ["user","admin"] and "user,admin" read the same there; membership tells
# them apart.

use lib 't/helpers';
use GwJwt;
use Test::Nginx::Socket 'no_plan';

sub hs { GwJwt::jws('HS256', '{"alg":"HS256","kid":"hs"}', shift) }

# claims, and what $aud_orders, $can_write, $can_write_scp, $is_admin,
# $in_domain_admins and $kc_admin are for them
our @cases = (
    [ '{"aud":"orders"}'                       => '1 0 0 0 0 0' ],
    [ '{"aud":["billing","orders"]}'           => '1 0 0 0 0 0' ],
    [ '{"aud":"orders-v2"}'                    => '0 0 0 0 0 0' ],
    [ '{"aud":"Orders"}'                       => '0 0 0 0 0 0' ],
    [ '{"aud":["order","orders2","ord"]}'      => '0 0 0 0 0 0' ],
    [ '{"aud":"billing orders"}'               => '0 0 0 0 0 0' ],
    [ '{"aud":["billing,orders"]}'             => '0 0 0 0 0 0' ],
    [ '{"aud":"billing,orders"}'               => '0 0 0 0 0 0' ],
    [ '{"aud":["\u006frders"]}'                => '1 0 0 0 0 0' ],
    [ '{"scope":"orders:read orders:write"}'   => '0 1 0 0 0 0' ],
    [ '{"scope":"orders:write"}'               => '0 1 0 0 0 0' ],
    [ '{"scope":"  orders:write  x"}'          => '0 1 0 0 0 0' ],
    [ '{"scope":"orders:read orders:writer"}'  => '0 0 0 0 0 0' ],
    [ '{"scope":"orders:read,orders:write"}'   => '0 0 0 0 0 0' ],
    [ '{"scope":["orders:read","orders:write"]}' => '0 1 0 0 0 0' ],
    [ '{"scope":["orders:read orders:write"]}' => '0 0 0 0 0 0' ],
    [ '{"scp":"orders:read orders:write"}'     => '0 0 1 0 0 0' ],
    [ '{"roles":["user","admin"]}'             => '0 0 0 1 0 0' ],
    [ '{"roles":["user,admin"]}'               => '0 0 0 0 0 0' ],
    [ '{"roles":"user,admin"}'                 => '0 0 0 0 0 0' ],
    [ '{"roles":"admin"}'                      => '0 0 0 1 0 0' ],
    [ '{"roles":"user admin"}'                 => '0 0 0 0 0 0' ],
    [ '{"roles":[1,true,null,{"admin":1},["admin"],"admins"]}'
                                               => '0 0 0 0 0 0' ],
    [ '{"roles":{"admin":true}}'               => '0 0 0 0 0 0' ],
    [ '{"groups":"Domain Admins"}'             => '0 0 0 0 1 0' ],
    [ '{"groups":["Users","Domain Admins"]}'   => '0 0 0 0 1 0' ],
    [ '{"realm_access":{"roles":["admin"]}}'   => '0 0 0 0 0 1' ],
    [ '{"realm_access":{"roles":"admin"}}'     => '0 0 0 0 0 1' ],
    [ '{"realm_access":["admin"]}'             => '0 0 0 0 0 0' ],
    [ '{}'                                     => '0 0 0 0 0 0' ],
);

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config', <<'CONFIG')
    auth_jwt_claim_contains $aud_orders aud orders;
    auth_jwt_claim_contains $can_write scope orders:write;
    auth_jwt_claim_contains $can_write_scp scp orders:write;
    auth_jwt_claim_contains $is_admin roles admin;
    auth_jwt_claim_contains $in_domain_admins groups "Domain Admins";
    auth_jwt_claim_contains $kc_admin realm_access roles admin;
CONFIG
        unless defined $block->http_config;

    $block->set_value('user_files', ">>> ok.txt\nok\n")
        unless defined $block->user_files;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: exact membership: an element or a string equal to the value,
words of scope and scp; never a prefix, a comma-separated part, or an
element that is not a string
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        return 200 "$aud_orders $can_write $can_write_scp $is_admin $in_domain_admins $kc_admin\n";
    }
--- request eval
[map { "GET /t?t=" . main::hs($_->[0]) } @::cases]
--- error_code eval
[(200) x @::cases]
--- response_body eval
[map { "$_->[1]\n" } @::cases]



=== TEST 2: a string is one value, words only for scope and scp
--- http_config
    auth_jwt_claim_contains $in_domain groups Domain;
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        return 200 "$in_domain\n";
    }
--- request eval
[map { "GET /t?t=" . main::hs($_) }
 '{"groups":"Domain Admins"}', '{"groups":["Domain Admins"]}',
 '{"groups":"Domain"}', '{"groups":["Users","Domain"]}']
--- response_body eval
["0\n", "0\n", "1\n", "1\n"]



=== TEST 3: the pitfall it avoids: a list and a string with a comma read
the same in $jwt_claim_roles
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        return 200 "[$jwt_claim_roles] $is_admin\n";
    }
--- request eval
["GET /t?t=" . main::hs('{"roles":["user","admin"]}'),
 "GET /t?t=" . main::hs('{"roles":"user,admin"}')]
--- response_body eval
["[user,admin] 1\n", "[user,admin] 0\n"]



=== TEST 4: with auth_jwt_require: 403 unless the claim contains the
value; empty without a valid token
--- config
    location /orders {
        auth_jwt "orders" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        auth_jwt_require $aud_orders $can_write error=403;
        add_header X-Aud "[$aud_orders]" always;
        alias html/ok.txt;
    }
--- request eval
["GET /orders?t=" . main::hs('{"aud":["orders"],"scope":"orders:write"}'),
 "GET /orders?t=" . main::hs('{"aud":"orders,x","scope":"orders:write"}'),
 "GET /orders?t=" . main::hs('{"aud":"orders","scope":"orders:read"}'),
 "GET /orders?t=" . main::hs('{"aud":"orders","scope":"orders:write",'
                             . '"exp":1}'),
 "GET /orders"]
--- error_code eval
[200, 403, 403, 401, 401]
--- response_headers eval
["X-Aud: [1]", "X-Aud: [0]", "X-Aud: [1]", "X-Aud: []", "X-Aud: []"]



=== TEST 5: in a map and in the log, like any variable
--- http_config
    auth_jwt_claim_contains $is_admin roles admin;

    map $is_admin $role_name {
        1        admin;
        default  guest;
    }

    log_format roles "role=$role_name admin=$is_admin";
--- config
    location /t {
        auth_jwt "api" token=$arg_t;
        auth_jwt_key_file $TEST_NGINX_JWT_DATA/jwks.json;
        access_log logs/access.log roles;
        return 200 "$role_name\n";
    }
--- request eval
"GET /t?t=" . main::hs('{"roles":["ops","admin"]}')
--- response_body
admin
--- access_log
role=admin admin=1



=== TEST 6: needs a claim and a value
--- http_config
    auth_jwt_claim_contains $x aud;
--- config
--- must_die
--- error_log
"auth_jwt_claim_contains" directive needs a claim and a value



=== TEST 7: an empty value is an error
--- http_config
    auth_jwt_claim_contains $x aud "";
--- config
--- must_die
--- error_log
"auth_jwt_claim_contains" directive has an empty value



=== TEST 8: no variables in the value
--- http_config
    auth_jwt_claim_contains $x aud $host;
--- config
--- must_die
--- error_log
"auth_jwt_claim_contains" directive with variables is not supported



=== TEST 9: belongs to http
--- http_config
--- config
    auth_jwt_claim_contains $x aud orders;
--- must_die
--- error_log
"auth_jwt_claim_contains" directive is not allowed here
