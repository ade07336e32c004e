#!/usr/bin/perl
# make test-deb: the packages of make deb on this machine's Debian nginx.
# All of them, then one alone: apt-get installs them, the modules are
# enabled the Debian way and nginx -t passes, the admin's choices survive
# a reinstall, and remove then purge leave nothing of ours. It changes the
# system, so it runs as root only, outside make test, and puts back what
# it found; it never starts nginx (a running one is reloaded by nginx's
# own trigger, as with any module package).

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use Test::More;

my $top      = abs_path(dirname(__FILE__) . '/../..');
my $deb_dir  = $ENV{DEB_DIR} // "$top/build/deb";
my $nginx    = '/usr/sbin/nginx';
my $so_dir   = '/usr/lib/nginx/modules';
my $avail    = '/usr/share/nginx/modules-available';
my $enabled  = '/etc/nginx/modules-enabled';
my @watched  = ($so_dir, $avail, $enabled);

# a directive of each module, so that nginx -t shows the module is there
my %directive = (
    'auth-jwt'           => { location => 'auth_jwt off;' },
    'auth-api-key'       => { location => 'auth_api_key off;' },
    'rate-limit'         => {
        http     => 'rate_limit_zone $binary_remote_addr'
                    . ' zone=deb_test_limits:1m rate=1r/s;',
        location => 'rate_limit zone=deb_test_limits;',
    },
    'json-filter'        => { location => 'json_fields "id";' },
    'aggregate'          => { location => 'aggregate_part a /a;' },
    'gateway-metrics'    => {
        http     => 'gateway_metrics_zone deb_test_metrics:1m;',
        location => 'gateway_metrics_route deb_test;',
    },
    'upstream-discovery' => {
        upstream => 'discovery etcd=127.0.0.1:2379 prefix=/deb-test/;',
    },
    'health-check'       => { http => 'match deb_test_match { status 200; }' },
    'auth-introspect'    => { location => 'auth_introspect off;' },
);

plan skip_all => 'needs root: it installs and purges packages'
    . ' (sudo make test-deb)'
    if $> != 0;

plan skip_all => "needs Debian's nginx ($nginx, dpkg, apt-get)"
    unless -x $nginx && -x '/usr/bin/dpkg' && -x '/usr/bin/apt-get'
           && -d $enabled;

$ENV{DEBIAN_FRONTEND} = 'noninteractive';
$ENV{LC_ALL} = 'C';

my @apt = ('apt-get', '-y', '-q', '--no-install-recommends',
           '-o', 'DPkg::Lock::Timeout=300');

# the packages of the modules in config, each with its .deb
my @names;
{
    open my $fh, '<', "$top/config" or die "$top/config: $!";
    while (<$fh>) {
        next unless /^ngx_module_name=ngx_http_(\w+)_module$/;
        (my $name = $1) =~ tr/_/-/;
        push @names, $name;
    }
}

my (%deb, %version);
for my $file (glob "$deb_dir/*.deb") {
    my ($rc, $out) = run('dpkg-deb', '-f', $file, 'Package', 'Version');
    my ($package) = $out =~ /^Package: (\S+)$/m;
    my ($version) = $out =~ /^Version: (\S+)$/m;
    $deb{$package} = $file;
    $version{$package} = $version;
}

my @packages = map { "libnginx-mod-http-$_" } @names;

if (grep { !$deb{$_} } @packages) {
    BAIL_OUT("$deb_dir lacks "
             . join(', ', grep { !$deb{$_} } @packages) . ': run make deb');
}

my @known = grep { dpkg_status($_) } @packages;
plan skip_all => "@known already known to dpkg: the test would purge it"
    if @known;

# nginx -t creates the pid file (empty) when nginx does not run
my $pid_file = nginx_pid_file();
my $pid_existed = -e $pid_file;
my $master_before = nginx_master();

my ($rc, $nginx_t) = nginx_t();
if ($rc != 0) {
    restore_pid_file();
    plan skip_all => "nginx -t fails before the test:\n$nginx_t";
}
my $out;

my %before = map { $_ => listing($_) } @watched;

# from here on, whatever happens, ours are purged at the end
my $armed = 1;
$SIG{$_} = sub { die "killed\n" } for qw(INT TERM HUP);

END {
    local $?;    # the test's exit code; run() sets $?

    if ($armed) {
        my @ours = grep { dpkg_status($_) } @packages;
        run('dpkg', '--purge', @ours) if @ours;
        restore_pid_file();
    }
}

note("packages: $_ $version{$_}") for @packages;

# apt-get needs nothing else: nginx is there, and the libraries with it
($rc, $out) = run(@apt, '-s', 'install', map { $deb{$_} } @packages);
is($rc, 0, 'apt-get -s install of all ' . @packages) or diag($out);
is_deeply([sort $out =~ /^Inst (\S+)/mg], [sort @packages],
          'apt-get would install our packages and nothing else');

install(@packages);
check_enabled(\@packages, \@packages);

# the admin disables a module: a reinstall (the path of an upgrade too)
# leaves it disabled, and nginx -t passes without it
unlink "$enabled/50-mod-http-rate-limit.conf";
install('libnginx-mod-http-rate-limit', '--reinstall');
ok(!-l "$enabled/50-mod-http-rate-limit.conf",
   'a reinstall keeps the module the admin disabled disabled');
check_enabled(\@packages, [grep { !/rate-limit/ } @packages]);

remove('remove', @packages);
for my $p (@packages) {
    is(dpkg_status($p), 'deinstall ok config-files',
       "$p: removed, known to dpkg until purged");
}
ok(-l "$enabled/50-mod-http-auth-jwt.conf.removed",
   'remove leaves ".removed" for a module that was enabled');
ok(!-l "$enabled/50-mod-http-rate-limit.conf.removed",
   'and none for the one the admin disabled');
check_enabled(\@packages, []);

remove('purge', @packages);
check_clean('all purged');

# one alone; after a remove, an install enables it again
my $jwt = 'libnginx-mod-http-auth-jwt';
install($jwt);
check_enabled(\@packages, [$jwt]);
remove('remove', $jwt);
check_enabled(\@packages, []);
install($jwt);
check_enabled(\@packages, [$jwt]);
remove('purge', $jwt);
check_clean('auth-jwt alone purged');

is(nginx_master(), $master_before,
   defined $master_before ? 'the running nginx still runs'
                          : 'nginx was not started');
restore_pid_file();
is(-e $pid_file ? 1 : 0, $pid_existed ? 1 : 0,
   "$pid_file as it was before the test");

done_testing();


sub install {
    my @args = @_;
    my @options = grep { /^-/ } @args;
    my @files = map { $deb{$_} } grep { !/^-/ } @args;

    my ($rc, $out) = run(@apt, @options, 'install', @files);
    is($rc, 0, join(' ', 'apt-get install', @options,
                         map { short($_) } grep { !/^-/ } @args))
        or diag($out);
}

sub remove {
    my ($how, @list) = @_;

    my ($rc, $out) = run(@apt, $how, @list);
    is($rc, 0, "apt-get $how " . join(' ', map { short($_) } @list))
        or diag($out);
}

# the packages in $on are installed and enabled, the others are not there
sub check_enabled {
    my ($all, $on) = @_;
    my %on = map { $_ => 1 } @$on;

    for my $p (@$all) {
        (my $name = $p) =~ s/^libnginx-mod-http-//;
        (my $module = "ngx_http_${name}_module") =~ tr/-/_/;
        my $conf = "mod-http-$name.conf";
        my $link = "$enabled/50-$conf";
        my $status = dpkg_status($p) // 'unknown';

        if ($status ne 'install ok installed') {
            ok(!-e "$so_dir/$module.so" && !-e "$avail/$conf"
               && !-e $link && !-l $link,
               "$name: not installed ($status), no files, not enabled");
            next;
        }

        ok(-f "$so_dir/$module.so", "$name: $so_dir/$module.so");
        is(slurp("$avail/$conf"), "load_module modules/$module.so;\n",
           "$name: $avail/$conf loads it");

        if ($on{$p}) {
            is(readlink($link), "$avail/$conf", "$name: enabled, $link");
        } else {
            ok(!-e $link && !-l $link, "$name: not enabled");
        }
    }

    check_nginx($on);
}

# nginx -t with the system's nginx.conf, and with a directive of each
# enabled module in a configuration that includes modules-enabled
sub check_nginx {
    my ($on) = @_;

    my ($rc, $out) = nginx_t();
    is($rc, 0, 'nginx -t') or diag($out);
    is($out, $nginx_t, 'nginx -t says what it said before the test');

    my %conf = (http => '', location => '', upstream => '');
    for my $p (@$on) {
        (my $name = $p) =~ s/^libnginx-mod-http-//;
        my $d = $directive{$name} or die "no directive to check $name with";
        $conf{http} .= "    $d->{http}\n" if $d->{http};
        $conf{upstream} .= "        $d->{upstream}\n" if $d->{upstream};
        $conf{location} .= "        location /$name/ { $d->{location} }\n"
            if $d->{location};
    }

    my $dir = tempdir(CLEANUP => 1);
    open my $fh, '>', "$dir/nginx.conf" or die "$dir/nginx.conf: $!";
    print $fh <<"EOF";
include $enabled/*.conf;
pid $dir/nginx.pid;
error_log $dir/error.log;
events {}
http {
    access_log off;
$conf{http}
    upstream deb_test {
        server 127.0.0.1:1;
$conf{upstream}    }
    server {
        listen unix:$dir/nginx.sock;
$conf{location}        location / {
            proxy_pass http://deb_test;
        }
    }
}
EOF
    close $fh;

    ($rc, $out) = run($nginx, '-t', '-q', '-c', "$dir/nginx.conf");
    is($rc, 0, 'nginx -t with a directive of each enabled module: '
               . (join(' ', map { short($_) } @$on) || 'none'))
        or diag($out);
}

# nothing of ours on disk, in dpkg, or in nginx's way
sub check_clean {
    my ($what) = @_;

    is_deeply([grep { dpkg_status($_) } @packages], [],
              "$what: dpkg knows none of ours");
    for my $dir (@watched) {
        is_deeply(listing($dir), $before{$dir},
                  "$what: $dir as it was before the test");
    }
    check_nginx([]);
}

# nginx -t with the system's configuration, its log lines without time and
# pid
sub nginx_t {
    my ($rc, $out) = run($nginx, '-t');
    $out =~ s{^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d (\[\w+\]) \d+#\d+: }{$1 }mg;
    return ($rc, $out);
}

sub dpkg_status {
    my ($package) = @_;

    my ($rc, $out) = run('dpkg-query', '-W', '-f=${Status}', $package);
    return undef if $rc != 0 || $out =~ /not-installed/ || $out eq '';
    return $out;
}

# the names in a directory, with where links point
sub listing {
    my ($dir) = @_;

    opendir my $dh, $dir or return {};
    my %list = map { $_ => (readlink("$dir/$_") // 'file') }
               grep { !/^\.\.?$/ } readdir $dh;
    return \%list;
}

sub restore_pid_file {
    unlink $pid_file if !$pid_existed && -z $pid_file;
}

sub nginx_pid_file {
    my $conf = slurp('/etc/nginx/nginx.conf') // '';
    return $conf =~ /^\s*pid\s+([^;\s]+)\s*;/m ? $1 : '/run/nginx.pid';
}

# the pid of the system's nginx master, if it runs
sub nginx_master {
    my $pid = slurp($pid_file) // '';
    return $pid =~ /^(\d+)$/ && kill(0, $1) ? $1 : undef;
}

sub short {
    my ($package) = @_;
    $package =~ s/^libnginx-mod-http-//;
    return $package;
}

sub slurp {
    my ($file) = @_;
    open my $fh, '<', $file or return undef;
    local $/;
    return scalar <$fh>;
}

# a command's exit code and its output, stderr included
sub run {
    my @cmd = @_;

    my $pid = open(my $fh, '-|') // die "fork: $!";
    if ($pid == 0) {
        open STDERR, '>&', \*STDOUT or die "stderr: $!";
        exec { $cmd[0] } @cmd or exit 127;
    }

    local $/;
    my $out = <$fh> // '';
    close $fh;
    return ($? >> 8, $out);
}
