# The example gateway as it ships: conf.examples/gateway.conf itself (not a
# copy), run with the built modules, checked flow by flow as a client sees
# it, over HTTP/1.1 on 127.0.0.1:8080 and over HTTP/2 with TLS on
# 127.0.0.1:8443.
#
# This file does not use Test::Nginx: Test::Nginx writes an nginx.conf of
# its own, and the point here is the file operators copy. It needs the
# example's ports (8080, 8443, 9101-9107, 9145) free, curl with HTTP/2,
# openssl, promtool, and build/tools/gateway-token for the tokens.

use strict;
use warnings;

use Cwd qw(getcwd);
use File::Temp ();
use IO::Socket::INET ();
use POSIX ();
use Test::More;
use Time::HiRes qw(sleep time);

use lib 't/helpers';
use GwMetrics ();

my $root = getcwd;
my $conf = "$root/conf.examples/gateway.conf";
my $tool = $ENV{TEST_GATEWAY_TOKEN} // "$root/build/tools/gateway-token";
my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
my @ports = (8080, 8443, 9101 .. 9107, 9145);

plan skip_all => 'the example gateway does not run under valgrind'
    if $ENV{TEST_NGINX_USE_VALGRIND};

for my $port (@ports) {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port);
    BAIL_OUT("port $port is taken (make run?): the example needs it") if $s;
}

-x $tool or BAIL_OUT("$tool is missing: make tools");

system('sh', "$root/conf.examples/make-tls.sh", $nginx) == 0
    or BAIL_OUT('no certificate or listen line');

# the prefix: modules/, logs/ and tmp/ as under `make run`
my $prefix = File::Temp->newdir('gw-example-XXXXXX', TMPDIR => 1);
chmod 0755, "$prefix";      # workers of a root master run as nobody
mkdir "$prefix/$_" for qw(logs tmp);
symlink $ENV{TEST_GATEWAY_MODULES} // "$root/build/modules", "$prefix/modules"
    or die "symlink: $!";

# the file as it ships starts without a warning on this nginx version:
# nginx 1.25.1 and later warn about "listen ... http2", for one
my $check = `'$nginx' -t -p '$prefix/' -c '$conf' 2>&1`;
is($?, 0, 'nginx -t accepts the example');
unlike($check, qr/\[(?:warn|emerg|alert|crit)\]/, 'nginx -t warns about nothing')
    or diag($check);

# nginx as our own child, with the example's listeners up
sub start_gateway {
    my ($prefix, $conf) = @_;

    my $pid = fork // die "fork: $!";

    if ($pid == 0) {
        open STDERR, '>', "$prefix/logs/stderr";
        exec($nginx, '-p', "$prefix/", '-c', $conf, '-g', 'daemon off;')
            or POSIX::_exit(127);
    }

    my $up;
    for (1 .. 200) {
        $up = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                    PeerPort => 8443)
            and last;
        sleep 0.02;
    }
    $up or BAIL_OUT('the example gateway did not start: '
                    . `cat '$prefix/logs/stderr' '$prefix/logs/error.log'`);

    return $pid;
}

sub stop_gateway {
    my $pid = shift;
    kill 'QUIT', $pid;
    waitpid $pid, 0;
}

# A checkout under a directory only root may enter (/root is 0700 on
# Debian), with a space in its path, started as `make run` starts it: the
# workers of a root master run as nobody, and must still reach the cache
# and the temporary files (conf.examples/prefix.sh)
SKIP: {
    skip 'not root: the workers run as the checkout\'s own user', 5
        if $> != 0;

    my $home = File::Temp->newdir('gw-home-XXXXXX', TMPDIR => 1);
    chmod 0700, "$home";
    my $checkout = "$home/a checkout";
    mkdir $checkout or die "mkdir: $!";
    system('cp', '-a', "$root/conf.examples", "$checkout/") == 0
        or die 'cp failed';

    my $run = `sh '$root/conf.examples/prefix.sh' '$checkout'`;
    chomp $run;
    like($run, qr{^/tmp/gateway-run\.}, '0700 checkout: a prefix in /tmp');
    is(readlink("$checkout/build/run"), $run, '0700 checkout: build/run links to it');
    symlink $ENV{TEST_GATEWAY_MODULES} // "$root/build/modules", "$run/modules"
        or die "symlink: $!";

    my $pid = start_gateway($run, "$checkout/conf.examples/gateway.conf");

    my @code = map {
        scalar `curl -sS -o /dev/null -w '%{http_code}' --max-time 10 '$_'`
    } ('http://127.0.0.1:8080/products/31', 'http://127.0.0.1:8080/products/31',
       'http://127.0.0.1:8080/product-page?id=31');

    stop_gateway($pid);

    is($code[0], 200, '0700 checkout: the catalogue, through the cache');
    is($code[1], 200, '0700 checkout: and again, from the cache');
    is($code[2], 200, '0700 checkout: the aggregated product page');

    system('rm', '-rf', $run);
}

my $pid = start_gateway($prefix, $conf);

END {
    stop_gateway($pid) if $pid;
}

# tokens as `make run` mints them, with the example's demo keys
sub token {
    my @args = @_;
    my $t = `$tool @args`;
    chomp $t;
    $? == 0 && $t =~ /^[\w-]+\.[\w-]+\.[\w-]+$/
        or BAIL_OUT("gateway-token @args failed");
    return $t;
}

my $keys = "$root/conf.examples/keys";
my %tok = (
    free => token("--alg RS256 --key $keys/demo-rs256.pem --kid demo-rs",
                  '--claim sub=alice --claim plan=free'),
    premium => token("--alg RS256 --key $keys/demo-rs256.pem --kid demo-rs",
                     '--claim sub=bob --claim plan=premium'),
    admin => token("--alg RS256 --key $keys/demo-rs256.pem --kid demo-rs",
                   '--claim sub=carol --claim plan=free --claim role=admin'),
    dev => token("--alg HS256 --key $keys/jwks.json --kid demo",
                 '--claim sub=dave --claim plan=free'),
);

# the demo partner's key (conf.examples/keys/README)
my $partner_key = 'gk_demo-partner-acme-key-never-use-in-production';

my %base = (h1 => 'http://127.0.0.1:8080', h2 => 'https://127.0.0.1:8443');

# one request with curl: (status, {lower-case header => value}, body)
sub req {
    my ($proto, $path, %o) = @_;
    my @cmd = ('curl', '-sS', '-o', "$prefix/body", '-D', "$prefix/head",
               '--max-time', '10');
    push @cmd, $proto eq 'h2'
               ? ('--http2', '--cacert', "$root/conf.examples/certs/gateway.crt")
               : ('--http1.1');
    push @cmd, '-X', $o{method} if $o{method};
    push @cmd, '-H', "Authorization: Bearer $o{token}" if $o{token};
    push @cmd, '-H', $_ for @{ $o{headers} // [] };
    push @cmd, '--data-binary', $o{data} if defined $o{data};
    push @cmd, '--compressed' if $o{compressed};
    push @cmd, "$base{$proto}$path";

    system(@cmd) == 0 or return (0, {}, '');

    open my $h, '<', "$prefix/head" or die;
    my $head = do { local $/; <$h> };
    close $h;
    open my $b, '<', "$prefix/body" or die;
    my $body = do { local $/; <$b> };
    close $b;

    my ($status) = $head =~ m{^HTTP/[\d.]+ (\d{3})};
    my %h;
    for (split /\r\n/, $head) {
        $h{lc $1} = $2 if /^([^:\s]+):\s*(.*)$/;
    }
    return ($status // 0, \%h, $body // '');
}

for my $proto (qw(h1 h2)) {
    my ($st, $h, $body);

    # routing, and the services' own ports are not what clients use
    ($st, $h, $body) = req($proto, '/nowhere');
    is($st, 404, "$proto: an unknown route is 404");
    is($body, qq({"error":"no such route"}\n), "$proto: as JSON");

    # the public catalogue: no token, trimmed of internal members, cached,
    # limited per address
    my $id = $proto eq 'h1' ? 21 : 22;

    ($st, $h, $body) = req($proto, "/products/$id");
    is($st, 200, "$proto: products without a token");
    is($h->{'x-cache-status'}, 'MISS', "$proto: first from the service");
    unlike($body, qr/internal|"cost"/, "$proto: internal members removed");
    like($body, qr/"supplier":\{"name":"ACME"\}/, "$proto: the rest kept");
    is($h->{'ratelimit-limit'}, 60, "$proto: the per-address limit");
    ($st, $h) = req($proto, "/products/$id");
    is($h->{'x-cache-status'}, 'HIT', "$proto: then from the cache");

    ($st, $h, $body) = req($proto, '/products/10',
                           headers => ['X-Client: mobile']);
    is($body, qq({"id":10,"name":"Product 10","price":9.99}\n),
       "$proto: the mobile profile");

    ($st, $h, $body) = req($proto, '/products/10',
                           headers => ['X-Client: iot'], compressed => 1);
    is($h->{'content-encoding'}, 'gzip', "$proto: IoT: compressed");
    is($body, qq({"id":10,"price":9.99}\n), "$proto: IoT: fewest members");

    # JWT: RS256 and HS256, claims to services, the claims a client sends
    # under those names replaced
    ($st, $h, $body) = req($proto, '/users/7');
    is($st, 401, "$proto: users without a token");
    is($h->{'www-authenticate'}, 'Bearer realm="gateway"',
       "$proto: the challenge");

    ($st, $h, $body) = req($proto, '/users/7', token => $tok{free},
                           headers => ['X-User-ID: mallory']);
    is($st, 200, "$proto: users with an RS256 token");
    like($body, qr/"asked_by":"alice","plan":"free"/,
         "$proto: the claims reach the service, not the client's header");
    is($h->{'ratelimit-limit'}, 100, "$proto: the free plan's limit");
    ok(!exists $h->{'x-cache-status'}, "$proto: per-user data not cached");

    ($st, $h, $body) = req($proto, '/users/7', token => $tok{dev});
    is($st, 200, "$proto: users with an HS256 development token");
    like($body, qr/"asked_by":"dave"/, "$proto: its claims");

    ($st, $h) = req($proto, '/users/7', token => "$tok{free}x");
    is($st, 401, "$proto: a tampered token");
    like($h->{'www-authenticate'} // '', qr/error="invalid_token"/,
         "$proto: said to be invalid");

    ($st, $h, $body) = req($proto, '/users/7?fields=id,name',
                           token => $tok{premium});
    is($body, qq({"id":7,"name":"User 7"}\n), "$proto: ?fields= on users");
    is($h->{'ratelimit-limit'}, 1000, "$proto: the premium plan's limit");

    # the other services
    ($st, $h, $body) = req($proto, '/orders/', token => $tok{free});
    is($st, 200, "$proto: orders");
    like($body, qr/"user":"alice"/, "$proto: alice's orders");
    ($st, $h, $body) = req($proto, '/orders/', token => $tok{premium});
    like($body, qr/"user":"bob"/, "$proto: bob's, never alice's");

    # partners: an API key instead of a token
    ($st, $h, $body) = req($proto, '/orders/',
                           headers => ["X-API-Key: $partner_key"]);
    is($st, 200, "$proto: orders with a partner's API key");
    like($body, qr/"user":"","partner":"acme"/, "$proto: as the partner");
    is($h->{'ratelimit-limit'}, 600, "$proto: the partner plan's limit");
    ($st, $h) = req($proto, '/orders/', headers => ['X-API-Key: guessed']);
    is($st, 401, "$proto: an unknown API key and no token");
    ($st, $h, $body) = req($proto, '/orders/', token => $tok{free},
                           headers => ['X-API-Key: guessed']);
    is($st, 200, "$proto: a token is enough there");

    # applications: an opaque token, asked of the authorization server
    # (the mock on 9107), whose scope must allow reading orders
    ($st, $h, $body) = req($proto, '/orders/',
                           token => 'gto_demo-orders-app-7e3f21c9');
    is($st, 200, "$proto: orders with an application's opaque token");
    like($body, qr/"user":"erin","partner":"","client":"orders-app"/,
         "$proto: its user and client reach the service");
    ($st, $h, $body) = req($proto, '/orders/',
                           token => 'gto_demo-orders-app-7e3f21c9');
    is($h->{'ratelimit-limit'}, 300, "$proto: the application's limit");
    ($st, $h) = req($proto, '/orders/', token => 'gto_demo-billing-app-2b81d4f0');
    is($st, 401, "$proto: an opaque token without the scope");
    ($st, $h) = req($proto, '/orders/', token => 'gto_demo-revoked-5c0a9e17');
    is($st, 401, "$proto: an opaque token the server says is not active");
    like($h->{'www-authenticate'} // '', qr/error="invalid_token"/,
         "$proto: said to be invalid");

    ($st, $h, $body) = req($proto, '/payments/', token => $tok{free},
                           method => 'POST', data => '{"amount":1}');
    is($st, 201, "$proto: a payment");
    like($body, qr/"user":"alice"/, "$proto: by alice");
    ($st, $h, $body) = req($proto, '/payments/?fail=1', token => $tok{free},
                           method => 'POST', data => '{"amount":1}');
    is($st, 503, "$proto: payments failing on demand");

    ($st, $h, $body) = req($proto, '/notifications/', token => $tok{free});
    is($st, 200, "$proto: notifications");
    like($body, qr/"to":"alice"/, "$proto: alice's");

    # authorization on a claim
    ($st, $h) = req($proto, '/admin/', token => $tok{free});
    is($st, 403, "$proto: admin with a user's token");
    ($st, $h, $body) = req($proto, '/admin/', token => $tok{admin});
    is($st, 200, "$proto: admin with an admin's token");
    like($body, qr/"admin":"carol"/, "$proto: as carol");

    # aggregation: four services at once; a failing and a slow optional
    # part (cut by its location's proxy_read_timeout, 1.5s, before the
    # 2s deadline) leave the page incomplete, not broken
    ($st, $h, $body) = req($proto, '/product-page?id=10');
    is($st, 200, "$proto: the product page");
    is($h->{'x-aggregate-completed'}, 'true', "$proto: complete");
    like($body, qr/^\{"product":\{"id":10,.*"inventory":\{.*"reviews":\[.*"recommendations":\[/s,
         "$proto: the four parts");

    ($st, $h, $body) = req($proto, '/product-page?id=13');
    is($st, 200, "$proto: a page with a failing part");
    is($h->{'x-aggregate-completed'}, 'false', "$proto: incomplete");
    like($body, qr/"recommendations":null\}$/, "$proto: that part null");

    my $t0 = time;
    ($st, $h, $body) = req($proto, '/product-page?id=14');
    my $took = time - $t0;
    is($st, 200, "$proto: a page with a slow part");
    like($body, qr/"reviews":null/, "$proto: that part null");
    ok($took >= 1.4 && $took < 2.5,
       "$proto: answered when the part's proxy_read_timeout cut it");

    ($st, $h, $body) = req($proto, '/product-page?id=10',
                           headers => ['X-Client: mobile']);
    is($body, '{"product":{"id":10,"name":"Product 10","price":9.99},'
              . '"inventory":{"count":12},'
              . '"reviews":[{"stars":5},{"stars":4}]}',
       "$proto: the product page trimmed for a phone");
}

# five login attempts a minute per address, over both protocols together
my @codes = map { (req($_ % 2 ? 'h1' : 'h2', '/login', method => 'POST'))[0] }
            1 .. 6;
is("@codes", '200 200 200 200 200 429', 'five logins a minute, then 429');

# the metrics listener, after all of the above
my ($st, $h, $body) = req('h1', '/metrics') ;
is($st, 404, 'no metrics on the clients\' port');

my $metrics = `curl -sS http://127.0.0.1:9145/metrics`;
like($metrics, qr/^gateway_http_requests_total\{route="users",method="GET",status="2xx"\} 6$/m,
     'users requests counted');
like($metrics, qr/^gateway_jwt_requests_total\{route="admin",status="require_failed"\} 2$/m,
     'refused admins counted');
like($metrics, qr/^gateway_rate_limit_requests_total\{zone="login_per_ip",status="rejected"\} 1$/m,
     'the rejected login counted');
like($metrics, qr/^gateway_introspect_requests_total\{route="orders",status="valid"\} 4$/m,
     'opaque tokens let in counted');
like($metrics, qr/^gateway_introspect_requests_total\{route="orders",status="inactive"\} 2$/m,
     'inactive opaque tokens counted');
like($metrics, qr/^gateway_introspect_requests_total\{route="orders",status="require_failed"\} 2$/m,
     'opaque tokens without the scope counted');
like($metrics, qr/^gateway_aggregate_parts_total\{route="product-page",part="reviews",outcome="status"\} 2$/m,
     'the slow part counted');
is(GwMetrics::promtool($metrics), "promtool exit 0\n", 'promtool accepts it');

# nothing went wrong in the gateway itself
open my $log, '<', "$prefix/logs/error.log" or die;
my @bad = grep { /\[(?:crit|alert|emerg)\]/ } <$log>;
close $log;
is(scalar @bad, 0, 'no crit, alert or emerg in the error log')
    or diag(@bad);

done_testing();
