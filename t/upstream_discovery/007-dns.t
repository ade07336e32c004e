# What docs/upstream_discovery.md says of Consul's DNS on nginx 1.22 and
# 1.26, against a DNS server of the file's own (Net::DNS::Nameserver,
# Debian's libnet-dns-perl) standing in for the Consul agent's: a
# resolver and a variable in proxy_pass follow the name; the DNS server
# gone, once valid has run out, requests get 502; "resolve" on a server
# line is refused before nginx 1.27.3.

use lib 't/helpers';
use GwHttp ();
use Net::DNS::Nameserver ();
use POSIX ();
use Time::HiRes ();
use Test::Nginx::Socket 'no_plan';

# b1's port, the DNS server's, a port nothing listens on
@ENV{qw(TEST_NGINX_B1_PORT TEST_NGINX_DNS_PORT)} = GwHttp::free_ports(2);

my ($dns, $owner) = (undef, $$);

# users.service.consul is 127.0.0.1, with Consul's TTL of 0
sub dns_start {
    my $ns = Net::DNS::Nameserver->new(
        LocalAddr => '127.0.0.1', LocalPort => $ENV{TEST_NGINX_DNS_PORT},
        ReplyHandler => sub {
            my ($qname, $qclass, $qtype) = @_;
            return ('NXDOMAIN', [], [], [])
                unless lc $qname eq 'users.service.consul';
            return ('NOERROR', [], [], []) unless $qtype eq 'A';
            return ('NOERROR',
                    [Net::DNS::RR->new("$qname 0 IN A 127.0.0.1")], [], [],
                    { aa => 1 });
        },
        Verbose => 0) or die "no DNS server: $!\n";
    $dns = fork // die "fork: $!\n";
    if ($dns == 0) {
        $ns->main_loop;
        POSIX::_exit(0);
    }
}

sub dns_stop {
    return unless $dns;
    kill 'KILL', $dns;
    waitpid $dns, 0;
    undef $dns;
}

END { dns_stop() if $$ == $owner }

add_block_preprocessor(sub {
    my $block = shift;
    dns_start() unless $dns || defined $block->must_die;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: a resolver and a variable: the name is resolved when a request needs it
--- http_config
    resolver 127.0.0.1:$TEST_NGINX_DNS_PORT valid=1s ipv6=off;
    resolver_timeout 1s;

    server {
        listen 127.0.0.1:$TEST_NGINX_B1_PORT;
        location / {
            return 200 "b1 $uri\n";
        }
    }
--- config
    location /users/ {
        set $users users.service.consul;
        proxy_pass http://$users:$TEST_NGINX_B1_PORT;
    }
--- request
GET /users/1
--- response_body
b1 /users/1



=== TEST 2: the DNS server gone: once valid has run out, 502 and "could not be resolved"
--- http_config
    resolver 127.0.0.1:$TEST_NGINX_DNS_PORT valid=1s ipv6=off;
    resolver_timeout 1s;

    server {
        listen 127.0.0.1:$TEST_NGINX_B1_PORT;
        location / {
            return 200 "b1\n";
        }
    }
--- config
    location /users/ {
        set $users users.service.consul;
        proxy_pass http://$users:$TEST_NGINX_B1_PORT;
    }
--- init
my ($status) = GwHttp::http_get('/users/');
Test::More::is($status, 200, 'resolved while the DNS server answers');
main::dns_stop();
# valid is counted in whole seconds
Time::HiRes::sleep(2.5);
--- request
GET /users/
--- error_code: 502
--- error_log eval
qr/\[error\] .*users\.service\.consul could not be resolved \(110: Operation timed out\)/



=== TEST 3: "resolve" on a server line: refused before nginx 1.27.3
--- skip_nginx: 1: >= 1.27.3
--- http_config
    upstream users_service {
        zone users_service 64k;
        server users.service.consul:8080 resolve;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter "resolve" in \S+nginx\.conf:\d+/
