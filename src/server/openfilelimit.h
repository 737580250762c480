#pragma once

#include <QtGlobal>

namespace agmem {

// Raises the soft limit on open files to the hard limit (systemd's default soft limit of
// 1024 equals the default connection cap: accept() would fail before the guard could make
// room). Returns the soft limit now in force; 0 when there is none to respect.
qint64 raiseOpenFileLimit();

} // namespace agmem
