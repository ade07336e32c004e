# auth_jwt_key_file and auth_jwt_key_request with variables, as NGINX
# Plus takes them: a file named by a variable is read once per name and
# kept for the configuration's life; a missing or invalid one answers
# 500; a value that leaves the directive's directory is refused (401);
# key requests are fetched once per URI. GwPeer counts the fetches.

use lib 't/helpers';
use GwJwt;
use GwPeer ();
use Test::Nginx::Socket 'no_plan';

GwPeer::start();

our %tok;
my $now = time;

%tok = (
    rs => jwt('RS256', { sub => 'alice', exp => $now + 3600 }),
    hs => jwt('HS256', { sub => 'bob', exp => $now + 3600 }),
);

our %set = map {
    local (@ARGV, $/) = "$JWT_DATA/$_.json";
    ($_ => scalar <>);
} qw(hs rsa);

# "STATUS JWT_STATUS" of GET uri with the token
sub get {
    my ($uri, $token, @headers) = @_;
    my ($resp) = GwPeer::exchange($Test::Nginx::Util::ServerPortForClient,
        "GET $uri HTTP/1.0\r\nHost: localhost\r\n"
        . (defined $token ? "Authorization: Bearer $token\r\n" : '')
        . join('', map { "$_\r\n" } @headers) . "\r\n");
    my ($status) = $resp =~ m{^HTTP/1\.\d (\d+)};
    my ($jwt) = $resp =~ /^X-JWT-Status: ([^\r]*)\r$/mi;
    return ($status // 0) . ' ' . ($jwt // '');
}

sub keys_file {
    my ($name, $text) = @_;
    my $path = "$ENV{TEST_NGINX_SERVER_ROOT}/html/keys/$name";
    if (defined $text) {
        open my $fh, '>', $path or die "$path: $!";
        print $fh $text;
        close $fh;
    } else {
        unlink $path or die "$path: $!";
    }
}

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('user_files', ">>> ok.txt\nok\n"
                      . ">>> keys/a.json\n$set{hs}"
                      . ">>> keys/b.json\n$set{rsa}"
                      . ">>> keys/bad.json\n{\"keys\": [\n"
                      . ">>> other.json\n$set{hs}")
        unless defined $block->user_files;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: two tenants by $arg_: each its own keys
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_key_file $TEST_NGINX_SERVER_ROOT/html/keys/$arg_tenant.json;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
--- init
Test::More::is(main::get('/t?tenant=a', $main::tok{hs}), '200 VALID', 'a: HS');
Test::More::is(main::get('/t?tenant=a', $main::tok{rs}), '401 NO_KEY', 'a: not RS');
Test::More::is(main::get('/t?tenant=b', $main::tok{hs}), '401 NO_KEY', 'b: not HS');
--- request
GET /t?tenant=b
--- more_headers eval
"Authorization: Bearer $main::tok{rs}"
--- error_code: 200
--- no_error_log
[error]



=== TEST 2: tenants by a header through a map; each file is read once
and kept: changed or removed after its first use, its keys still serve
--- http_config
    map $http_x_tenant $tenant_keys {
        a       a.json;
        b       b.json;
        default none.json;
    }
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_key_file $TEST_NGINX_SERVER_ROOT/html/keys/$tenant_keys;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
--- init
Test::More::is(main::get('/t', $main::tok{hs}, 'X-Tenant: a'), '200 VALID', 'a');
Test::More::is(main::get('/t', $main::tok{rs}, 'X-Tenant: b'), '200 VALID', 'b');
main::keys_file('a.json', $main::set{rsa});
main::keys_file('b.json');
Test::More::is(main::get('/t', $main::tok{hs}, 'X-Tenant: a'), '200 VALID', 'a kept');
Test::More::is(main::get('/t', $main::tok{rs}, 'X-Tenant: a'), '401 NO_KEY', 'a not re-read');
--- request
GET /t
--- more_headers eval
"X-Tenant: b\r\nAuthorization: Bearer $main::tok{rs}"
--- error_code: 200
--- no_error_log
[error]



=== TEST 3: a missing file: 500 with one error line naming it, and it is
not read again for 5s; a request without a token, or with a malformed
one, reads nothing
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_key_file $TEST_NGINX_SERVER_ROOT/html/keys/$arg_tenant.json;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
--- log_level: info
--- init
Test::More::is(main::get('/t?tenant=zz'), '401 MISSING', 'no token');
Test::More::is(main::get('/t?tenant=zz', 'a.b.c'), '401 MALFORMED', 'malformed');
Test::More::is(main::get('/t?tenant=zz', $main::tok{hs}), '500 KEY_FETCH_FAILED', 'missing');
--- request
GET /t?tenant=zz
--- more_headers eval
"Authorization: Bearer $main::tok{hs}"
--- error_code: 500
--- grep_error_log eval
qr/open\(\) key file "[^"]*zz.json" failed \(2: No such file or directory\)|key file "[^"]*zz.json" is not read again within 5s/
--- grep_error_log_out eval
qr/^open\(\) key file "[^"]*zz.json" failed \(2: No such file or directory\)\nkey file "[^"]*zz.json" is not read again within 5s\n$/



=== TEST 4: an invalid file: 500 with one error line
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_key_file $TEST_NGINX_SERVER_ROOT/html/keys/$arg_tenant.json;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
--- request
GET /t?tenant=bad
--- more_headers eval
"Authorization: Bearer $main::tok{hs}"
--- error_code: 500
--- response_headers
X-JWT-Status: KEY_FETCH_FAILED
--- error_log eval
qr/\[error\].*auth_jwt: invalid key file "[^"]*bad.json": /



=== TEST 5: a name from the client that leaves the directory: "..", or
an absolute path where the directive starts with a variable, is refused
with 401, though the file it names holds the keys
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_key_file $TEST_NGINX_SERVER_ROOT/html/keys/$arg_tenant.json;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
    location /abs {
        auth_jwt "api";
        auth_jwt_key_file $arg_file;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
--- log_level: info
--- init
Test::More::is(main::get('/t?tenant=../other', $main::tok{hs}), '401 NO_KEY', '..');
--- request eval
"GET /abs?file=$ENV{TEST_NGINX_SERVER_ROOT}/html/other.json"
--- more_headers eval
"Authorization: Bearer $main::tok{hs}"
--- error_code: 401
--- error_log eval
[qr/key file "[^"]*keys\/\.\.\/other\.json" leaves "[^"]*\/html\/keys\/": refused/,
 qr/key file "[^"]*\/html\/other\.json" leaves "[^"]*\/conf\/": refused/]
--- no_error_log
[error]



=== TEST 6: auth_jwt_key_request per tenant through a map: one fetch
per URI; "..", and a tenant with no URI, get 401 and
fetch nothing
--- http_config
    map $http_x_tenant $jwks {
        a       /keys/va;
        b       /keys/vb;
        default "";
    }
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_key_request $jwks;
        auth_jwt_key_cache 1h;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
    location /u {
        auth_jwt "api";
        auth_jwt_key_request /keys/$arg_tenant;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
    location /keys/ {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/jwks/;
    }
--- init
GwPeer::mode('va', 'hs');
GwPeer::mode('vb', 'rsa');
for (1 .. 3) {
    Test::More::is(main::get('/t', $main::tok{hs}, 'X-Tenant: a'), '200 VALID', 'a');
    Test::More::is(main::get('/t', $main::tok{rs}, 'X-Tenant: b'), '200 VALID', 'b');
}
Test::More::is(main::get('/t', $main::tok{rs}, 'X-Tenant: a'), '401 NO_KEY', 'a: not RS');
Test::More::is(main::get('/t', $main::tok{hs}), '401 NO_KEY', 'no tenant');
Test::More::is(main::get('/u?tenant=vx/../vb', $main::tok{rs}), '401 NO_KEY', '..');
Test::More::is(main::get('/u?tenant=a', undef), '401 MISSING', 'no token');
Test::More::is(GwPeer::hits('va'), 1, 'one fetch for a');
Test::More::is(GwPeer::hits('vb'), 1, 'one fetch for b');
Test::More::is(GwPeer::hits('vx'), 0, 'none for ..');
--- request
GET /t
--- more_headers eval
"X-Tenant: b\r\nAuthorization: Bearer $main::tok{rs}"
--- error_code: 200
--- no_error_log
[error]
