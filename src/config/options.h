#pragma once

#include "server/serverconfig.h"

#include <QProcessEnvironment>
#include <QSettings>
#include <QString>
#include <QStringList>
#include <QVariant>

#include <functional>
#include <optional>

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
    QString scopes = QStringLiteral("push,pull");
    // migrate --from URL --to URL [--force]
    QString migrateFrom;
    QString migrateTo;
    bool force = false;
    // export --what merged|agents|history --format json|csv --out FILE|- (as given;
    // checked by the export command)
    QString exportWhat = QStringLiteral("merged");
    QString exportFormat = QStringLiteral("json");
    QString exportOut = QStringLiteral("-");
    // --db as given (empty: the default location); server.store holds what it names.
    QString databaseText;
    ServerConfig server;
};

AppOptions parseOptions(const QStringList &arguments, const QSettings *settings);

// One row of the option table (options.cpp): everything about an option, defined once.
// The command line, its help, the environment names, the settings dialog (ranges,
// defaults, words, which values a flag or the environment overrides) and the tests all
// read it. A value travels as a QVariant: qlonglong (Number), double (Real), QString
// (Text, Choice), bool (Switch), QStringList (List).
struct OptionDef
{
    enum class Kind
    {
        Switch, // --no-gui: no value; in the environment and settings 1/true/yes/on
        Text,
        Number, // a whole number within [min, max]
        Real,   // a number within [min, max]
        Choice, // one of `words`
        List,   // repeatable flag; comma-separated in the environment
    };
    enum Flag : unsigned
    {
        NoFlags = 0,
        // Read from the command line only (no environment, no saved settings).
        FlagOnly = 1,
        // Part of ServerConfig: takes effect at the server's (re)start.
        Server = 2,
        // Read (and checked) even when no source sets it: its default needs it (--db).
        Always = 4,
    };

    QString name;      // without the dashes: "max-body"
    QString valueName; // in --help: "bytes"; empty for a Switch
    QString help;
    Kind kind = Kind::Text;
    qint64 min = 0; // Number, Real
    qint64 max = 0;
    QStringList words;    // Choice
    QStringList extraEnv; // seed-compatible variable names (DATABASE_URL)
    unsigned flags = NoFlags;
    // The default as --help shows it when the value is not simply get(defaults).
    QString defaultText;
    // The value in `options` (the default when `options` is default-constructed). Empty for
    // options that only describe one run (export --out).
    std::function<QVariant(const AppOptions &options)> get;
    // Writes a value that passed the kind's checks and `check`.
    std::function<void(AppOptions &options, const QVariant &value)> set;
    // Further checks and normalization beyond the kind's; an error message (without the
    // option's name) when the text is not acceptable.
    std::function<std::optional<QVariant>(const QVariant &value, QString *error)> check;

    bool isServer() const { return flags & Server; }
    QStringList environmentNames() const;
    // Converts and checks a text from the command line, the environment or the settings;
    // nullopt with `error` ("--port: expected …") when it is not acceptable.
    std::optional<QVariant> convert(const QVariant &raw, QString *error) const;
    // The default value (get() of default options).
    QVariant defaultValue() const;
};

// Every option, in --help order. Adding an option is one entry in optionTable()
// (options.cpp); parseOptions, --help, the environment and the settings dialog follow.
const QList<OptionDef> &optionTable();
// nullptr when there is no such option.
const OptionDef *findOption(QStringView name);
// The flag or environment variable that sets `name` for this run ("--port",
// "AGMEM_COORDINATOR_HOST", "DATABASE_URL"), as parseOptions reads them; empty when none
// does (then a saved setting or the default counts).
QString optionOverriddenBy(QStringView name, const QStringList &arguments,
                           const QProcessEnvironment &environment);

} // namespace agmem
