#pragma once

#include "server/serverconfig.h"

#include <QSettings>
#include <QString>
#include <QStringList>

namespace agmem {

// The command line, resolved with the precedence flag > environment > saved settings >
// default. Every option --foo-bar also reads AGMEM_COORDINATOR_FOO_BAR; the seed's
// AGMEM_COORDINATOR_HOST, AGMEM_COORDINATOR_PORT and DATABASE_URL work as documented.
struct AppOptions
{
    enum class Outcome
    {
        Run,
        ExitOk,
        ExitError
    };

    Outcome outcome = Outcome::Run;
    // What to print before exiting (help, version, or the error).
    QString message;

    QString command = QStringLiteral("serve");
    QStringList arguments;
    bool noGui = false;
    // --log-format json: log lines as JSON objects (jsonlog.h).
    bool jsonLog = false;
    // The window's language (de, fr, es, en); empty: the system's.
    QString language;
    // keys create: the scopes of the new key.
    QString scopes;
    // migrate --from URL --to URL [--force]
    QString migrateFrom;
    QString migrateTo;
    bool force = false;
    // export --what merged|agents|history --format json|csv --out FILE|- (as given;
    // checked by the export command)
    QString exportWhat;
    QString exportFormat;
    QString exportOut;
    ServerConfig server;
};

AppOptions parseOptions(const QStringList &arguments, const QSettings *settings);

} // namespace agmem
