#!/bin/sh
# certferry: before the files are removed (.deb prerm, .rpm %preun). On removal (not on an
# upgrade) the daemon and any reload path units are stopped and disabled.
set -e
case "$1" in
remove | 0) ;;
*) exit 0 ;; # deb upgrade, failed-upgrade, deconfigure; rpm upgrade (1)
esac
if [ -d /run/systemd/system ]; then
	systemctl disable --now certferry.service || true
	for link in /etc/systemd/system/*.wants/certferry-reload@*.path; do
		[ -L "$link" ] || continue
		systemctl disable --now "${link##*/}" || true
	done
fi
exit 0
