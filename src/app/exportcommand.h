#pragma once

#include "config/options.h"

namespace agmem {

// agmem-coordinator export [--what merged|agents|history] [--format json|csv] [--out FILE|-]
// Writes the merged view, the agents or the history of the --db database (store/exporter.h),
// on a read-only connection of its own: it works while a server uses the database and never
// holds it up. A file is replaced only by a complete export; Ctrl+C leaves it as it was.
int runExportCommand(const AppOptions &options);

} // namespace agmem
