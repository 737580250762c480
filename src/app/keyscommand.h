#pragma once

#include "config/options.h"

namespace agmem {

// agmem-coordinator keys create NAME [--scopes ...] | list | revoke ID
// Works on the same database as the server, also while it runs: the server picks up
// changes within a few seconds.
int runKeysCommand(const AppOptions &options);

} // namespace agmem
