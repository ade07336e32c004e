# auth_jwt_key_file and auth_jwt_key_request with variables, beyond
# 009-key-variables.t: the 128 names a worker keeps for a directive, the
# least recently used let go past them, and names in requests whose
# tokens fail without keys taking no room; a key request's tenant URIs
# fetched once each, and URIs that leave the directive's prefix (escaped
# ".." too) refused. GwPeer's /jwks/TAG counts the fetches.
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

# conf/keys/NAME.json becomes t/data/jwt's SET.json
sub put {
    my ($name, $set) = @_;
    File::Path::make_path(keys_dir());
    my $file = keys_dir() . "/$name.json";
    unlink $file;
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

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('user_files', ">>> ok.txt\nok\n")
        unless defined $block->user_files;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: past 128 names in a worker the least recently used is let
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



=== TEST 2: auth_jwt_key_request with a variable: each tenant's URI is
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
