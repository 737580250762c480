#include "migratecommand.h"

#include "store/storecopy.h"

#include <QTextStream>

#include <cstdio>

namespace agmem {

int runMigrateCommand(const AppOptions &options)
{
    QTextStream out(stdout);
    QTextStream err(stderr);
    if (options.migrateFrom.isEmpty() || options.migrateTo.isEmpty() ||
        !options.arguments.isEmpty()) {
        err << "usage: agmem-coordinator migrate --from URL --to URL [--force]" << Qt::endl;
        return 2;
    }
    QString error;
    const std::optional<StoreUrl> from = StoreUrl::parse(options.migrateFrom, &error);
    const std::optional<StoreUrl> to =
        from ? StoreUrl::parse(options.migrateTo, &error) : std::nullopt;
    if (!from || !to) {
        err << "agmem-coordinator: " << error << Qt::endl;
        return 2;
    }
    if (from->kind == StoreUrl::Kind::SqliteMemory || to->kind == StoreUrl::Kind::SqliteMemory) {
        err << "agmem-coordinator: migrate needs databases that outlive it, not :memory:"
            << Qt::endl;
        return 2;
    }
    if (from->displayName() == to->displayName() && from->connectOptions == to->connectOptions) {
        err << "agmem-coordinator: --from and --to name the same database" << Qt::endl;
        return 2;
    }
    const std::unique_ptr<Store> source = Store::open(*from, options.server.storeOptions, &error);
    if (!source) {
        err << "agmem-coordinator: " << error << Qt::endl;
        return 1;
    }
    const std::unique_ptr<Store> target = Store::open(*to, options.server.storeOptions, &error);
    if (!target) {
        err << "agmem-coordinator: " << error << Qt::endl;
        return 1;
    }
    StoreCounts copied;
    if (!copyStore(*source, *target, options.force, &copied, &error)) {
        err << "agmem-coordinator: migrate: " << error << Qt::endl;
        return 1;
    }
    out << "copied " << copied.describe() << " from " << from->displayName() << " to "
        << to->displayName() << "; the counts match" << Qt::endl;
    return 0;
}

} // namespace agmem
