# auth_jwt_key_file and auth_jwt_key_request with variables, as NGINX
# Plus takes them: each tenant its keys; a file is read once for each
# name and kept until a reload, as a static key file is; a missing or
# invalid file is a 500 with one error line; a value that leaves the
# directory its directive names is refused (401); a key request's keys are
# cached for each URI. Tokens that fail without the keys never make a file
# be read or a key be fetched. GwPeer's /jwks/TAG counts the fetches.
# Tenants' key files are put in conf/keys/ by each block's init, from
# t/data/jwt: hs.json holds the HMAC key "hs", rsa.json the RSA key "rsa".

use lib 't/helpers';
use GwJwt;
use GwHttp ();
use GwPeer ();
use File::Copy ();
use File::Path ();
use Test::Nginx::Socket 'no_plan';

GwPeer::start();

our %tok;
my $now = time;

%tok = (
    rs => jwt('RS256', { sub => 'alice', exp => $now + 3600 }),
    hs => jwt('HS256', { sub => 'bob', exp => $now + 3600 }),
    expired => jwt('HS256', { sub => 'eve', exp => $now - 10 }),
);

sub keys_dir { "$Test::Nginx::Util::ServRoot/conf/keys" }

# conf/keys/NAME.json becomes t/data/jwt's SET.json, or the text given
sub put {
    my ($name, $set, $text) = @_;
    File::Path::make_path(keys_dir());
    my $file = keys_dir() . "/$name.json";
    unlink $file;

    if (defined $text) {
        open my $out, '>', $file or die "$file: $!";
        print $out $text;
        close $out;
        return;
    }

    File::Copy::copy("$JWT_DATA/$set.json", $file) or die "$file: $!";
}

# GET uri with a token (or none) and headers: "status $jwt_status"
sub get {
    my ($uri, $token, @headers) = @_;
    my ($status, $h) = GwHttp::request('GET', $uri,
        headers => [defined $token ? "Authorization: Bearer $token" : (),
                    @headers]);
    return "$status " . ($h->{'x-jwt-status'} // '');
}

# how many lines of the error log match
sub log_lines {
    my $re = shift;
    open my $in, '<', "$Test::Nginx::Util::ServRoot/logs/error.log"
        or return -1;
    return scalar grep { $_ =~ $re } <$in>;
}

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('user_files', ">>> ok.txt\nok\n")
        unless defined $block->user_files;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: two tenants by $arg_t, each with its keys; each file is read
once and kept: removed or replaced after its first use, it still serves
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_key_file keys/$arg_t.json;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
--- init
main::put('a', 'hs');
main::put('b', 'rsa');
Test::More::is(main::get('/t?t=a', $main::tok{hs}), '200 VALID', 'a: hs');
Test::More::is(main::get('/t?t=a', $main::tok{rs}), '401 NO_KEY', 'a: rs');
Test::More::is(main::get('/t?t=b', $main::tok{rs}), '200 VALID', 'b: rs');
Test::More::is(main::get('/t?t=b', $main::tok{hs}), '401 NO_KEY', 'b: hs');
unlink main::keys_dir() . '/a.json';
main::put('b', 'hs');
# past the second: a file looked at again each second would be seen
select undef, undef, undef, 1.1;
Test::More::is(main::get('/t?t=a', $main::tok{hs}), '200 VALID',
               'a, removed: its keys kept');
Test::More::is(main::get('/t?t=b', $main::tok{rs}), '200 VALID',
               'b, replaced: its keys kept');
Test::More::is(main::get('/t?t=b', $main::tok{hs}), '401 NO_KEY',
               'b, replaced: not read again');
--- request
GET /t?t=a
--- more_headers eval
"Authorization: Bearer $::tok{hs}"
--- error_code: 200
--- no_error_log
[error]
[warn]



=== TEST 2: two tenants by a header through map; a tenant the map does
not know has no keys: 401
--- http_config
    map $http_x_tenant $tenant_keys {
        a  keys/a.json;
        b  keys/b.json;
    }
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_key_file $tenant_keys;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
--- init
main::put('a', 'hs');
main::put('b', 'rsa');
Test::More::is(main::get('/t', $main::tok{hs}, 'X-Tenant: a'), '200 VALID',
               'a: hs');
Test::More::is(main::get('/t', $main::tok{rs}, 'X-Tenant: a'), '401 NO_KEY',
               'a: rs');
Test::More::is(main::get('/t', $main::tok{rs}, 'X-Tenant: b'), '200 VALID',
               'b: rs');
Test::More::is(main::get('/t', $main::tok{hs}, 'X-Tenant: b'), '401 NO_KEY',
               'b: hs');
--- request
GET /t
--- more_headers eval
"Authorization: Bearer $::tok{hs}\nX-Tenant: c"
--- error_code: 401
--- response_headers
X-JWT-Status: NO_KEY
--- error_log
auth_jwt: "$tenant_keys" names no key file
--- no_error_log
[error]



=== TEST 3: a missing file: no token, a malformed or an expired one get
their 401 without a read; a valid one gets 500 with one error line
naming the file, and the name is not tried again for 5s (an info line)
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_key_file keys/$arg_t.json;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
--- init
Test::More::is(main::get('/t?t=none'), '401 MISSING', 'no token');
Test::More::is(main::get('/t?t=none', 'abc'), '401 MALFORMED', 'malformed');
Test::More::is(main::get('/t?t=none', $main::tok{expired}), '401 EXPIRED',
               'expired');
Test::More::is(main::log_lines(qr/key file/), 0, 'no file was looked for');
Test::More::is(main::get('/t?t=none', $main::tok{hs}),
               '500 KEY_FETCH_FAILED', 'a valid token: 500');
Test::More::is(main::log_lines(
    qr/\[error\].*auth_jwt: open\(\) key file ".*\/conf\/keys\/none\.json" failed \(2: No such file or directory\)/),
    1, 'one error line naming the file');
--- request
GET /t?t=none
--- more_headers eval
"Authorization: Bearer $::tok{hs}"
--- error_code: 500
--- response_headers
X-JWT-Status: KEY_FETCH_FAILED
--- error_log eval
qr/\[info\].*auth_jwt: key file ".*\/keys\/none\.json" is not read again within 5s of a failure/



=== TEST 4: an invalid file: 500, one error line with the file and the
reason; a file put in its place is read once 5s have passed
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_key_file keys/$arg_t.json;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
--- init
main::put('bad', undef, '{"keys": [');
Test::More::is(main::get('/t?t=bad', $main::tok{hs}), '500 KEY_FETCH_FAILED',
               'invalid: 500');
Test::More::is(main::log_lines(
    qr/\[error\].*auth_jwt: invalid key file ".*\/keys\/bad\.json": /), 1,
    'one error line naming the file');
main::put('bad', 'hs');
Test::More::is(main::get('/t?t=bad', $main::tok{hs}), '500 KEY_FETCH_FAILED',
               'fixed at once: not read yet');
sleep 6;
--- request
GET /t?t=bad
--- more_headers eval
"Authorization: Bearer $::tok{hs}"
--- error_code: 200
--- response_headers
X-JWT-Status: VALID



=== TEST 5: values from the client that leave the directory: a ".."
segment, or an absolute path where the directive starts with the
variable, are refused with 401 and an info line, even for a file of
valid keys; no file is read for them
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_key_file keys/$arg_t.json;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
    location /abs {
        auth_jwt "api";
        auth_jwt_key_file $arg_f;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
--- init
main::put('a', 'hs');
File::Copy::copy("$GwJwt::JWT_DATA/hs.json",
                 "$Test::Nginx::Util::ServRoot/conf/hs.json") or die;
Test::More::is(main::get('/t?t=a', $main::tok{hs}), '200 VALID', 'a');
Test::More::is(main::get('/t?t=../keys/a', $main::tok{hs}), '401 NO_KEY',
               '"..", back in the directory');
Test::More::is(main::get('/t?t=../hs', $main::tok{hs}), '401 NO_KEY',
               '"..", out of it');
Test::More::is(main::get('/t?t=x/../../keys/a', $main::tok{hs}),
               '401 NO_KEY', '"..", deeper, back in the directory');
Test::More::is(main::get("/abs?f=$GwJwt::JWT_DATA/hs.json", $main::tok{hs}),
               '401 NO_KEY', 'an absolute path');
Test::More::is(main::get('/abs?f=keys/a.json', $main::tok{hs}), '200 VALID',
               'a relative one');
Test::More::is(main::get('/abs?f=hs.json', $main::tok{hs}), '200 VALID',
               'in the configuration directory');
Test::More::is(main::log_lines(qr/leaves ".*\/conf\/": refused/), 1,
               'one line for the absolute path');
Test::More::is(main::log_lines(qr/leaves ".*\/conf\/keys\/": refused/), 3,
               'one for each ".."');
--- request
GET /t?t=a/../../hs
--- more_headers eval
"Authorization: Bearer $::tok{hs}"
--- error_code: 401
--- response_headers
X-JWT-Status: NO_KEY
--- error_log eval
qr/\[info\].*auth_jwt: key file "keys\/a\/\.\.\/\.\.\/hs\.json" leaves ".*\/conf\/keys\/": refused/
--- no_error_log
[error]



=== TEST 6: past 128 names in a worker the least recently used is let
go, and read again when it is named again; the others are kept, and
names in requests whose tokens fail without keys take no room
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_key_file keys/$arg_t.json;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
--- init
main::put("t$_", 'hs') for 0 .. 128;
my @bad = grep { main::get("/t?t=t$_", $main::tok{hs}) ne '200 VALID' }
          0 .. 128;
Test::More::is("@bad", '', '129 names, each with its keys');
@bad = grep { main::get("/t?t=n$_", $main::tok{expired}) ne '401 EXPIRED' }
       0 .. 9;
Test::More::is("@bad", '', 'expired tokens for 10 other names');
main::put('t1', 'rsa');
Test::More::is(main::get('/t?t=t1', $main::tok{hs}), '200 VALID',
               'the least recently used: still kept');
main::put('t0', 'rsa');
main::put('t128', 'rsa');
Test::More::is(main::get('/t?t=t128', $main::tok{hs}), '200 VALID',
               'the latest: kept');
Test::More::is(main::get('/t?t=t0', $main::tok{rs}), '200 VALID',
               'the first: let go, read again');
--- request
GET /t?t=t0
--- more_headers eval
"Authorization: Bearer $::tok{hs}"
--- error_code: 401
--- response_headers
X-JWT-Status: NO_KEY
--- no_error_log
[error]



=== TEST 7: auth_jwt_key_request with a variable: each tenant's URI is
fetched once and its keys cached; tokens that fail without keys fetch
nothing; a URI that leaves the directive's directory is refused (401)
--- config
    location /t {
        auth_jwt "api";
        auth_jwt_key_request /_jwks/$arg_t;
        auth_jwt_key_cache 1h;
        add_header X-JWT-Status $jwt_status always;
        alias html/ok.txt;
    }
    location /_jwks/ {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/jwks/;
    }
    location = /_other {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_PEER_PORT/jwks/v7o;
    }
--- init
GwPeer::mode('v7a', 'hs');
GwPeer::mode('v7b', 'rsa');
GwPeer::mode('v7o', 'keys');
Test::More::is(main::get('/t?t=v7a'), '401 MISSING', 'no token');
Test::More::is(main::get('/t?t=v7a', 'abc'), '401 MALFORMED', 'malformed');
Test::More::is(GwPeer::hits('v7a'), 0, 'no fetch for them');
Test::More::is(main::get('/t?t=v7a', $main::tok{hs}), '200 VALID', 'a: hs');
Test::More::is(main::get('/t?t=v7a', $main::tok{hs}), '200 VALID', 'again');
Test::More::is(main::get('/t?t=v7a', $main::tok{rs}), '401 NO_KEY', 'a: rs');
Test::More::is(main::get('/t?t=v7b', $main::tok{rs}), '200 VALID', 'b: rs');
Test::More::is(main::get('/t?t=v7b', $main::tok{hs}), '401 NO_KEY', 'b: hs');
Test::More::is(main::get('/t?t=v7b', $main::tok{rs}), '200 VALID', 'again');
Test::More::is(GwPeer::hits('v7a') . ' ' . GwPeer::hits('v7b'), '1 1',
               'one fetch for each tenant');
Test::More::is(main::get('/t?t=../_other', $main::tok{hs}), '401 NO_KEY',
               '".." refused');
Test::More::is(main::get('/t?t=%2e%2e/_other', $main::tok{hs}),
               '401 NO_KEY', 'escaped ".." refused');
Test::More::is(GwPeer::hits('v7o'), 0, 'the other location never asked');
--- request
GET /t?t=v7b
--- more_headers eval
"Authorization: Bearer $::tok{rs}"
--- error_code: 200
--- error_log eval
qr/\[info\].*auth_jwt: key request "\/_jwks\/\.\.\/_other" leaves "\/_jwks\/": refused/
--- no_error_log
[error]
