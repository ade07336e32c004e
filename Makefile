# Builds the gateway modules against an nginx configure tree and runs them.
#
#   make                 build every module into build/modules/*.so, and
#                        the tools into build/tools (gateway-token,
#                        gateway-api-key)
#   make test            style check, then the Test::Nginx suites in t/
#   make test-matrix     the suites on nginx 1.22.1 and 1.26.3, and the
#                        build against nginx 1.30 (README, "Supported nginx
#                        versions")
#   make run             start the example gateway on 127.0.0.1:8080
#   make bench           wrk benchmarks (bench/README.md); bench-scaling:
#                        how each cost grows (bench/results/)
#   make deb             one Debian package per module in build/deb
#                        (packaging/README.md)
#   make test-deb        as root: installs, checks and purges them
#
# NGINX_SRC defaults to Debian's nginx-dev tree, whose conf_flags make the
# modules binary-compatible with /usr/sbin/nginx.  Any other tree builds
# into build/nginx-<version>/, so that trees of several versions can sit
# side by side:
#
#   make test NGINX_SRC=<tree> NGINX_BINARY=<nginx> NGX_CONF_FLAGS="..."

DEFAULT_SRC  := /usr/share/nginx/src
NGINX_SRC    ?= $(DEFAULT_SRC)
NGINX_BINARY ?= /usr/sbin/nginx
MODULES_PATH ?= /usr/lib/nginx/modules
AVAILABLE    ?= /usr/share/nginx/modules-available

NGX_VERSION  := $(shell sed -n 's/^\#define NGINX_VERSION *"\(.*\)"/\1/p' \
                        $(NGINX_SRC)/src/core/nginx.h 2>/dev/null)

BUILD        := build
OTHER_SRC    := $(filter-out $(DEFAULT_SRC),$(NGINX_SRC))
VERSION_DIR  := $(BUILD)$(if $(OTHER_SRC),/nginx-$(NGX_VERSION))
NGX_BUILD    := $(VERSION_DIR)/nginx
MODULES_DIR  := $(VERSION_DIR)/modules

# the checkout as the tree sees it: a relative path, which nginx's build
# takes even when the checkout's path holds spaces
empty        :=
space        := $(empty) $(empty)
NGX_TO_TOP   := $(subst $(space),/,$(patsubst %,..,$(subst /, ,$(NGX_BUILD))))

# Debian's own hardening flags for nginx and its module packages.
GW_CC_OPT    ?= -g -O2 -fstack-protector-strong -Wformat \
                -Werror=format-security -fPIC -Wdate-time \
                -D_FORTIFY_SOURCE=2
GW_LD_OPT    ?= -Wl,-z,relro -Wl,-z,now -fPIC

# Flags for a source tree without Debian's conf_flags.
NGX_CONF_FLAGS ?= --with-compat --with-http_ssl_module --with-threads

MODULE_NAMES := $(shell sed -n 's/^ngx_module_name=//p' config)
MODULE_SOS   := $(MODULE_NAMES:%=$(MODULES_DIR)/%.so)

# gateway-token mints test tokens with Debian's libjwt, and encrypts them
# with OpenSSL; gateway-api-key makes API keys and their key file lines
# with OpenSSL
TOOLS_DIR       := $(BUILD)/tools
GATEWAY_TOKEN   := $(TOOLS_DIR)/gateway-token
GATEWAY_API_KEY := $(TOOLS_DIR)/gateway-api-key
TOOLS_CFLAGS    ?= -g -O2 -Wall -Wextra -Werror -fstack-protector-strong \
                   -Wformat -Werror=format-security -D_FORTIFY_SOURCE=2
TOOLS_LDFLAGS   ?= -Wl,-z,relro -Wl,-z,now

# Debian packages, a set for each kind of work: `make deps` installs the
# build and test sets, each other target the set it needs.

# the modules and tools: the compiler, nginx-dev and the -dev libraries
BUILD_PACKAGES := gcc make nginx-dev libssl-dev libpcre2-dev zlib1g-dev \
                  libjwt-dev

# the suites: nginx itself, the Perl the runner and the tests use, the
# servers the tests start, curl and openssl for t/gateway.t, promtool
TEST_PACKAGES  := perl nginx-core libtest-base-perl libcrypt-jwt-perl \
                  libnet-dns-perl \
                  valgrind redis-server redis-sentinel redis-tools \
                  etcd-server etcd-client prometheus curl openssl

# versions/fetch: Debian's source packages and the 1.26.3 build
MATRIX_PACKAGES := dpkg-dev patch xz-utils

# wrk, the Lua peer of the JSON trimming benchmark, Redis and gnuplot for
# the scaling curves
BENCH_PACKAGES := wrk libnginx-mod-http-lua lua-cjson redis-server \
                  gnuplot-nox openssl

# make deb: Debian's packaging tools, and lintian to check what they make
DEB_PACKAGES   := dpkg-dev debhelper lintian
LUA_MODULES    := /usr/lib/nginx/modules/ndk_http_module.so \
                  /usr/lib/nginx/modules/ngx_http_lua_module.so

# libFuzzer comes with clang's runtime, which clang only recommends
FUZZ_PACKAGES  := clang libclang-rt-14-dev

# Reconfigure only when what configure reads changes: config, the source
# tree it copies, or the list of our source files.
CONFIGURE_INPUTS := $(VERSION_DIR)/configure.inputs

ifeq ($(filter clean deps deps-% style test-matrix,$(MAKECMDGOALS)),)
$(shell mkdir -p $(VERSION_DIR); \
        { echo "$(NGINX_SRC) $(NGX_CONF_FLAGS) $(GW_CC_OPT) $(GW_LD_OPT)"; \
          find modules -name '*.[ch]' | LC_ALL=C sort; } \
          > $(CONFIGURE_INPUTS).new; \
        cmp -s $(CONFIGURE_INPUTS).new $(CONFIGURE_INPUTS) \
          || mv $(CONFIGURE_INPUTS).new $(CONFIGURE_INPUTS); \
        rm -f $(CONFIGURE_INPUTS).new)
endif

.PHONY: all deps deps-build deps-test deps-fuzz deps-bench deps-matrix \
        deps-deb modules tools test \
        test-valgrind test-matrix check-binary style run run-cluster \
        install uninstall deb test-deb bench bench-trim bench-scaling \
        fuzz clean

all: modules tools

deps: deps-build deps-test

deps-build:  PACKAGES = $(BUILD_PACKAGES)
deps-test:   PACKAGES = $(TEST_PACKAGES)
deps-matrix: PACKAGES = $(MATRIX_PACKAGES)
deps-bench:  PACKAGES = $(BENCH_PACKAGES)
deps-fuzz:   PACKAGES = $(FUZZ_PACKAGES)
deps-deb:    PACKAGES = $(DEB_PACKAGES)

deps-build deps-test deps-matrix deps-bench deps-fuzz deps-deb:
	@missing=; \
	for p in $(PACKAGES); \
	do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
	        | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    if [ "$$(id -u)" != 0 ]; then \
	        echo "make deps: missing Debian packages:$$missing" >&2; \
	        echo "make deps: run 'sudo make deps' or" \
	             "'sudo apt-get install$$missing'" >&2; \
	        exit 1; \
	    fi; \
	    echo "make deps: installing$$missing"; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive \
	        apt-get install -y -q --no-install-recommends $$missing; \
	fi

$(NGX_BUILD)/objs/Makefile: config $(CONFIGURE_INPUTS) | deps-build
	@test -d "$(NGINX_SRC)/src/core" || \
	    { echo "NGINX_SRC=$(NGINX_SRC) is not an nginx source tree" >&2; \
	      exit 1; }
	rm -rf $(NGX_BUILD)
	mkdir -p $(NGX_BUILD)
	cp -a $(NGINX_SRC)/. $(NGX_BUILD)/
	cd $(NGX_BUILD) && env -u CFLAGS bash -c ' \
	    set -e; flags=($(NGX_CONF_FLAGS)); \
	    if [ -f conf_flags ]; then \
	        . ./conf_flags; flags=("$${NGX_CONF_FLAGS[@]}"); \
	    fi; \
	    configure=./configure; \
	    [ -x $$configure ] || configure=./auto/configure; \
	    $$configure "$${flags[@]}" --with-cc-opt="$(GW_CC_OPT)" \
	        --with-ld-opt="$(GW_LD_OPT)" \
	        --add-dynamic-module=$(NGX_TO_TOP)' \
	    > "$(CURDIR)/$(VERSION_DIR)/configure.log" 2>&1 \
	    || { tail -20 $(VERSION_DIR)/configure.log; exit 1; }

modules: deps-build $(NGX_BUILD)/objs/Makefile
	$(MAKE) -C $(NGX_BUILD) -f objs/Makefile modules
	@mkdir -p $(MODULES_DIR)
	@# a new file renamed into place: an nginx running the old one keeps it
	@for m in $(MODULE_NAMES); do \
	    cmp -s $(NGX_BUILD)/objs/$$m.so $(MODULES_DIR)/$$m.so \
	        || { cp $(NGX_BUILD)/objs/$$m.so $(MODULES_DIR)/.$$m.so \
	             && mv -f $(MODULES_DIR)/.$$m.so $(MODULES_DIR)/$$m.so; }; \
	done

tools: $(GATEWAY_TOKEN) $(GATEWAY_API_KEY)

GATEWAY_TOKEN_SRCS := tools/gateway-token.c tools/gateway-token-jwe.c

$(GATEWAY_TOKEN): $(GATEWAY_TOKEN_SRCS) tools/gateway-token.h | deps-build
	@mkdir -p $(TOOLS_DIR)
	$(CC) $(TOOLS_CFLAGS) -o $@ $(GATEWAY_TOKEN_SRCS) $(TOOLS_LDFLAGS) \
	    -ljwt -lcrypto

$(GATEWAY_API_KEY): tools/gateway-api-key.c | deps-build
	@mkdir -p $(TOOLS_DIR)
	$(CC) $(TOOLS_CFLAGS) -o $@ $< $(TOOLS_LDFLAGS) -lcrypto

# The project's runner stands in for Test::Nginx only where it is missing.
TEST_RUNNER_LIB := $(shell perl -MTest::Nginx::Socket -e1 2>/dev/null \
                            || echo $(CURDIR)/t/lib)
TEST_ENV = TEST_NGINX_BINARY=$(NGINX_BINARY) \
           TEST_NGINX_LOAD_MODULES="$(abspath $(MODULE_SOS))" \
           TEST_GATEWAY_MODULES=$(abspath $(MODULES_DIR)) \
           PERL5LIB=$(TEST_RUNNER_LIB)$${PERL5LIB:+:$$PERL5LIB}

test: deps-test modules tools style check-binary
	$(TEST_ENV) prove -r $(or $(TESTS),t)

test-valgrind: deps-test modules tools check-binary
	$(TEST_ENV) TEST_NGINX_USE_VALGRIND=1 prove -r $(or $(TESTS),t)

# the binary the suites run: the version the modules were built for, and
# the nginx modules the suites use
check-binary:
	@sh versions/check-binary "$(NGINX_BINARY)" "$(NGX_VERSION)"

# nginx 1.22.1 (Debian 12's, the default), 1.26.3 (Debian 13's source,
# built by versions/fetch) and a build against 1.30 (Debian unstable's
# nginx-dev tree, which cannot run)
MATRIX       := $(BUILD)/matrix
TRIXIE_FLAGS  = $(shell sed -n '/^--/p' versions/trixie.flags)

test-matrix: deps deps-matrix
	versions/fetch
	@echo "== nginx 1.22.1 (Debian 12)"
	$(MAKE) test
	@echo "== nginx $$($(MATRIX)/nginx-trixie.bin/objs/nginx -v 2>&1 \
	    | sed 's,.*/,,') (Debian 13)"
	$(MAKE) test NGINX_SRC=$(MATRIX)/nginx-trixie \
	    NGINX_BINARY=$(CURDIR)/$(MATRIX)/nginx-trixie.bin/objs/nginx \
	    NGX_CONF_FLAGS="$(TRIXIE_FLAGS)"
	@echo "== nginx-dev of Debian unstable: build only"
	$(MAKE) modules NGINX_SRC=$(MATRIX)/nginx-sid

style:
	@perl dev/check-style \
	    $$(find modules tools fuzz -name '*.[ch]' | LC_ALL=C sort)

# the example gateway, with a self-signed certificate for its TLS listener
# and tokens minted with the demo keys, in build/run/ (conf.examples/
# prefix.sh says where that is when the workers cannot reach the checkout)
run: deps modules tools
	@sh conf.examples/make-tls.sh "$(NGINX_BINARY)"
	@prefix=$$(sh conf.examples/prefix.sh "$(CURDIR)") && \
	ln -sfn "$(abspath $(MODULES_DIR))" "$$prefix/modules" && \
	GATEWAY_TOKEN="$(GATEWAY_TOKEN)" PREFIX="$$prefix" \
	    sh conf.examples/try-it.sh && \
	echo "exec $(NGINX_BINARY) -p $$prefix/ -c conf.examples/gateway.conf" && \
	exec "$(NGINX_BINARY)" -p "$$prefix/" \
	    -c "$(CURDIR)/conf.examples/gateway.conf" -g 'daemon off;'

# Redis, etcd, the mock services, two gateway instances sharing Redis and
# following etcd, and a load balancer in front
run-cluster: modules
	@NGINX_BINARY=$(NGINX_BINARY) MODULES_DIR=$(abspath $(MODULES_DIR)) \
	    sh conf.examples/cluster/run.sh

install: modules
	install -d $(DESTDIR)$(MODULES_PATH) $(DESTDIR)$(AVAILABLE)
	@for m in $(MODULE_NAMES); do \
	    conf=mod-http-$$(echo $$m | sed 's/^ngx_http_//; s/_module$$//; \
	                                     s/_/-/g').conf; \
	    echo "install $$m.so, $(AVAILABLE)/$$conf"; \
	    install -m 644 $(MODULES_DIR)/$$m.so $(DESTDIR)$(MODULES_PATH)/; \
	    echo "load_module modules/$$m.so;" > $(DESTDIR)$(AVAILABLE)/$$conf; \
	done

uninstall:
	@for m in $(MODULE_NAMES); do \
	    conf=mod-http-$$(echo $$m | sed 's/^ngx_http_//; s/_module$$//; \
	                                     s/_/-/g').conf; \
	    echo "remove $$m.so, $(AVAILABLE)/$$conf"; \
	    rm -f $(DESTDIR)$(MODULES_PATH)/$$m.so $(DESTDIR)$(AVAILABLE)/$$conf; \
	done

# libnginx-mod-http-<name> packages for Debian's nginx (the default
# NGINX_SRC only: its debian/ names the nginx ABI they depend on), checked
# by lintian; packaging/README.md says what they hold and how the version
# is made
DEB_DIR := $(BUILD)/deb

ifneq ($(filter deb test-deb,$(MAKECMDGOALS)),)
ifneq ($(NGINX_SRC),$(DEFAULT_SRC))
$(error make deb: the packages are for Debian's nginx: build them against \
        its nginx-dev, without NGINX_SRC)
endif
endif

deb: modules deps-deb
	sh packaging/build-debs $(MODULES_DIR) $(NGINX_SRC) $(DEB_DIR)
	lintian --fail-on error $(DEB_DIR)/*.deb

# changes the system: installs, checks and purges the packages, and puts
# back what it found (skipped unless root)
test-deb: deb
	DEB_DIR=$(abspath $(DEB_DIR)) prove packaging/t

bench: modules deps-bench
	NGINX_BINARY=$(NGINX_BINARY) \
	    BENCH_MODULES="$(abspath $(MODULE_SOS)) $(LUA_MODULES)" \
	    SCENARIO=$(SCENARIO) bench/run

# JSON trimming without nginx, fast and plain paths in turns
bench-trim: modules
	NGX_BUILD=$(NGX_BUILD) bash bench/trim/run

# how each cost grows with its work: tables and plots in bench/results/
bench-scaling: modules deps-bench
	NGINX_BINARY=$(NGINX_BINARY) \
	    BENCH_MODULES="$(abspath $(MODULE_SOS))" bench/scaling/run

# libFuzzer targets for the parsers (README, "Tests"), a fixed number of
# inputs each (FUZZ_RUNS, default 200000)
fuzz: modules deps-fuzz
	NGX_BUILD=$(NGX_BUILD) bash fuzz/run

clean:
	rm -rf $(BUILD) t/servroot*
