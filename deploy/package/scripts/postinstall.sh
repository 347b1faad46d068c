#!/bin/sh
# certferry: after install or upgrade (.deb postinst, .rpm %post). A first install only
# tells systemd about the units: the daemon starts once the operator has edited
# /etc/certferry/config.yaml and enabled it. An upgrade restarts a running daemon, so the
# new binary runs (try-restart leaves a stopped one stopped).
set -e
case "$1" in
configure) first=${2:+no} ;; # deb: $2 is the version upgraded from, empty on a first install
1) first= ;;                  # rpm: the number of installed versions, 1 on a first install
[0-9]*) first=no ;;
*) exit 0 ;; # deb abort-upgrade, abort-remove, ...: nothing was changed
esac
if [ -z "$first" ]; then
	# A package manager that could not resolve the group unpacked the file as root:root.
	chgrp certferry /etc/certferry/config.yaml
	chmod 0640 /etc/certferry/config.yaml
fi
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload
	if [ "$first" = no ]; then
		systemctl try-restart certferry.service
	fi
fi
exit 0
