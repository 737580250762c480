#pragma once

#include "config/options.h"

namespace agmem {

// agmem-coordinator migrate --from URL --to URL [--force]
// Copies history, agents, API keys and the state from one database to another (SQLite to
// PostgreSQL and back), verifies the counts, refuses a non-empty target unless --force.
int runMigrateCommand(const AppOptions &options);

} // namespace agmem
