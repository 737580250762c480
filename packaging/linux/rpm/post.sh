# %post: the service is installed, not enabled (systemctl enable --now agmem-coordinator).
if [ -d /run/systemd/system ]; then
    systemctl --system daemon-reload >/dev/null 2>&1 || :
fi
