# gateway_metrics under a master process: two workers count into one zone,
# a reload keeps the counters, scrapes answer while requests are counted,
# and a reload that changes the buckets is refused.
#
# Under valgrind the runner starts nginx without a master process, so
# these blocks are skipped there.

use lib 't/helpers';
use GwHttp ();
use Time::HiRes ();
use Test::Nginx::Socket 'no_plan';

master_on();
workers(2);
worker_connections(1024);

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('user_files', ">>> ok.txt\nok\n")
        unless defined $block->user_files;
    $block->set_value('skip_eval', '1: $ENV{TEST_NGINX_USE_VALGRIND}')
        unless defined $block->skip_eval;
});

sub count {
    my ($body, $route) = @_;
    my ($n) = $body =~ /^gateway_http_requests_total\{route="\Q$route\E",method="GET",status="2xx"\} (\d+)$/m;
    return $n // 0;
}

# Edits nginx.conf and sends HUP: true once the master logs that it
# refused the new configuration
sub refused_reload {
    my $edit = shift;
    my $file = $Test::Nginx::Util::ConfFile;
    open my $in, '<', $file or die "cannot read $file: $!\n";
    local $_ = do { local $/; <$in> };
    close $in;
    $edit->();
    open my $out, '>', $file or die "cannot write $file: $!\n";
    print $out $_;
    close $out;
    open my $pf, '<', $Test::Nginx::Util::PidFile or die "no pid file: $!\n";
    my ($pid) = <$pf> =~ /(\d+)/;
    close $pf;
    kill 'HUP', $pid or die "cannot send HUP: $!\n";
    for (1 .. 500) {
        open my $log, '<', $Test::Nginx::Util::ErrLogFile or next;
        my $text = do { local $/; <$log> };
        close $log;
        return 1 if $text =~ /has other buckets than before/;
        Time::HiRes::sleep(0.02);
    }
    return 0;
}

no_shuffle();
run_tests();

__DATA__

=== TEST 1: two workers, one zone: 200 requests at once, 200 counted
--- http_config
    gateway_metrics_zone gw:1m;
--- config
    location = /a {
        gateway_metrics_route files;
        alias html/ok.txt;
    }
    location = /metrics {
        gateway_metrics;
    }
--- init
my @res = GwHttp::http_get_parallel(('/a') x 200);
Test::More::is(scalar(grep { $_->[0] == 200 } @res), 200, '200 answered');
--- request
GET /metrics
--- response_body_like
^gateway_http_requests_total\{route="files",method="GET",status="2xx"\} 200$
--- response_body_filters eval
sub { CORE::join '', grep { /^gateway_http_requests_total/ } split /^/m, shift }
--- no_error_log
[error]
[alert]



=== TEST 2: a reload keeps the counters
--- http_config
    gateway_metrics_zone gw:1m;
--- config
    location = /a {
        gateway_metrics_route files;
        alias html/ok.txt;
    }
    location = /metrics {
        gateway_metrics;
    }
    location = /gen {
        return 200 "gen-1";
    }
--- init
GwHttp::http_get('/a') for 1 .. 5;
Test::More::ok(GwHttp::reload_nginx(sub { s/gen-1/gen-2/g }, '/gen',
                                      'gen-2'),
               'the new configuration serves');
GwHttp::http_get('/a') for 1 .. 2;
--- request
GET /metrics
--- response_body_filters eval
sub { CORE::join '', grep { /^gateway_http_requests_total/ } split /^/m, shift }
--- response_body
gateway_http_requests_total{route="files",method="GET",status="2xx"} 7
--- no_error_log
[error]
[alert]



=== TEST 3: scrapes while requests are counted: every scrape answers, counters never go back
--- http_config
    gateway_metrics_zone gw:1m;
--- config
    location = /a {
        gateway_metrics_route files;
        alias html/ok.txt;
    }
    location = /metrics {
        gateway_metrics;
    }
--- init
my @uris = map { $_ % 5 ? '/a' : '/metrics' } 1 .. 500;
my @res = GwHttp::http_get_parallel(@uris);
my ($scrapes, $requests, $bad) = (0, 0, 0);
for my $i (0 .. $#uris) {
    if ($uris[$i] eq '/metrics') {
        $scrapes++ if $res[$i][0] == 200
                      && $res[$i][2] =~ /\ngateway_metrics_dropped_total 0\n\z/;
    } else {
        $requests++ if $res[$i][0] == 200;
    }
}
Test::More::is($scrapes, 100, '100 whole scrapes');
Test::More::is($requests, 400, '400 requests');
my $last = 0;
for (1 .. 20) {
    my (undef, undef, $body) = GwHttp::http_get('/metrics');
    my $n = main::count($body, 'files');
    $bad++ if $n < $last;
    $last = $n;
}
Test::More::is($bad, 0, 'no counter went back');
--- request
GET /metrics
--- response_body_filters eval
sub { CORE::join '', grep { /^gateway_http_requests_total/ } split /^/m, shift }
--- response_body
gateway_http_requests_total{route="files",method="GET",status="2xx"} 400
--- no_error_log
[error]
[alert]



=== TEST 4: a reload with other buckets is refused; the old configuration serves on
--- http_config
    gateway_metrics_zone gw:1m buckets=10ms,100ms;
--- config
    location = /a {
        gateway_metrics_route files;
        alias html/ok.txt;
    }
    location = /metrics {
        gateway_metrics;
    }
    location = /gen {
        return 200 "gen-1";
    }
--- init
GwHttp::http_get('/a') for 1 .. 3;
Test::More::ok(main::refused_reload(sub { s/10ms,100ms/10ms,1s/ }),
               'the reload is refused');
Test::More::is((GwHttp::http_get('/gen'))[2], 'gen-1',
               'the old configuration serves');
--- request
GET /metrics
--- response_body_filters eval
sub { CORE::join '', grep { /^gateway_http_requests_total/ } split /^/m, shift }
--- response_body
gateway_http_requests_total{route="files",method="GET",status="2xx"} 3
--- error_log eval
qr/\[emerg\] .*gateway_metrics_zone "gw" has other buckets than before; give it another name or size to start it afresh/
