#!/bin/sh
# certferry: before the files are unpacked (.deb preinst, .rpm %pre): the system user and
# group the unit runs as (User=certferry), so /etc/certferry/config.yaml unpacks as
# root:certferry 0640. Kept on removal: files it owned may remain.
set -e
if ! getent group certferry >/dev/null; then
	groupadd --system certferry
fi
if ! getent passwd certferry >/dev/null; then
	useradd --system --gid certferry --home-dir /var/lib/certferry --no-create-home \
		--shell /usr/sbin/nologin --comment "certferry daemon" certferry
fi
exit 0
