# upstream_discovery with an etcd cluster of three members on loopback
# (t/helpers/GwEtcd.pm): the watch sees a change at once, however long the
# interval; the leader killed, a follower killed, the member nginx uses
# killed: changes are still followed; every member down: the list stays,
# one error line, and it follows etcd again once they are back; a member
# left without quorum is not trusted; a registration under a lease goes
# when the lease expires.  Needs etcd-server and etcd-client.
#
# Each block starts every member again; etcd= lists them in the order
# the block needs ($TEST_NGINX_ETCD_LEADER_FIRST ...).  Backends b1, b2,
# b3 answer "b1\n" ... on ports of their own.

use lib 't/helpers';
BEGIN { $GwEtcd::CLUSTER = 3 }
use GwEtcd ();
use GwHttp ();
use Time::HiRes ();
use Test::Nginx::Socket 'no_plan';

GwEtcd::cluster();

add_block_preprocessor(sub {
    my $block = shift;

    GwEtcd::setup_block($block);

    $block->set_value('http_config', $block->http_config . GwEtcd::backends())
        if defined $block->http_config;

    # until etcd first answers, an upstream without server lines has no
    # peers: the waits for that answer see 502 and its error line
    $block->set_value('no_error_log',
                      [qr/\[error\] (?!.*no live upstreams while connecting)/,
                       '[warn]', '[crit]', '[alert]'])
        unless defined $block->no_error_log || defined $block->error_log;
});

# a write through the members still running: the first one after the
# leader was killed may time out while they elect another
sub ctl {
    my @args = @_;
    GwEtcd::wait_until(sub { eval { GwEtcd::ctl(@args); 1 } }, 15)
        or die "etcdctl @args: $@";
}

sub put { main::ctl('put', '--', @_) }

sub del { main::ctl('del', @_) }

sub sees {
    my ($body, $timeout) = @_;
    return GwEtcd::wait_until(sub { GwEtcd::bodies('/d/', 1)->{"$body\n"} },
                              $timeout);
}

no_shuffle();
run_tests();

__DATA__

=== TEST 1: three members, interval=10s: additions, weights and removals are seen within 0.5s, through the watch
--- http_config
    upstream u1 {
        discovery etcd=$TEST_NGINX_ETCD_MEMBERS prefix=/c1/ interval=10s;
    }
--- etcd
/c1/a 127.0.0.1:$TEST_NGINX_B1_PORT
--- config
    location /d/ {
        proxy_pass http://u1/;
    }
--- init
Test::More::ok(GwEtcd::wait_status('/d/', 200), 'etcd has answered');
main::put('/c1/b', "127.0.0.1:$ENV{TEST_NGINX_B2_PORT}");
Test::More::ok(main::sees('b2', 0.5), 'an instance added: seen within 0.5s');
main::put('/c1/b', GwEtcd::instance('127.0.0.1', $ENV{TEST_NGINX_B2_PORT}, 3));
Test::More::ok(GwEtcd::wait_tally('/d/', 8, 'b1 2, b2 6', 0.5),
               'a weight changed: seen within 0.5s');
main::del('/c1/a');
Test::More::ok(GwEtcd::wait_tally('/d/', 4, 'b2 4', 0.5),
               'an instance removed: seen within 0.5s');
main::put('/c1/c', "127.0.0.1:$ENV{TEST_NGINX_B3_PORT}");
main::put('/c1/d', "127.0.0.1:$ENV{TEST_NGINX_B1_PORT}");
main::del('/c1/b');
Test::More::ok(GwEtcd::wait_tally('/d/', 4, 'b1 2, b3 2', 0.5),
               'three changes: seen within 0.5s');
--- request
GET /d/
--- response_body_like: ^b[13]$



=== TEST 2: nginx asks the leader; the leader is killed: one warning, and changes are followed through another member
--- http_config
    upstream u2 {
        discovery etcd=$TEST_NGINX_ETCD_LEADER_FIRST prefix=/c2/
                  interval=10s;
    }
--- etcd
/c2/a 127.0.0.1:$TEST_NGINX_B1_PORT
--- config
    location /d/ {
        proxy_pass http://u2/;
    }
--- init
Test::More::ok(GwEtcd::wait_status('/d/', 200), 'etcd has answered');
my $leader = GwEtcd::leader();
GwEtcd::kill_member($leader);
Test::More::ok(GwEtcd::wait_log(qr/\[warn\] .*etcd at 127\.0\.0\.1:@{[GwEtcd::port_of($leader)]} failed: .+, trying 127\.0\.0\.1:\d+/),
               'the killed leader is left');
main::put('/c2/b', "127.0.0.1:$ENV{TEST_NGINX_B2_PORT}");
Test::More::ok(main::sees('b2'), 'a change after the kill is seen');
main::del('/c2/a');
Test::More::ok(GwEtcd::wait_tally('/d/', 4, 'b2 4'), 'and the next one');
Test::More::ok(defined GwEtcd::leader(), 'the others elected a leader');
--- request
GET /d/
--- response_body
b2
--- error_log eval
qr/\[warn\] .*discovery: upstream "u2": etcd at 127\.0\.0\.1:\d+ failed: .+, trying 127\.0\.0\.1:\d+/
--- no_error_log eval
[qr/\[error\] (?!.*no live upstreams while connecting)/, '[crit]', '[alert]']



=== TEST 3: nginx asks a follower; the leader is killed: changes are followed, no error
--- http_config
    upstream u3 {
        discovery etcd=$TEST_NGINX_ETCD_FOLLOWER_FIRST prefix=/c3/
                  interval=10s;
    }
--- etcd
/c3/a 127.0.0.1:$TEST_NGINX_B1_PORT
--- config
    location /d/ {
        proxy_pass http://u3/;
    }
--- init
Test::More::ok(GwEtcd::wait_status('/d/', 200), 'etcd has answered');
GwEtcd::kill_member(GwEtcd::leader());
main::put('/c3/b', "127.0.0.1:$ENV{TEST_NGINX_B2_PORT}");
Test::More::ok(main::sees('b2', 5), 'a change after the kill is seen');
main::del('/c3/a');
Test::More::ok(GwEtcd::wait_tally('/d/', 4, 'b2 4'), 'and the next one');
--- request
GET /d/
--- response_body
b2
--- no_error_log eval
[qr/\[error\] (?!.*no live upstreams while connecting)/, '[crit]', '[alert]']



=== TEST 4: nginx asks a follower, which is killed: one warning, changes are followed through another member
--- http_config
    upstream u4 {
        discovery etcd=$TEST_NGINX_ETCD_FOLLOWER_FIRST prefix=/c4/
                  interval=10s;
    }
--- etcd
/c4/a 127.0.0.1:$TEST_NGINX_B1_PORT
--- config
    location /d/ {
        proxy_pass http://u4/;
    }
--- init
Test::More::ok(GwEtcd::wait_status('/d/', 200), 'etcd has answered');
my ($follower) = grep { $_ != GwEtcd::leader() } 0 .. 2;
my ($first) = $ENV{TEST_NGINX_ETCD_FOLLOWER_FIRST} =~ /^127\.0\.0\.1:(\d+)/;
Test::More::is(GwEtcd::port_of($follower) == $first ? 1 : 0, 1,
               'etcd= lists a follower first');
GwEtcd::kill_member($follower);
Test::More::ok(GwEtcd::wait_log(qr/\[warn\] .*etcd at 127\.0\.0\.1:$first failed: .+, trying/),
               'the killed follower is left');
main::put('/c4/b', "127.0.0.1:$ENV{TEST_NGINX_B2_PORT}");
Test::More::ok(main::sees('b2'), 'a change after the kill is seen');
Test::More::is(GwEtcd::log_count(qr/\[warn\] .*etcd at .* failed/), 1,
               'one warning');
--- request
GET /d/
--- response_body_like: ^b[12]$
--- error_log eval
qr/\[warn\] .*discovery: upstream "u4": etcd at 127\.0\.0\.1:\d+ failed: .+, trying 127\.0\.0\.1:\d+/
--- no_error_log eval
[qr/\[error\] (?!.*no live upstreams while connecting)/, '[crit]', '[alert]']



=== TEST 5: every member down: the list serves on, one error line; all back: it answers again and changes are seen
--- http_config
    upstream u5 {
        server 127.0.0.1:$TEST_NGINX_B3_PORT;
        discovery etcd=$TEST_NGINX_ETCD_MEMBERS prefix=/c5/ interval=1s;
    }
--- etcd
/c5/a 127.0.0.1:$TEST_NGINX_B1_PORT
/c5/b 127.0.0.1:$TEST_NGINX_B2_PORT
--- config
    location /d/ {
        proxy_pass http://u5/;
    }
--- init
my $failed = qr/\[error\] .*discovery: upstream "u5": etcd at 127\.0\.0\.1:\d+ failed/;
Test::More::ok(GwEtcd::wait_tally('/d/', 2, 'b1 1, b2 1'), 'etcd has answered');
GwEtcd::kill_member($_) for 0 .. 2;
Test::More::ok(GwEtcd::wait_log($failed, 5), 'the outage is logged');
Time::HiRes::sleep(3 * $GwEtcd::SLOW);
Test::More::is(GwEtcd::tally(GwEtcd::bodies('/d/', 20)), 'b1 10, b2 10',
               'the last list serves, not the server line');
Test::More::is(GwEtcd::log_count($failed), 1, 'one error line');
GwEtcd::start_member($_) for 0 .. 2;
Test::More::ok(GwEtcd::wait_log(qr/etcd at 127\.0\.0\.1:\d+ answers again/, 15),
               'etcd answers again');
main::del('/c5/b');
Test::More::ok(GwEtcd::wait_tally('/d/', 4, 'b1 4', 5), 'a change is seen');
Test::More::is(GwEtcd::log_count($failed), 1, 'still one error line');
--- request
GET /d/
--- response_body
b1
--- error_log eval
[
qr/\[error\] .*discovery: upstream "u5": etcd at 127\.0\.0\.1:\d+ failed: .+, keeping 2 instances/,
qr/\[notice\] .*discovery: upstream "u5": etcd at 127\.0\.0\.1:\d+ answers again/,
]
--- no_error_log
[crit]
[alert]



=== TEST 6: a member left without a quorum is not trusted: the outage is told, the list kept; with a quorum again, changes are seen
--- http_config
    upstream u6 {
        discovery etcd=$TEST_NGINX_ETCD_FOLLOWER_FIRST prefix=/c6/
                  interval=1s;
    }
--- etcd
/c6/a 127.0.0.1:$TEST_NGINX_B1_PORT
--- config
    location /d/ {
        proxy_pass http://u6/;
    }
--- init
my $failed = qr/\[error\] .*discovery: upstream "u6": etcd at 127\.0\.0\.1:\d+ failed/;
Test::More::ok(GwEtcd::wait_status('/d/', 200), 'etcd has answered');
my ($first) = $ENV{TEST_NGINX_ETCD_FOLLOWER_FIRST} =~ /^127\.0\.0\.1:(\d+)/;
my ($kept) = grep { GwEtcd::port_of($_) == $first } 0 .. 2;
my @others = grep { $_ != $kept } 0 .. 2;
GwEtcd::kill_member($_) for @others;
Test::More::ok(GwEtcd::wait_log($failed, 15), 'the outage is told');
Test::More::is(GwEtcd::tally(GwEtcd::bodies('/d/', 4)), 'b1 4',
               'the list serves on');
GwEtcd::start_member($others[0]);
GwEtcd::wait_leader();
main::put('/c6/b', "127.0.0.1:$ENV{TEST_NGINX_B2_PORT}");
Test::More::ok(main::sees('b2', 15), 'with a quorum, a change is seen');
Test::More::is(GwEtcd::log_count($failed), 1, 'one error line');
--- request
GET /d/
--- response_body_like: ^b[12]$
--- error_log eval
qr/\[error\] .*discovery: upstream "u6": etcd at 127\.0\.0\.1:\d+ failed: .+, keeping 1 instances/
--- no_error_log
[crit]
[alert]



=== TEST 7: an instance registered under a lease: kept alive, it stays past the TTL; no longer kept alive, it goes when the lease expires
--- http_config
    upstream u7 {
        discovery etcd=$TEST_NGINX_ETCD_MEMBERS prefix=/c7/ interval=10s;
    }
--- etcd
/c7/a 127.0.0.1:$TEST_NGINX_B1_PORT
--- config
    location /d/ {
        proxy_pass http://u7/;
    }
--- init
Test::More::ok(GwEtcd::wait_status('/d/', 200), 'etcd has answered');
my $lease = GwEtcd::lease_grant(2);
main::ctl('put', "--lease=$lease", '/c7/b', "127.0.0.1:$ENV{TEST_NGINX_B2_PORT}");
Test::More::ok(main::sees('b2'), 'the instance under the lease serves');
for (1 .. 8) {
    GwEtcd::lease_keep_alive($lease);
    Time::HiRes::sleep(0.5);
}
Test::More::is(GwEtcd::tally(GwEtcd::bodies('/d/', 4)), 'b1 2, b2 2',
               'kept alive for 4s, it still serves');
my $t = Time::HiRes::time();
Test::More::ok(GwEtcd::wait_tally('/d/', 4, 'b1 4', 6),
               'the instance died: its key expired with the lease');
$t = Time::HiRes::time() - $t;
Test::More::cmp_ok($t, '>', 1, "not before the TTL had passed ($t)");
--- request
GET /d/
--- response_body
b1
