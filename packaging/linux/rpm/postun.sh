# %postun: reload units; restart a running service after an upgrade. The database in
# /var/lib/agmem-coordinator is kept (RPM has no purge); delete it by hand if unwanted.
if [ -d /run/systemd/system ]; then
    systemctl --system daemon-reload >/dev/null 2>&1 || :
    if [ "$1" -ge 1 ]; then
        systemctl try-restart agmem-coordinator.service >/dev/null 2>&1 || :
    fi
fi
