# %preun: $1 is 0 on erase, 1 on upgrade.
if [ "$1" -eq 0 ] && [ -d /run/systemd/system ]; then
    systemctl --no-reload disable --now agmem-coordinator.service >/dev/null 2>&1 || :
fi
