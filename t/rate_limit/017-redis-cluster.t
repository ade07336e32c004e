# rate_limit with its zones in a Redis Cluster: redis-cluster:// with
# three primaries (no replicas) made by redis-cli --cluster create, all
# started here.  The seeds are asked in turn for the slot map.  Each
# bucket is on its slot's primary, the key in braces (a hash tag), so that
# a zone's keys spread over the nodes and one client's limits on several
# zones share a slot; two nginx hold one limit exactly, and 50 keys
# theirs; a key rejected is not asked of its node again; limits in two
# slots are decided by a call each (no refund across slots), in one slot
# all or nothing; a slot moved while requests run (MOVED, then ASK
# halfway), also among many requests at once and to a node that joined
# since, loses no count; a node's loss fails only the keys it served,
# with one line, until it is back; a plain Redis, a map with uncovered
# slots and a wrong password are outages like any other; a password (in
# the URI, a file, an ACL user's) is never logged.  Needs redis-server and
# redis-cli.

use lib 't/helpers';
use GwRedis;
use GwHttp ();
use Test::Nginx::Socket 'no_plan';
use Time::HiRes ();

# a node that serves slots 0-99 only (first: a node's state is ok only
# 2 s after it started, while the clusters are made)
my $part = GwRedis::cluster_node();
GwRedis::node_cli($part, 'CLUSTER', 'ADDSLOTSRANGE', 0, 99) eq 'OK'
    or die "CLUSTER ADDSLOTSRANGE failed\n";

our @nodes = GwRedis::cluster();
our @secure = GwRedis::cluster(password => 'Cluster-pw');

for my $n (1 .. 501) {
    last if GwRedis::node_cli($part, 'CLUSTER', 'INFO')
            =~ /^cluster_state:ok\r?$/m;
    die "the node of slots 0-99 is not ok\n" if $n > 500;
    Time::HiRes::sleep(0.02);
}

# on each node of the password cluster, an ACL user with the least that
# rate_limit needs: the slot map, ASKING, the script and what it calls, on
# its keys
sub acl_user {
    my $port = shift;
    GwRedis::node_cli($port, 'ACL', 'SETUSER', 'gw', 'on', '>Gw-cluster-1',
                      '~rate_limit:*', 'resetchannels', '-@all',
                      '+cluster|slots', '+asking', '+evalsha', '+eval',
                      '+time', '+get', '+set') eq 'OK'
        or die "ACL SETUSER on $port failed\n";
}

acl_user($_) for @secure;

$ENV{TEST_NGINX_CLUSTER} = join ',', map { "127.0.0.1:$_" } @nodes;
$ENV{TEST_NGINX_SECURE} = join ',', map { "127.0.0.1:$_" } @secure;
$ENV{TEST_NGINX_PART_PORT} = $part;
$ENV{TEST_NGINX_DEAD_PORT} = GwHttp::free_ports();

open my $pwf, '>', "$GwRedis::DIR/cluster.pw" or die "$GwRedis::DIR: $!\n";
print $pwf "Cluster-pw\n";
close $pwf;
$ENV{TEST_NGINX_PW_FILE} = "$GwRedis::DIR/cluster.pw";

# the node that will be lost in its block: the one of a key's slot, known
# now, since the slots moved before are the ones of other keys
$ENV{TEST_NGINX_LOST_PORT} = GwRedis::key_owner($nodes[0], 'lost');

sub on { GwRedis::node_cli(@_) }
sub owner { GwRedis::key_owner($nodes[0], shift) }

# the first of the nodes but $port
sub other {
    my $port = shift;
    return (grep { $_ != $port } @nodes)[0];
}

# the first key "<prefix><n>" whose bucket is on the node $port
sub key_on {
    my ($port, $prefix) = @_;
    for my $n (1 .. 1000) {
        return "$prefix$n" if owner("$prefix$n") == $port;
    }
    die "no key $prefix* on $port\n";
}

# the statuses of GETs of @uris, one after the other
sub statuses {
    return join ' ', map { scalar GwHttp::http_get($_) } @_;
}

# the statuses of $n GETs of $uri, 0.25 s, 0.5 s... apart: each after the
# backoff of a connection (or a map) that keeps failing
sub spaced {
    my ($n, $uri) = @_;
    return join ' ', map { Time::HiRes::sleep(0.25 * $_);
                           scalar GwHttp::http_get($uri) } 1 .. $n;
}

# GETs of $uri, 0.05 s apart, while they fail closed (503): the first
# other status (a verdict), 0 if none came.  Bounded only to end a hang.
sub first_verdict {
    my $uri = shift;
    my $until = time + GwRedis::wait_time(30);
    while (time < $until) {
        my $s = GwHttp::http_get($uri);
        return $s if $s != 503;
        Time::HiRes::sleep(0.05);
    }
    return 0;
}

# how many GETs of $uri answer 200, of $n
sub admitted {
    my ($uri, $n, %o) = @_;
    return scalar grep { GwHttp::http_get($uri, %o) == 200 } 1 .. $n;
}

my $zones = <<'CONF';
    rate_limit_zone $arg_k zone=z:1m rate=10r/h burst=9
                    redis=redis-cluster://$TEST_NGINX_CLUSTER;
    rate_limit_zone $arg_k zone=y:1m rate=3r/h burst=2
                    redis=redis-cluster://$TEST_NGINX_CLUSTER;
    rate_limit_zone $arg_a zone=a:1m rate=10r/h burst=1
                    redis=redis-cluster://$TEST_NGINX_CLUSTER;
    rate_limit_zone $arg_b zone=b:1m rate=10r/h burst=3
                    redis=redis-cluster://$TEST_NGINX_CLUSTER;
    rate_limit_redis_timeout 2s;
    rate_limit_log_level info;
    rate_limit_redis_fail closed;
CONF

my $locations = <<'CONF';
    location = /z { rate_limit zone=z; alias html/ok.txt; }
    location = /y { rate_limit zone=y; alias html/ok.txt; }
    location = /a { rate_limit zone=a; alias html/ok.txt; }
    location = /b { rate_limit zone=b; alias html/ok.txt; }
    location = /ab { rate_limit zone=a; rate_limit zone=b;
                     alias html/ok.txt; }
    location = /zo { rate_limit zone=z; rate_limit_redis_fail open;
                     alias html/ok.txt; }
CONF

# a second nginx on the same cluster, with the same zones: its port
sub second {
    my $port = GwHttp::free_ports();
    (my $http = $zones) =~ s/\$(TEST_NGINX_\w+)/$ENV{$1}/g;
    (my $server = $locations) =~ s/html\//\@DIR\@\//g;
    GwRedis::start_nginx($port, "$http    server {\n"
                                . "        listen 127.0.0.1:$port;\n"
                                . "$server    }\n");
    return $port;
}

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('user_files', ">>> ok.txt\nok\n")
        unless defined $block->user_files;
    $block->set_value('http_config', $zones)
        unless defined $block->http_config;
    $block->set_value('config', $locations)
        unless defined $block->config;

    # the password is in no log line, whatever the block does
    $block->set_value('no_error_log', "Cluster-pw\nWrong-pw\nGw-cluster-1\n")
        unless defined $block->no_error_log;
});

# a line said once in a block's requests is found after each
check_accum_error_log();
worker_connections(1024);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: two nginx share the cluster: 10 of 30 pass, the bucket on its node
--- init
my $port = main::second();
my ($here, $there) = (0, 0);
for my $i (1 .. 15) {
    $here++ if GwHttp::http_get('/z?k=t1') == 200;
    $there++ if GwHttp::http_get('/z?k=t1', port => $port) == 200;
}
GwRedis::stop_nginx();
Test::More::is($here + $there, 10, '10 of 30 passed over both');
Test::More::ok($here > 0 && $there > 0, "both admitted some ($here, $there)");
my $node = main::owner('t1');
Test::More::is(main::on($node, 'EXISTS', 'rate_limit:z:{t1}'), '1',
               "the bucket is on $node, the node of its slot");
Test::More::is(scalar(grep { main::on($_, 'EXISTS', 'rate_limit:z:{t1}')
                             eq '1' } @main::nodes),
               1, 'and on no other');

# rejected by its node, then here: no call to the node again
main::on($node, 'CONFIG', 'RESETSTAT');
Test::More::is(main::statuses(('/z?k=t1') x 2), '429 429', 'still rejected');
Test::More::unlike(main::on($node, 'INFO', 'commandstats'),
                   qr/^cmdstat_eval/m, 'without asking the node');
--- request
GET /z?k=t1
--- error_code: 429
--- error_log eval
qr/\[info\] .*rate_limit: redis "redis-cluster:\/\/127\.0\.0\.1:\d+,127\.0\.0\.1:\d+,127\.0\.0\.1:\d+" has a slot map of 3 primaries/
--- no_error_log
[error]
Cluster-pw



=== TEST 2: the first seed is down: the next one gives the map
--- http_config
    rate_limit_zone $arg_k zone=s:1m rate=10r/h burst=1
                    redis=redis-cluster://127.0.0.1:$TEST_NGINX_DEAD_PORT,$TEST_NGINX_CLUSTER;
    rate_limit_redis_timeout 2s;
    rate_limit_log_level info;
    rate_limit_redis_fail closed;
--- config
    location = /t { rate_limit zone=s; alias html/ok.txt; }
--- request eval
["GET /t?k=seed", "GET /t?k=seed", "GET /t?k=seed"]
--- error_code eval
[200, 200, 429]
--- error_log eval
[qr/\[warn\] .*rate_limit: redis "redis-cluster:\/\/127\.0\.0\.1:$ENV{TEST_NGINX_DEAD_PORT},[^"]+" node 127\.0\.0\.1:$ENV{TEST_NGINX_DEAD_PORT} /,
 qr/\[info\] .*rate_limit: redis "[^"]+" has a slot map of 3 primaries/]
--- no_error_log eval
[qr/\[error\] .*rate_limit: /, 'Cluster-pw']



=== TEST 3: 50 keys over both nginx: each holds its limit, on every node
--- init
my $port = main::second();
my %got;
for my $i (1 .. 50) {
    for my $n (1 .. 6) {
        $got{$i}++ if GwHttp::http_get("/y?k=t2-$i",
                                       $n % 2 ? () : (port => $port)) == 200;
    }
}
GwRedis::stop_nginx();
my @wrong = grep { ($got{$_} // 0) != 3 } 1 .. 50;
Test::More::is("@wrong", '', 'every key admitted exactly 3 of 6');
my @on = map { my @k = split /\n/, main::on($_, 'KEYS', 'rate_limit:y:*');
              scalar @k } @main::nodes;
Test::More::is($on[0] + $on[1] + $on[2], 50, "the 50 buckets (@on)");
Test::More::is(scalar(grep { $_ > 0 } @on), 3, 'on all three nodes');
--- request
GET /y?k=t2-1
--- error_code: 429
--- no_error_log
[error]
Cluster-pw



=== TEST 4: keys with braces of their own: the slot Redis gives the name
--- init
# Redis hashes the name's first {...}, the one rate_limit writes around
# the key up to the key's first "}": each call goes to that slot's node at
# once, no MOVED
for my $k ('a}b', '{x}y', 'p{q}r', '{}z', '}{') {
    my $name = "rate_limit:z:{$k}";
    my $node = GwRedis::key_owner($main::nodes[0], $name);
    main::on($_, 'CONFIG', 'RESETSTAT') for @main::nodes;
    my @s = map {
        (GwHttp::parse(GwHttp::raw("GET /z?k=$k HTTP/1.0\r\n"
                                   . "Host: localhost\r\n\r\n")))[0]
    } 1 .. 3;
    Test::More::is("@s", '200 200 200', "$k: 3 pass");
    Test::More::is(main::on($node, 'EXISTS', $name), '1',
                   "$k: the bucket is on $node");
    my @called = grep { main::on($_, 'INFO', 'commandstats')
                        =~ /^cmdstat_eval/m } @main::nodes;
    Test::More::is("@called", $node, "$k: calls to $node alone");
}
--- request
GET /z?k=braces
--- error_code: 200
--- no_error_log
[error]
Cluster-pw



=== TEST 5: two zones, keys in two slots: a call each, no refund across them
--- init
my $ka = 't3a';
my $kb = main::key_on(main::other(main::owner($ka)), 't3b');
Test::More::isnt(GwRedis::keyslot($main::nodes[0], $ka),
                 GwRedis::keyslot($main::nodes[0], $kb),
                 "$ka and $kb: two slots");

# zone a rejects (2 pass): zone b is charged for the rejected request too,
# and has 1 left of its 4
Test::More::is(main::statuses(("/ab?a=$ka&b=$kb") x 3, ("/b?b=$kb") x 2),
               '200 200 429 200 429', 'the request a rejected took b');

# zone b rejects, its bucket used up first: zone a is charged all the same
my $a2 = 't3a2';
my $b2 = main::key_on(main::other(main::owner($a2)), 't3c');
Test::More::is(main::statuses(("/b?b=$b2") x 4, "/ab?a=$a2&b=$b2",
                              ("/a?a=$a2") x 2),
               '200 200 200 200 429 200 429', 'the request b rejected took a');
--- request
GET /a?a=t3a
--- error_code: 429
--- no_error_log
[error]
Cluster-pw



=== TEST 6: two zones, one key: one slot, one call, all or nothing
--- init
Test::More::is(main::statuses(('/ab?a=t4&b=t4') x 3, ('/b?b=t4') x 3),
               '200 200 429 200 200 429',
               'the request a rejected took nothing of b');
my $node = main::owner('t4');
Test::More::is(main::on($node, 'EXISTS', 'rate_limit:a:{t4}',
                        'rate_limit:b:{t4}'),
               '2', "both buckets on $node");
--- request
GET /a?a=t4
--- error_code: 429
--- no_error_log
[error]
Cluster-pw



=== TEST 7: "redis_prefix={gw}:": every key in one slot, all or nothing
--- http_config
    rate_limit_zone $arg_a zone=g1:1m rate=10r/h burst=1
                    redis=redis-cluster://$TEST_NGINX_CLUSTER "redis_prefix={gw}:";
    rate_limit_zone $arg_b zone=g2:1m rate=10r/h burst=3
                    redis=redis-cluster://$TEST_NGINX_CLUSTER "redis_prefix={gw}:";
    rate_limit_redis_timeout 2s;
    rate_limit_log_level info;
    rate_limit_redis_fail closed;
--- config
    location = /g { rate_limit zone=g1; rate_limit zone=g2;
                    alias html/ok.txt; }
    location = /g2 { rate_limit zone=g2; alias html/ok.txt; }
--- init
# two keys, two zones, one slot (gw's): g1 rejects, g2 is not charged
Test::More::is(main::statuses(('/g?a=x&b=y') x 3, ('/g2?b=y') x 3),
               '200 200 429 200 200 429',
               'the request g1 rejected took nothing of g2');
my $node = main::owner('gw');
Test::More::is(main::on($node, 'EXISTS', '{gw}:g1:{x}', '{gw}:g2:{y}'), '2',
               "both buckets on $node, the node of gw's slot");
--- request
GET /g?a=x&b=z
--- error_code: 429
--- no_error_log
[error]
Cluster-pw



=== TEST 8: a slot moved while requests run: MOVED, then ASK halfway
--- init
# moved all at once: the old node answers MOVED
my $slot = GwRedis::keyslot($main::nodes[0], 'moved');
my $from = main::owner('moved');
my $to = main::other($from);
Test::More::is(main::admitted('/z?k=moved', 4), 4, "4 pass on $from");
GwRedis::move_slot($slot, $from, $to, all => \@main::nodes);
Test::More::like(main::on($from, 'EXISTS', 'rate_limit:z:{moved}'),
                 qr/^MOVED $slot 127\.0\.0\.1:$to\b/, "$from says MOVED");
Test::More::is(main::statuses(('/z?k=moved') x 8),
               '200 200 200 200 200 200 429 429', "6 more pass on $to");
Test::More::is(main::on($to, 'EXISTS', 'rate_limit:z:{moved}'), '1',
               "the bucket is on $to");

# once the MOVED is followed, the slot's calls go to its new node alone:
# another zone's bucket of the key, in the same slot
Time::HiRes::sleep(GwRedis::wait_time(0.5));
main::on($from, 'CONFIG', 'RESETSTAT');
Test::More::is(main::statuses(('/y?k=moved') x 2), '200 200', 'zone y: 2 pass');
Test::More::unlike(main::on($from, 'INFO', 'commandstats'),
                   qr/^cmdstat_eval/m, "no call to $from any more");
Test::More::is(main::on($to, 'EXISTS', 'rate_limit:y:{moved}'), '1',
               "zone y's bucket is on $to");

# halfway: the bucket moved, the slot still migrating; the old node
# answers ASK, and the new one has not seen the script yet
$slot = GwRedis::keyslot($main::nodes[0], 'asked');
$from = main::owner('asked');
$to = main::other($from);
Test::More::is(main::admitted('/z?k=asked', 3), 3, "3 pass on $from");
main::on($to, 'CONFIG', 'RESETSTAT');
main::on($to, 'SCRIPT', 'FLUSH');
GwRedis::move_slot($slot, $from, $to, half => 1);
Test::More::like(main::on($from, 'EXISTS', 'rate_limit:z:{asked}'),
                 qr/^ASK $slot 127\.0\.0\.1:$to\b/, "$from says ASK");
Test::More::is(main::statuses(('/z?k=asked') x 9),
               '200 200 200 200 200 200 200 429 429', "7 more pass on $to");
Test::More::like(main::on($to, 'INFO', 'commandstats'),
                 qr/^cmdstat_asking:calls=[1-9]/m, "ASKING sent to $to");
GwRedis::finish_slot($slot, $from, $to, \@main::nodes);
Test::More::is(main::statuses(('/z?k=asked') x 2), '429 429',
               'the move finished, the limit holds');
Test::More::is(main::on($to, 'EXISTS', 'rate_limit:z:{asked}'), '1',
               "the bucket is on $to");
--- request
GET /z?k=moved
--- error_code: 429
--- no_error_log
[error]
Cluster-pw



=== TEST 9: requests at once, over many slots and a slot that moves
--- init
# 20 keys, 4 requests each, all at once: batched by node and slot, each
# key decided exactly (3 of 4)
my @uris = map { my $i = $_; map { "/y?k=many-$i" } 1 .. 4 } 1 .. 20;
my %got;
my @res = GwHttp::http_get_parallel(@uris);
for my $i (0 .. $#uris) {
    $got{$uris[$i]}{$res[$i][0]}++;
}
my @wrong = grep { ($got{$_}{200} // 0) != 3 || ($got{$_}{429} // 0) != 1 }
            sort keys %got;
Test::More::is("@wrong", '', 'each of 20 keys: 3 of 4 at once');

# a slot moved, then its key 10 times at once among 10 others: the calls
# that come back MOVED together go to the new node together
my $slot = GwRedis::keyslot($main::nodes[0], 'moving');
my $from = main::owner('moving');
my $to = main::other($from);
Test::More::is(main::admitted('/z?k=moving', 3), 3, "3 pass on $from");
GwRedis::move_slot($slot, $from, $to, all => \@main::nodes);
@uris = map { ('/z?k=moving', "/z?k=other-$_") } 1 .. 10;
@res = GwHttp::http_get_parallel(@uris);
my %pass;
for my $i (0 .. $#uris) {
    $pass{$uris[$i] eq '/z?k=moving' ? 'm' : 'o'} += $res[$i][0] == 200;
}
Test::More::is($pass{m}, 7, '7 more of 10 pass after the move, 10 in all');
Test::More::is($pass{o}, 10, 'and each of the 10 others passes');
Test::More::is(main::on($to, 'EXISTS', 'rate_limit:z:{moving}'), '1',
               "the bucket is on $to");
--- request
GET /z?k=moving
--- error_code: 429
--- no_error_log
[error]
Cluster-pw



=== TEST 10: a node is lost: its keys fail closed, the others hold their limits
--- init
my $lost = $ENV{TEST_NGINX_LOST_PORT};
my ($k1, $k2) = map { main::key_on($_, 'alive-') }
                 grep { $_ != $lost } @main::nodes;
my $open = main::key_on($lost, 'open-');
Test::More::is(main::statuses("/z?k=$k1", "/z?k=$k2", '/z?k=lost'),
               '200 200 200', 'all three nodes answer');
GwRedis::kill_server($lost);
Test::More::is(main::statuses(('/z?k=lost') x 5), '503 503 503 503 503',
               "the keys of $lost fail closed");
for my $k ($k1, $k2) {
    Test::More::is(main::statuses(("/z?k=$k") x 10),
                   join(' ', (200) x 9, 429), "$k holds its limit");
}
Test::More::is(main::statuses(("/zo?k=$open") x 11),
               join(' ', (200) x 10, 429),
               "fail open: the zone here decides for $open");
# and after each backoff (0.1 s, doubling): tried again, in vain, unsaid
Test::More::is(main::spaced(3, '/z?k=lost'), '503 503 503',
               "the keys of $lost still fail");
open my $log, '<', $Test::Nginx::Util::ErrLogFile or die "$!\n";
my @lines = grep {
    /\[error\] .*rate_limit: redis "[^"]+" node 127\.0\.0\.1:$lost /
} <$log>;
Test::More::is(scalar @lines, 1, 'one line for the outage, not one a request')
    or Test::More::diag(@lines);
--- request
GET /z?k=lost
--- error_code: 503
--- error_log eval
qr/\[error\] .*rate_limit: redis "redis-cluster:\/\/[^"]+" node 127\.0\.0\.1:$ENV{TEST_NGINX_LOST_PORT} (?:cannot connect|connection closed|cannot read|cannot send); retrying with backoff/
--- no_error_log eval
[qr/node 127\.0\.0\.1:(?!$ENV{TEST_NGINX_LOST_PORT}\b)\d+ /, 'Cluster-pw']



=== TEST 11: the lost node back: its keys have verdicts again, no reload
--- init
my $lost = $ENV{TEST_NGINX_LOST_PORT};
Test::More::is(main::statuses('/z?k=lost'), '503', "$lost is still down");
GwRedis::cluster_node(port => $lost);
GwRedis::wait_cluster(@main::nodes);

# Until the node answers and the backoff (5 s at most) is over, the keys
# fail closed; from the first verdict on, each has one.  The node kept no
# data: the bucket starts full.
my @after = main::first_verdict('/z?k=lost');
Test::More::is("@after", '200', 'a verdict again');
push @after, map { scalar GwHttp::http_get('/z?k=lost') } 1 .. 10;
Test::More::is("@after", join(' ', (200) x 10, 429),
               'the limit holds again, from a full bucket');
Test::More::is(main::on($lost, 'EXISTS', 'rate_limit:z:{lost}'), '1',
               "the bucket is on $lost");
--- request
GET /z?k=lost
--- error_code: 429
--- error_log eval
qr/\[notice\] .*rate_limit: redis "redis-cluster:\/\/[^"]+" node 127\.0\.0\.1:$ENV{TEST_NGINX_LOST_PORT} answers again/
--- no_error_log
Cluster-pw



=== TEST 12: a plain Redis behind redis-cluster://: no slot map, fail closed
--- http_config
    rate_limit_zone $arg_k zone=p:1m rate=10r/h burst=1
                    redis=redis-cluster://127.0.0.1:$TEST_NGINX_REDIS_PORT;
    rate_limit_redis_timeout 2s;
    rate_limit_log_level info;
--- config
    location = /t {
        rate_limit zone=p;
        rate_limit_redis_fail closed;
        alias html/ok.txt;
    }
--- init
Test::More::is(main::spaced(3, '/t?k=plain'), '503 503 503',
               'after each backoff too');
--- request
GET /t?k=plain
--- error_code: 503
--- grep_error_log eval
qr/has no slot map: no node gives it/
--- grep_error_log_out
has no slot map: no node gives it



=== TEST 13: no slot map, fail open: the zone in this nginx decides
--- http_config
    rate_limit_zone $arg_k zone=p:1m rate=10r/h burst=1
                    redis=redis-cluster://127.0.0.1:$TEST_NGINX_REDIS_PORT;
    rate_limit_redis_timeout 2s;
    rate_limit_log_level info;
--- config
    location = /t {
        rate_limit zone=p;
        rate_limit_redis_fail open;
        alias html/ok.txt;
    }
--- request eval
["GET /t?k=open", "GET /t?k=open", "GET /t?k=open"]
--- error_code eval
[200, 200, 429]
--- error_log eval
qr/\[error\] .*rate_limit: redis "redis-cluster:\/\/127\.0\.0\.1:$ENV{TEST_NGINX_REDIS_PORT}" has no slot map: no node gives it; retrying with backoff/



=== TEST 14: a map with uncovered slots: the limits there fail, the others hold
--- http_config
    rate_limit_zone $arg_k zone=p:1m rate=10r/h burst=1
                    redis=redis-cluster://127.0.0.1:$TEST_NGINX_PART_PORT;
    rate_limit_redis_timeout 2s;
    rate_limit_log_level info;
    rate_limit_redis_fail closed;
--- config
    location = /t { rate_limit zone=p; alias html/ok.txt; }
--- init
my ($in, $out);
for my $n (1 .. 2000) {
    my $slot = GwRedis::keyslot($ENV{TEST_NGINX_PART_PORT}, "part-$n");
    $in //= "part-$n" if $slot < 100;
    $out //= "part-$n" if $slot >= 100;
    last if defined $in && defined $out;
}
Test::More::is(main::statuses(("/t?k=$in") x 3), '200 200 429',
               "$in, in a slot served, holds its limit");
Test::More::is(main::statuses(("/t?k=$out") x 2), '503 503',
               "$out, in a slot no node serves, fails closed");
Test::More::is(main::on($ENV{TEST_NGINX_PART_PORT}, 'EXISTS',
                        "rate_limit:p:{$in}"),
               '1', 'the bucket is there');

# the node takes the other slots: a map asked for again after the
# backoff covers them
GwRedis::node_cli($ENV{TEST_NGINX_PART_PORT}, 'CLUSTER', 'ADDSLOTSRANGE',
                  100, 16383);
Test::More::is(main::first_verdict("/t?k=$out"), 200,
               "$out has a verdict once its slot is served");
Test::More::is(main::statuses("/t?k=$out", "/t?k=$in"), '200 429',
               'both hold their limits');
--- request
GET /t?k=part
--- ignore_response
--- error_log eval
[qr/\[error\] .*rate_limit: redis "redis-cluster:\/\/127\.0\.0\.1:$ENV{TEST_NGINX_PART_PORT}" covers 100 of 16384 slots: the limits on the others fail; retrying with backoff/,
 qr/\[notice\] .*rate_limit: redis "redis-cluster:\/\/127\.0\.0\.1:$ENV{TEST_NGINX_PART_PORT}" covers every slot again/]



=== TEST 15: a cluster with a password: redis-cluster://:password@
--- http_config
    rate_limit_zone $arg_k zone=p:1m rate=10r/h burst=2
                    redis=redis-cluster://:Cluster-pw@$TEST_NGINX_SECURE;
    rate_limit_redis_timeout 2s;
    rate_limit_log_level info;
    rate_limit_redis_fail closed;
--- config
    location = /t { rate_limit zone=p; alias html/ok.txt; }
--- init
Test::More::is(main::statuses(('/t?k=pw') x 3), '200 200 200', '3 pass');
my $node = GwRedis::key_owner($main::secure[0], 'pw');
Test::More::is(main::on($node, 'EXISTS', 'rate_limit:p:{pw}'), '1',
               "the bucket is on $node");
--- request
GET /t?k=pw
--- error_code: 429
--- error_log eval
qr/\[info\] .*rate_limit: redis "redis-cluster:\/\/127\.0\.0\.1:\d+,[^"]+" has a slot map of 3 primaries/
--- no_error_log
[error]
Cluster-pw



=== TEST 16: a slot moved to a node that joined since: a connection, with AUTH
--- http_config
    rate_limit_zone $arg_k zone=p:1m rate=10r/h burst=9
                    redis=redis-cluster://:Cluster-pw@$TEST_NGINX_SECURE;
    rate_limit_redis_timeout 2s;
    rate_limit_log_level info;
    rate_limit_redis_fail closed;
--- config
    location = /t { rate_limit zone=p; alias html/ok.txt; }
--- init
my $from = GwRedis::key_owner($main::secure[0], 'joined');
Test::More::is(main::admitted('/t?k=joined', 3), 3, "3 pass on $from");
my $new = GwRedis::cluster_node(password => 'Cluster-pw');
main::acl_user($new);
GwRedis::join_cluster($new, @main::secure);
push @main::secure, $new;
GwRedis::move_slot(GwRedis::keyslot($new, 'joined'), $from, $new,
                   all => \@main::secure);
Test::More::is(main::statuses(('/t?k=joined') x 9),
               join(' ', (200) x 7, 429, 429), "7 more pass on $new");
Test::More::is(main::on($new, 'EXISTS', 'rate_limit:p:{joined}'), '1',
               "the bucket is on $new");
--- request
GET /t?k=joined
--- error_code: 429
--- no_error_log
[error]
Cluster-pw



=== TEST 17: the password from a file, the user named in the URI
--- http_config
    rate_limit_zone $arg_k zone=p:1m rate=10r/h burst=1
                    redis=redis-cluster://default@$TEST_NGINX_SECURE
                    redis_password_file=$TEST_NGINX_PW_FILE;
    rate_limit_redis_timeout 2s;
    rate_limit_log_level info;
    rate_limit_redis_fail closed;
--- config
    location = /t { rate_limit zone=p; alias html/ok.txt; }
--- request eval
["GET /t?k=file", "GET /t?k=file", "GET /t?k=file"]
--- error_code eval
[200, 200, 429]
--- no_error_log
[error]
Cluster-pw



=== TEST 18: an ACL user with the least rate_limit needs
--- http_config
    rate_limit_zone $arg_k zone=p:1m rate=10r/h burst=1
                    redis=redis-cluster://gw:Gw-cluster-1@$TEST_NGINX_SECURE;
    rate_limit_redis_timeout 2s;
    rate_limit_log_level info;
    rate_limit_redis_fail closed;
--- config
    location = /t { rate_limit zone=p; alias html/ok.txt; }
--- init
Test::More::is(main::statuses(('/t?k=acl') x 2), '200 200', '2 pass');
my $node = GwRedis::key_owner($main::secure[0], 'acl');
Test::More::is(main::on($node, 'EXISTS', 'rate_limit:p:{acl}'), '1',
               "the bucket is on $node");
--- request
GET /t?k=acl
--- error_code: 429
--- no_error_log
[error]
Gw-cluster-1
Cluster-pw



=== TEST 19: a wrong password: fail closed, and the password is not logged
--- http_config
    rate_limit_zone $arg_k zone=p:1m rate=10r/h burst=1
                    redis=redis-cluster://:Wrong-pw@$TEST_NGINX_SECURE;
    rate_limit_redis_timeout 2s;
    rate_limit_log_level info;
    rate_limit_redis_fail closed;
--- config
    location = /t { rate_limit zone=p; alias html/ok.txt; }
--- request eval
["GET /t?k=wrong", "GET /t?k=wrong"]
--- error_code eval
[503, 503]
--- error_log eval
qr/rate_limit: redis "redis-cluster:\/\/127\.0\.0\.1:\d+,[^"]+" .*(?:refused AUTH|WRONGPASS)/
--- no_error_log
Wrong-pw
Cluster-pw



=== TEST 20: a database in a cluster URI: nginx -t says no
--- http_config
    rate_limit_zone $arg_k zone=p:1m rate=10r/h
                    redis=redis-cluster://127.0.0.1:7000,127.0.0.1:7001/1;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid redis address "redis-cluster:\/\/127\.0\.0\.1:7000,127\.0\.0\.1:7001\/1": /



=== TEST 21: Cluster in TLS is not supported: nginx -t says so
--- http_config
    rate_limit_zone $arg_k zone=p:1m rate=10r/h
                    redis=rediss-cluster://127.0.0.1:7000;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*rate_limit_zone: "rediss-cluster:\/\/" is not supported/



=== TEST 22: a password in a cluster URI is never in a configuration error
--- http_config
    rate_limit_zone $arg_k zone=p:1m rate=10r/h
                    redis=redis-cluster://:Cluster-pw@127.0.0.1:7000,127.0.0.1:99999;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid redis address "redis-cluster:\/\/127\.0\.0\.1:7000,127\.0\.0\.1:99999": invalid port/
--- no_error_log
Cluster-pw
