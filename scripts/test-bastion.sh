#!/usr/bin/env bash
# Runs README.md's "Install on a bastion" steps as written (the shell blocks marked
# <!-- bastion:install -->, <!-- bastion:upgrade --> and <!-- bastion:uninstall -->), line by
# line, as an operator would on a fresh Debian bastion, against the sandbox instead of
# Let's Encrypt and AWS, and checks what each step must have done.
#
# Nothing touches this machine: the steps run in a chroot on a throw-away overlay of "/"
# inside a private mount and network namespace (so the daemon's 127.0.0.1:9464 is the
# test's own). In the overlay, systemctl is scripts/bastion/systemctl (it records every call
# and runs the unit's ExecStart= as its User= with its EnvironmentFile=), sudo runs the
# command, and sudoedit writes the edits prepared below. apt, dpkg and the package's
# maintainer scripts are the real ones. Then, where rpm is installed, the .rpm is
# installed, upgraded and erased with rpm in the same overlay, so its scripts run with
# rpm's arguments too. Skips, saying why, where it cannot run (not root, no overlayfs, not
# Debian).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

skip() {
	echo "test-bastion: SKIP: $*"
	exit 0
}
fail() {
	echo "test-bastion: FAIL: $*" >&2
	exit 1
}

if [ "${1:-}" != --inside ]; then
	[ "$(id -u)" = 0 ] || skip "needs root (a private mount namespace and an overlay of /)"
	for tool in unshare chroot setpriv setsid ip apt dpkg curl git make; do
		command -v "$tool" >/dev/null || skip "$tool not installed"
	done
	command -v go >/dev/null || export PATH=$PATH:/usr/local/go/bin
	work=$(mktemp -d /tmp/certferry-bastion.XXXXXX)
	chmod 0755 "$work"
	trap 'rm -rf "$work"' EXIT
	# The sandbox runs from the checkout (outside the overlay) and must exist before it.
	make --no-print-directory build >/dev/null
	(cd deploy/package && go mod download) # the overlay has no network: the packager's modules must be cached
	sandbox=("$repo/bin/certferry" sandbox)
	if [ -d cmd/certferry-sandbox ]; then
		go build -o bin/certferry-sandbox ./cmd/certferry-sandbox
		sandbox=("$repo/bin/certferry-sandbox")
	fi
	start=$(date +%s)
	rc=0
	# A pid namespace too: when the test ends, whatever it started (the daemon) ends with it.
	unshare --mount --net --pid --fork -- "$0" --inside "$work" "${sandbox[@]}" || rc=$?
	echo "test-bastion: $([ $rc = 0 ] && echo ok || echo FAILED) in $(($(date +%s) - start)) s"
	exit $rc
fi

# --- In the private namespaces ----------------------------------------------------------
work=$2
shift 2
sandbox=("$@")
mount --make-rprivate /
ip link set lo up

"${sandbox[@]}" --zone example.com --dir "$work/sandbox" --log-level warn >"$work/sandbox.json" 2>"$work/sandbox.log" &
sandbox_pid=$!
trap 'kill $sandbox_pid 2>/dev/null; pkill_daemons' EXIT
pkill_daemons() { [ -f "$work/root/run/fake-systemd/certferry.service.pid" ] && kill -TERM "$(cat "$work/root/run/fake-systemd/certferry.service.pid")" 2>/dev/null || true; }
for ((i = 0; i < 600; i++)); do # the sandbox starts in about a second; 60 s for a loaded machine
	[ -s "$work/sandbox.json" ] && break
	kill -0 $sandbox_pid 2>/dev/null || fail "sandbox exited: $(cat "$work/sandbox.log")"
	sleep 0.1
done
[ -s "$work/sandbox.json" ] || fail "sandbox printed nothing in 60 s"
field() { sed -n "s/.*\"$1\": *\"\\([^\"]*\\)\".*/\\1/p" "$work/sandbox.json"; }
acme=$(field acme_directory) cabundle=$(field acme_ca_bundle) issuers=$(field issuer_roots) endpoint=$(field aws_endpoint)
[ -n "$acme" ] && [ -n "$endpoint" ] || fail "sandbox line: $(cat "$work/sandbox.json")"

# The operator's edits (what sudoedit writes): the sandbox as CA and AWS, a file sink, the
# reload trigger, and a hook that shows its environment.
mkdir -p "$work/edits"
cat >"$work/edits/_etc_certferry_config.yaml" <<YAML
acme:
  directory: $acme
  email: ops@example.com
  ca_bundle: $cabundle
  issuer_roots: $issuers
certificates:
  - name: example
    domains: [www.example.com]
    sinks:
      secretsmanager: { secret: certferry/example }
      file: { dir: /var/lib/certferry/example }
    hooks:
      on_renew:
        - exec: ["/usr/bin/touch", "/var/lib/certferry/reload-nginx"]
        - exec: ["/bin/sh", "-c", "env > /var/lib/certferry/hook-env"]
          env: { TOKEN: "\${HOOK_SECRET}" }
YAML
cat >"$work/edits/_etc_default_certferry" <<ENV
AWS_REGION=us-east-1
AWS_ENDPOINT_URL=$endpoint
AWS_ACCESS_KEY_ID=sandbox
AWS_SECRET_ACCESS_KEY=sandbox-secret-not-for-hooks
HOOK_SECRET=s3cret-from-default
ENV

# The README's blocks, one file each.
for block in install upgrade uninstall; do
	awk -v m="<!-- bastion:$block" 'index($0, m) == 1 { on = 1; next } on && /^```sh/ { inb = 1; next } inb && /^```/ { exit } inb { print }' README.md >"$work/$block.steps"
	[ -s "$work/$block.steps" ] || fail "README.md has no <!-- bastion:$block --> block"
done
n=$(grep -cv '^[[:space:]]*\(#\|$\)' "$work/install.steps")
[ "$n" -le 10 ] || fail "the README's install takes $n commands; the promise is at most ten"

# The overlay: "/" as it is, writes kept in $work/upper.
root=$work/root
mkdir -p "$work/upper" "$work/overlay-work" "$root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$work/upper,workdir=$work/overlay-work" "$root" ||
	skip "overlayfs not available"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
for d in "$repo" "$HOME/go" "$HOME/.cache"; do # other file systems under / are not in the overlay
	[ -d "$d" ] && [ "$(stat -c %d "$d")" != "$(stat -c %d /)" ] && mount --bind "$d" "$root$d"
done
install -m 0755 scripts/bastion/systemctl "$root/usr/bin/systemctl"
install -m 0755 scripts/bastion/sudo "$root/usr/local/bin/sudo"
install -m 0755 scripts/bastion/sudoedit "$root/usr/local/bin/sudoedit"
mkdir -p "$root/run/systemd/system" # the maintainer scripts' test for a running systemd
# man-db's trigger (rebuilding the whole manual's index after each apt step that adds or
# removes a man page) is not the package's and cost seconds per step on a loaded machine;
# the package's man pages are checked as files. Off in the overlay only.
rm -f "$root/var/lib/man-db/auto-update"
# A fresh bastion: whatever this machine has of certferry (a package, its user, its files)
# is removed in the overlay only.
in_root_clean=(sh -c 'dpkg --purge certferry; userdel certferry; groupdel certferry; rm -rf /etc/certferry /etc/default/certferry /var/lib/certferry /var/log/certferry.service.log; true')

goenv=(GOFLAGS="${GOFLAGS:-}" GOPATH="$(go env GOPATH)" GOCACHE="$(go env GOCACHE)" GOMODCACHE="$(go env GOMODCACHE)" GOPROXY=off GOTOOLCHAIN=local) # no network in there
# in_root CMD: CMD in the overlay, with a clean environment (VERSION only when the test sets it:
# an empty one would override the Makefile's git describe).
in_root() {
	local extra=()
	[ -n "${VERSION:-}" ] && extra+=(VERSION="$VERSION")
	chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/go/bin \
		"${goenv[@]}" BASTION_EDITS="$work/edits" DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 "${extra[@]}" "$@"
}
calls() { cat "$root/var/log/fake-systemctl.log" 2>/dev/null; }
expect_call() { calls | grep -qxF -- "$1" || fail "after '$2': no 'systemctl $1' (calls: $(calls | tr '\n' ';'))"; }

# run_steps BLOCK: each line of the block, as written, in the repository's directory; the
# operator answers "y" to apt's "Do you want to continue?".
run_steps() {
	local line t0
	while IFS= read -r line <&3; do
		case $line in '' | \#*) continue ;; esac
		echo "test-bastion: \$ $line"
		t0=$(date +%s%N)
		in_root /bin/bash -euo pipefail -c "cd '$repo' && $line" >"$work/out" 2>&1 < <(yes) || {
			cat "$work/out"
			fail "'$line' failed"
		}
		{ grep -v 'Reading database' "$work/out" || true; } | sed 's/^/    /' | tail -n 6
		echo "    ($(( ($(date +%s%N) - t0) / 1000000 )) ms)"
		after "$line"
	done 3<"$work/$1.steps"
}

# wait_for FILE: the first pass (sandbox orders take seconds) must produce it; 120 s is
# far above any pass against the sandbox, even on a loaded machine.
wait_for() {
	for ((i = 0; i < 1200; i++)); do
		[ -e "$root$1" ] && return 0
		sleep 0.1
	done
	cat "$root/var/log/certferry.service.log" >&2 || true
	fail "no $1 after 120 s"
}
mode_of() { in_root stat -c '%a %U:%G' "$1"; }
pid_of_daemon() { cat "$root/run/fake-systemd/certferry.service.pid" 2>/dev/null; }

# after LINE: what the step must have done.
after() {
	case $1 in
	"make package"*)
		ls "$root$repo"/dist/certferry_*.deb "$root$repo"/dist/certferry-*.rpm >/dev/null || fail "make package built no .deb/.rpm"
		;;
	"sudo apt install"*)
		[ "$(mode_of /etc/certferry/config.yaml)" = "640 root:certferry" ] || fail "config.yaml: $(mode_of /etc/certferry/config.yaml), want 640 root:certferry"
		[ "$(mode_of /etc/default/certferry)" = "600 root:root" ] || fail "/etc/default/certferry: $(mode_of /etc/default/certferry)"
		in_root getent passwd certferry >/dev/null || fail "no certferry user"
		expect_call "daemon-reload" "$1"
		# The binary prints the version make package built it with (-ldflags -X main.version).
		want="certferry ${VERSION:-$(in_root git -C "$repo" describe --tags --always --dirty)}"
		[ "$(in_root certferry version)" = "$want" ] || fail "certferry version: '$(in_root certferry version)', want '$want'"
		# The configuration as installed (a first install) is valid, with no AWS_REGION and
		# no edit, and the wrapper runs a one-shot command as the daemon would.
		if cmp -s "$root/etc/certferry/config.yaml" deploy/package/config.yaml; then
			validated_as_installed=yes
			in_root certferry validate --config /etc/certferry/config.yaml >"$work/validate" 2>&1 || fail "the installed config.yaml does not validate: $(cat "$work/validate")"
			in_root certferry-as-daemon validate >"$work/validate" 2>&1 || fail "certferry-as-daemon validate: $(cat "$work/validate")"
			grep -q '^/etc/certferry/config.yaml: ok' "$work/validate" || fail "certferry-as-daemon validate read: $(cat "$work/validate")"
		fi
		for f in /usr/share/doc/certferry/copyright /usr/share/man/man1/certferry.1.gz /usr/share/man/man1/certferry-renew.1.gz; do
			[ -s "$root$f" ] || fail "the package installed no $f"
		done
		;;
	"sudo certferry-as-daemon status"*)
		grep -q '^example  *ready' "$work/out" || fail "certferry-as-daemon status: $(cat "$work/out")"
		;;
	"sudo systemctl enable --now certferry "* | "sudo systemctl enable --now certferry")
		expect_call "enable --now certferry" "$1"
		wait_for /var/lib/certferry/example/fullchain.pem
		wait_for /var/lib/certferry/hook-env # the last hook: every hook ran, after the sinks
		[ -e "$root/var/lib/certferry/reload-nginx" ] || fail "the hook did not touch /var/lib/certferry/reload-nginx"
		[ "$(mode_of /var/lib/certferry/example/privkey.pem)" = "600 certferry:certferry" ] || fail "privkey.pem: $(mode_of /var/lib/certferry/example/privkey.pem)"
		grep -qx AWS_REGION=us-east-1 "$root/var/lib/certferry/hook-env" || fail "the hook did not get AWS_REGION from /etc/default/certferry"
		grep -qx TOKEN=s3cret-from-default "$root/var/lib/certferry/hook-env" || fail "the hook's env: map did not reach it"
		! grep -q AWS_SECRET_ACCESS_KEY "$root/var/lib/certferry/hook-env" || fail "the hook got AWS credentials"
		;;
	"sudo systemctl enable --now certferry-reload@nginx.path"*)
		[ -L "$root/etc/systemd/system/paths.target.wants/certferry-reload@nginx.path" ] || fail "certferry-reload@nginx.path not enabled"
		;;
	"curl"*)
		grep -q '"status":"ok"' "$work/out" || fail "healthz: $(cat "$work/out")"
		;;
	"certferry version")
		[ "$(cat "$work/out")" = "certferry $VERSION" ] || fail "after the upgrade: $(cat "$work/out"), want certferry $VERSION"
		;;
	"sudo apt remove"*)
		expect_call "disable --now certferry.service" "$1"
		expect_call "disable --now certferry-reload@nginx.path" "$1"
		[ -z "$(pid_of_daemon)" ] || fail "the daemon still runs after remove"
		[ ! -e "$root/usr/bin/certferry" ] || fail "/usr/bin/certferry left after remove"
		cmp -s "$root/etc/certferry/config.yaml" "$work/edits/_etc_certferry_config.yaml" || fail "remove did not keep the edited config.yaml"
		;;
	"sudo apt purge"*)
		[ ! -e "$root/etc/certferry/config.yaml" ] && [ ! -e "$root/etc/default/certferry" ] || fail "purge left the configuration files"
		[ -e "$root/var/lib/certferry/example/fullchain.pem" ] || fail "purge deleted /var/lib/certferry"
		;;
	esac
}

in_root "${in_root_clean[@]}" >/dev/null 2>&1
rm -f "$root/var/log/fake-systemctl.log"

echo "test-bastion: install (README: Install on a bastion)"
validated_as_installed=
run_steps install
[ -n "$validated_as_installed" ] || fail "the first install did not leave deploy/package/config.yaml as /etc/certferry/config.yaml"
# A bad configuration exits 2, the code the unit does not restart on (RestartPreventExitStatus=2).
rc=0
in_root setpriv --reuid=certferry --regid=certferry --init-groups certferry run --config /etc/certferry/nope.yaml >/dev/null 2>&1 || rc=$?
[ $rc = 2 ] || fail "certferry run with a missing configuration exited $rc, want 2"

echo "test-bastion: upgrade"
before=$(pid_of_daemon)
VERSION=v9.9.9-bastion.1 run_steps upgrade
expect_call "try-restart certferry.service" "the upgrade"
[ -n "$(pid_of_daemon)" ] && [ "$(pid_of_daemon)" != "$before" ] || fail "the upgrade did not restart the daemon"
cmp -s "$root/etc/certferry/config.yaml" "$work/edits/_etc_certferry_config.yaml" || fail "the upgrade changed the edited config.yaml"
[ "$(mode_of /etc/certferry/config.yaml)" = "640 root:certferry" ] || fail "after the upgrade config.yaml is $(mode_of /etc/certferry/config.yaml)"

echo "test-bastion: uninstall"
run_steps uninstall
echo "test-bastion: systemctl calls: $(calls | tr '\n' ';')"

# The .rpm's maintainer scripts get rpm's arguments (1 install, 2 upgrade, 0 erase), not
# dpkg's: install, upgrade and erase it too, where rpm is installed (on Debian: --nodeps,
# shadow-utils is not a Debian package).
if ! in_root sh -c 'command -v rpm' >/dev/null; then
	echo "test-bastion: rpm not installed: the .rpm's scripts were not run (apt-get install rpm)"
	exit 0
fi
echo "test-bastion: rpm install, upgrade, erase"
since=$(calls | wc -l)
calls_since() { calls | tail -n +$((since + 1)); }
expect_since() { calls_since | grep -qxF -- "$1" || fail "rpm $2: no 'systemctl $1' (calls: $(calls_since | tr '\n' ';'))"; }
for v in 9.9.10 9.9.11; do
	in_root sh -c "cd '$repo/deploy/package' && go run . -root '$repo' -bin '$repo/bin/linux-$(go env GOARCH)/certferry' -version v$v -formats rpm -out /tmp/rpms" >/dev/null
done
in_root sh -c "rpm -i --nodeps /tmp/rpms/certferry-9.9.10-1.*.rpm"
expect_since daemon-reload "-i"
! calls_since | grep -q try-restart || fail "rpm -i restarted the daemon"
[ "$(mode_of /etc/certferry/config.yaml)" = "640 root:certferry" ] || fail "rpm -i: config.yaml is $(mode_of /etc/certferry/config.yaml)"
cp "$work/edits/_etc_certferry_config.yaml" "$root/etc/certferry/config.yaml"
cp "$work/edits/_etc_default_certferry" "$root/etc/default/certferry"
in_root systemctl start certferry
before=$(pid_of_daemon)
in_root sh -c "rpm -U --nodeps /tmp/rpms/certferry-9.9.11-1.*.rpm"
expect_since "try-restart certferry.service" "-U"
[ -n "$(pid_of_daemon)" ] && [ "$(pid_of_daemon)" != "$before" ] || fail "rpm -U did not restart the daemon"
[[ "$(in_root rpm -q certferry)" == certferry-9.9.11-1.* ]] || fail "after rpm -U: $(in_root rpm -q certferry)"
cmp -s "$root/etc/certferry/config.yaml" "$work/edits/_etc_certferry_config.yaml" || fail "rpm -U changed the edited config.yaml"
in_root rpm -e certferry
expect_since "disable --now certferry.service" "-e"
[ -z "$(pid_of_daemon)" ] || fail "the daemon still runs after rpm -e"
[ ! -e "$root/usr/bin/certferry" ] || fail "/usr/bin/certferry left after rpm -e"
[ -e "$root/etc/certferry/config.yaml.rpmsave" ] || fail "rpm -e did not keep the edited config.yaml (as .rpmsave)"
echo "test-bastion: systemctl calls (rpm): $(calls_since | tr '\n' ';')"
