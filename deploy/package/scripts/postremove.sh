#!/bin/sh
# certferry: after the files are removed (.deb postrm, .rpm %postun). /etc/certferry and
# /etc/default/certferry stay until a purge (dpkg --purge); /var/lib/certferry (a file
# account store, file sinks) and the certferry user always stay: an ACME account key is
# never deleted by a package manager.
set -e
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
fi
exit 0
