#include "options.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QProcessEnvironment>
#include <QUrl>

#include <functional>

namespace agmem {

namespace {

struct Option
{
    QString name;
    QString valueName; // empty: a switch
    QString help;
    QString defaultText;
    QStringList extraEnv;  // seed-compatible variable names
    bool flagOnly = false; // read from the command line only (no environment, no settings)
};

QString envName(const QString &option)
{
    return QStringLiteral("AGMEM_COORDINATOR_") + QString(option).replace(u'-', u'_').toUpper();
}

QList<Option> optionTable()
{
    const SummaryLimits limits;
    return {
        {QStringLiteral("no-gui"),
         {},
         QStringLiteral("Run as a headless server, without the window."),
         {},
         {}},
        {QStringLiteral("lang"),
         QStringLiteral("code"),
         QStringLiteral("Language of the window: en, de, fr or es."),
         QStringLiteral("the system's"),
         {}},
        {QStringLiteral("host"),
         QStringLiteral("address"),
         QStringLiteral("Address to listen on. Anything but loopback exposes the coordinator to "
                        "the network."),
         QStringLiteral("127.0.0.1"),
         {QStringLiteral("AGMEM_COORDINATOR_HOST")}},
        {QStringLiteral("port"),
         QStringLiteral("port"),
         QStringLiteral("TCP port to listen on; 0 picks a free one."),
         QStringLiteral("8000"),
         {QStringLiteral("AGMEM_COORDINATOR_PORT")}},
        {QStringLiteral("db"),
         QStringLiteral("url"),
         QStringLiteral("Database: sqlite:///path/file.db, a file path, or :memory: (throwaway)."),
         QStringLiteral("a SQLite file in the app-data folder"),
         {QStringLiteral("DATABASE_URL")}},
        {QStringLiteral("merge-mode"),
         QStringLiteral("latest|cumulative"),
         QStringLiteral("latest: each agent's newest summary counts once. cumulative: every push "
                        "is added up, like the reference server."),
         QStringLiteral("latest"),
         {}},
        {QStringLiteral("durability"),
         QStringLiteral("full|normal"),
         QStringLiteral("full: a confirmed push survives power loss. normal: faster, survives a "
                        "crash of the coordinator but not of the machine."),
         QStringLiteral("full"),
         {}},
        {QStringLiteral("max-body"),
         QStringLiteral("bytes"),
         QStringLiteral("Largest request body accepted."),
         QString::number(limits.maxBodyBytes),
         {}},
        {QStringLiteral("max-agent-id"),
         QStringLiteral("chars"),
         QStringLiteral("Longest agent_id accepted."),
         QString::number(limits.maxAgentIdLength),
         {}},
        {QStringLiteral("max-topics"),
         QStringLiteral("count"),
         QStringLiteral("Most topics in one summary."),
         QString::number(limits.maxTopics),
         {}},
        {QStringLiteral("max-topic-length"),
         QStringLiteral("chars"),
         QStringLiteral("Longest topic name."),
         QString::number(limits.maxTopicLength),
         {}},
        {QStringLiteral("max-facts"),
         QStringLiteral("count"),
         QStringLiteral("Most fact hashes in one summary."),
         QString::number(limits.maxFacts),
         {}},
        {QStringLiteral("max-fact-length"),
         QStringLiteral("chars"),
         QStringLiteral("Longest fact hash or label."),
         QString::number(limits.maxFactLength),
         {}},
        {QStringLiteral("max-metadata"),
         QStringLiteral("bytes"),
         QStringLiteral("Largest metadata object (as compact JSON)."),
         QString::number(limits.maxMetadataBytes),
         {}},
        {QStringLiteral("auth"),
         QStringLiteral("auto|required|open"),
         QStringLiteral("auto: API keys are required as soon as one exists or API_KEY is set. "
                        "open: push and pull need no key (admin routes only from this machine)."),
         QStringLiteral("auto"),
         {}},
        {QStringLiteral("rate-limit"),
         QStringLiteral("per-second"),
         QStringLiteral("Requests per second per API key (per address without a key), bursts of "
                        "twice as many; 0 turns it off."),
         QString::number(AccessConfig::DefaultRateLimit),
         {}},
        {QStringLiteral("trusted-proxy"),
         QStringLiteral("address[/bits]"),
         QStringLiteral("A reverse proxy whose X-Forwarded-For / Forwarded headers name the real "
                        "client. Repeatable; in the environment, comma-separated."),
         {},
         {}},
        {QStringLiteral("cors-origin"),
         QStringLiteral("origin"),
         QStringLiteral("A web origin (https://example.org) allowed to call the API from a "
                        "browser. Repeatable; in the environment, comma-separated."),
         {},
         {}},
        {QStringLiteral("tls-cert"),
         QStringLiteral("file.pem"),
         QStringLiteral("Serve HTTPS with this certificate (chain); needs --tls-key."),
         {},
         {}},
        {QStringLiteral("tls-key"),
         QStringLiteral("file.pem"),
         QStringLiteral("The certificate's unencrypted private key."),
         {},
         {}},
        {QStringLiteral("max-connections"),
         QStringLiteral("count"),
         QStringLiteral("Open connections at most; more are answered 503."),
         QString::number(ConnectionLimits::DefaultMaxConnections),
         {}},
        {QStringLiteral("idle-timeout"),
         QStringLiteral("seconds"),
         QStringLiteral("A keep-alive connection with no request is closed after this long."),
         QString::number(ConnectionLimits::DefaultIdleTimeoutMs / 1000),
         {}},
        {QStringLiteral("read-timeout"),
         QStringLiteral("seconds"),
         QStringLiteral("A request must arrive whole within this long (else 408)."),
         QString::number(ConnectionLimits::DefaultReadTimeoutMs / 1000),
         {}},
        {QStringLiteral("max-head"),
         QStringLiteral("bytes"),
         QStringLiteral("Largest request line plus headers (else 431)."),
         QString::number(ConnectionLimits::DefaultMaxHeadBytes),
         {}},
        {QStringLiteral("scopes"),
         QStringLiteral("list"),
         QStringLiteral("keys create: the new key's scopes, from push, pull, admin."),
         QStringLiteral("push,pull"),
         {}},
        {QStringLiteral("from"),
         QStringLiteral("url"),
         QStringLiteral("migrate: the database to copy from."),
         {},
         {}},
        {QStringLiteral("to"),
         QStringLiteral("url"),
         QStringLiteral("migrate: the database to copy into (must be empty, unless --force)."),
         {},
         {}},
        {QStringLiteral("force"),
         {},
         QStringLiteral("migrate: replace what the target database holds."),
         {},
         {}},
        {QStringLiteral("what"),
         QStringLiteral("merged|agents|history"),
         QStringLiteral("export: the merged view (JSON: exactly the /pull answer), the agents, "
                        "or every push of the history."),
         QStringLiteral("merged"),
         {},
         true},
        {QStringLiteral("format"),
         QStringLiteral("json|csv"),
         QStringLiteral("export: json (history: JSON lines, one push per line) or csv (UTF-8, "
                        "RFC 4180, text starting with = + - @ gets a leading ' so spreadsheets "
                        "do not run it; history: one row per push with its topic and fact "
                        "counts)."),
         QStringLiteral("json"),
         {},
         true},
        {QStringLiteral("out"),
         QStringLiteral("file"),
         QStringLiteral("export: the file to write (replaced only by a complete export); - for "
                        "standard output."),
         QStringLiteral("-"),
         {},
         true},
        {QStringLiteral("no-access-log"),
         {},
         QStringLiteral("Do not log a line per request."),
         {},
         {}},
        {QStringLiteral("no-writer-thread"),
         {},
         QStringLiteral("Commit pushes in the HTTP thread instead of a writer thread of their "
                        "own (one thread less; faster on some machines)."),
         {},
         {}},
        {QStringLiteral("log-format"),
         QStringLiteral("text|json"),
         QStringLiteral("json: every log line (access and events) is one JSON object."),
         QStringLiteral("text"),
         {}},
        {QStringLiteral("history-retention"),
         QStringLiteral("days"),
         QStringLiteral("Delete pushes older than this from the history, in the background "
                        "(current summaries and the merge are kept); 0 keeps everything."),
         QStringLiteral("0"),
         {}},
        {QStringLiteral("history-max-per-agent"),
         QStringLiteral("count"),
         QStringLiteral("Keep at most this many of each agent's newest pushes in the history; "
                        "0: no limit."),
         QStringLiteral("0"),
         {}},
        {QStringLiteral("agent-expiry"),
         QStringLiteral("days"),
         QStringLiteral("Drop an agent that has not pushed for this long from the merge, with its "
                        "history (as DELETE /agents/ID); 0: never."),
         QStringLiteral("0"),
         {}},
    };
}

// A value's source, in precedence order.
struct Lookup
{
    const QCommandLineParser &parser;
    const QProcessEnvironment env;
    const QSettings *settings;

    // Repeatable options: every flag, else a comma-separated environment value.
    QStringList values(const Option &option) const
    {
        if (parser.isSet(option.name))
            return parser.values(option.name);
        if (const auto v = value(option))
            return v->split(u',', Qt::SkipEmptyParts);
        return {};
    }

    std::optional<QString> value(const Option &option) const
    {
        if (parser.isSet(option.name))
            return option.valueName.isEmpty() ? QStringLiteral("1") : parser.value(option.name);
        QStringList names{envName(option.name)};
        names += option.extraEnv;
        for (const QString &name : names) {
            if (env.contains(name))
                return env.value(name);
        }
        if (settings && settings->contains(option.name))
            return settings->value(option.name).toString();
        return std::nullopt;
    }
};

bool parseFlag(const QString &text)
{
    const QString t = text.trimmed().toLower();
    return !(t.isEmpty() || t == u"0" || t == u"false" || t == u"no" || t == u"off");
}

} // namespace

AppOptions parseOptions(const QStringList &arguments, const QSettings *settings)
{
    AppOptions out;
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral(
        "Coordinator for agmem agent-memory federation: agents push summaries of "
        "their memory, pull the merged view of every agent.\n\n"
        "Every option can also be set in the environment as "
        "AGMEM_COORDINATOR_<OPTION> (e.g. AGMEM_COORDINATOR_MERGE_MODE=cumulative)."));
    parser.setSingleDashWordOptionMode(QCommandLineParser::ParseAsLongOptions);
    const QCommandLineOption help = parser.addHelpOption();
    const QCommandLineOption version = parser.addVersionOption();
    const QList<Option> table = optionTable();
    for (const Option &o : table) {
        QString text = o.help;
        if (!o.defaultText.isEmpty())
            text += QStringLiteral(" [default: %1]").arg(o.defaultText);
        QStringList envs{envName(o.name)};
        envs += o.extraEnv;
        if (!o.flagOnly)
            text += QStringLiteral(" (env: %1)").arg(envs.join(QStringLiteral(", ")));
        parser.addOption(o.valueName.isEmpty() ? QCommandLineOption(o.name, text)
                                               : QCommandLineOption(o.name, text, o.valueName));
    }
    parser.addPositionalArgument(
        QStringLiteral("command"),
        QStringLiteral("serve (default): run the coordinator.\n"
                       "keys create NAME [--scopes push,pull,admin]: make an API key (printed "
                       "once).\nkeys list: show keys.\nkeys revoke ID: revoke a key.\n"
                       "migrate --from URL --to URL [--force]: copy everything (history, "
                       "agents, keys) between SQLite and PostgreSQL.\n"
                       "export [--what merged|agents|history] [--format json|csv] [--out FILE]: "
                       "write the merged view, the agents or the history to a file.\n"
                       "Commands work on the --db database, also while a server uses it."),
        QStringLiteral("[serve|keys ...|migrate|export]"));

    const auto fail = [&out](const QString &message) {
        out.outcome = AppOptions::Outcome::ExitError;
        out.message = message;
        return out;
    };

    if (!parser.parse(arguments))
        return fail(parser.errorText());
    if (parser.isSet(help)) {
        out.outcome = AppOptions::Outcome::ExitOk;
        out.message = parser.helpText();
        return out;
    }
    if (parser.isSet(version)) {
        out.outcome = AppOptions::Outcome::ExitOk;
        out.message = QCoreApplication::applicationName() + u' ' +
                      QCoreApplication::applicationVersion() + u'\n';
        return out;
    }
    const QStringList positional = parser.positionalArguments();
    if (!positional.isEmpty()) {
        out.command = positional.first();
        out.arguments = positional.mid(1);
    }
    if (out.command != u"serve" && out.command != u"keys" && out.command != u"migrate" &&
        out.command != u"export")
        return fail(QStringLiteral("unknown command \"%1\" (try --help)").arg(out.command));

    const Lookup lookup{parser, QProcessEnvironment::systemEnvironment(), settings};
    const auto find = [&table](const char *name) {
        for (const Option &o : table) {
            if (o.name == QLatin1String(name))
                return o;
        }
        Q_UNREACHABLE();
    };
    QString error;
    // Reads a whole number option within bounds; false (and `error`) when it is not.
    const auto number = [&](const char *name, qint64 min, qint64 max, auto *target) {
        const auto text = lookup.value(find(name));
        if (!text)
            return true;
        bool ok = false;
        const qint64 n = text->trimmed().toLongLong(&ok);
        if (!ok || n < min || n > max) {
            error = QStringLiteral("--%1: expected a whole number from %2 to %3, got \"%4\"")
                        .arg(QLatin1String(name))
                        .arg(min)
                        .arg(max)
                        .arg(text->left(40));
            return false;
        }
        *target = static_cast<std::remove_pointer_t<decltype(target)>>(n);
        return true;
    };

    ServerConfig &config = out.server;
    if (const auto v = lookup.value(find("no-gui")))
        out.noGui = parseFlag(*v);
    if (const auto v = lookup.value(find("lang"))) {
        const QString code = v->trimmed();
        static const QStringList known{QStringLiteral("en"), QStringLiteral("de"),
                                       QStringLiteral("fr"), QStringLiteral("es")};
        if (!known.contains(code.left(2).toLower()))
            return fail(
                QStringLiteral("--lang: expected en, de, fr or es, got \"%1\"").arg(code.left(40)));
        out.language = code;
    }
    if (const auto v = lookup.value(find("no-access-log")))
        config.accessLog = !parseFlag(*v);
    if (const auto v = lookup.value(find("no-writer-thread")))
        config.writerThread = !parseFlag(*v);
    if (const auto v = lookup.value(find("host"))) {
        if (!parseListenAddress(*v, &config.host))
            return fail(
                QStringLiteral("--host: \"%1\" is not an IP address").arg(v->trimmed().left(80)));
    }
    if (!number("port", 0, 65535, &config.port))
        return fail(error);
    {
        const auto v = lookup.value(find("db"));
        const auto url = StoreUrl::parse(v.value_or(QString()), &error);
        if (!url)
            return fail(QStringLiteral("--db: ") + error);
        config.store = *url;
    }
    if (const auto v = lookup.value(find("merge-mode"))) {
        const auto mode = mergeModeFromName(v->trimmed());
        if (!mode)
            return fail(QStringLiteral("--merge-mode: expected latest or cumulative, got \"%1\"")
                            .arg(v->left(40)));
        config.mergeMode = *mode;
    }
    if (const auto v = lookup.value(find("durability"))) {
        const QString d = v->trimmed();
        if (d == u"full")
            config.storeOptions.durability = Durability::Full;
        else if (d == u"normal")
            config.storeOptions.durability = Durability::Normal;
        else
            return fail(QStringLiteral("--durability: expected full or normal, got \"%1\"")
                            .arg(d.left(40)));
    }
    AccessConfig &access = config.access;
    access.environmentKey = qEnvironmentVariable("API_KEY");
    if (const auto v = lookup.value(find("auth"))) {
        const QString mode = v->trimmed();
        if (mode == u"auto")
            access.mode = AccessConfig::AuthMode::Auto;
        else if (mode == u"required")
            access.mode = AccessConfig::AuthMode::Required;
        else if (mode == u"open")
            access.mode = AccessConfig::AuthMode::Open;
        else
            return fail(QStringLiteral("--auth: expected auto, required or open, got \"%1\"")
                            .arg(mode.left(40)));
    }
    if (const auto v = lookup.value(find("rate-limit"))) {
        bool ok = false;
        access.rateLimit = v->trimmed().toDouble(&ok);
        if (!ok || access.rateLimit < 0 || access.rateLimit > 1e7)
            return fail(
                QStringLiteral(
                    "--rate-limit: expected requests per second (0 turns it off), got \"%1\"")
                    .arg(v->left(40)));
    }
    for (const QString &proxy : lookup.values(find("trusted-proxy"))) {
        auto subnet = QHostAddress::parseSubnet(proxy.trimmed());
        if (subnet.first.isNull()) {
            const QHostAddress single(proxy.trimmed());
            if (single.isNull())
                return fail(QStringLiteral("--trusted-proxy: \"%1\" is not an address or subnet")
                                .arg(proxy.left(60)));
            subnet = {single, single.protocol() == QAbstractSocket::IPv6Protocol ? 128 : 32};
        }
        access.trustedProxies.append(subnet);
    }
    for (const QString &origin : lookup.values(find("cors-origin"))) {
        const QUrl url(origin.trimmed(), QUrl::StrictMode);
        if (!url.isValid() || url.scheme().isEmpty() || url.host().isEmpty() ||
            (!url.path().isEmpty() && url.path() != u"/"))
            return fail(
                QStringLiteral("--cors-origin: \"%1\" is not an origin like https://example.org")
                    .arg(origin.left(60)));
        QString normalized = origin.trimmed();
        if (normalized.endsWith(u'/'))
            normalized.chop(1);
        access.corsOrigins.append(normalized);
    }
    config.tlsCertificate = lookup.value(find("tls-cert")).value_or(QString());
    config.tlsKey = lookup.value(find("tls-key")).value_or(QString());
    if (config.tlsCertificate.isEmpty() != config.tlsKey.isEmpty())
        return fail(QStringLiteral("--tls-cert and --tls-key go together"));
    out.scopes = lookup.value(find("scopes")).value_or(QStringLiteral("push,pull"));
    if (out.command == u"migrate") {
        // Flags only: a DATABASE_URL in the environment must not pick the target.
        out.migrateFrom = parser.value(QStringLiteral("from"));
        out.migrateTo = parser.value(QStringLiteral("to"));
        out.force = parser.isSet(QStringLiteral("force"));
    }
    if (out.command == u"export") {
        // Flags only, like migrate's: they describe this one run.
        out.exportWhat = parser.isSet(QStringLiteral("what")) ? parser.value(QStringLiteral("what"))
                                                              : QStringLiteral("merged");
        out.exportFormat = parser.isSet(QStringLiteral("format"))
                               ? parser.value(QStringLiteral("format"))
                               : QStringLiteral("json");
        out.exportOut = parser.isSet(QStringLiteral("out")) ? parser.value(QStringLiteral("out"))
                                                            : QStringLiteral("-");
    }
    int idleSeconds = config.connection.idleTimeoutMs / 1000;
    int readSeconds = config.connection.readTimeoutMs / 1000;
    if (!number("max-connections", 1, 1000000, &config.connection.maxConnections) ||
        !number("idle-timeout", 1, 86400, &idleSeconds) ||
        !number("read-timeout", 1, 86400, &readSeconds) ||
        !number("max-head", 1024, 1024 * 1024, &config.connection.maxHeadBytes))
        return fail(error);
    if (!number("history-retention", 0, 36500, &config.historyRetentionDays) ||
        !number("history-max-per-agent", 0, 1000000000, &config.historyMaxPerAgent) ||
        !number("agent-expiry", 0, 36500, &config.agentExpiryDays))
        return fail(error);
    if (const auto v = lookup.value(find("log-format"))) {
        const QString format = v->trimmed();
        if (format != u"text" && format != u"json")
            return fail(QStringLiteral("--log-format: expected text or json, got \"%1\"")
                            .arg(format.left(40)));
        out.jsonLog = format == u"json";
    }
    config.connection.idleTimeoutMs = idleSeconds * 1000;
    config.connection.readTimeoutMs = readSeconds * 1000;

    SummaryLimits &limits = config.limits;
    if (!number("max-body", 1024, qint64(1) << 32, &limits.maxBodyBytes) ||
        !number("max-agent-id", 1, 65536, &limits.maxAgentIdLength) ||
        !number("max-topics", 1, 10000000, &limits.maxTopics) ||
        !number("max-topic-length", 1, 65536, &limits.maxTopicLength) ||
        !number("max-facts", 1, 100000000, &limits.maxFacts) ||
        !number("max-fact-length", 1, 65536, &limits.maxFactLength) ||
        !number("max-metadata", 2, qint64(1) << 30, &limits.maxMetadataBytes))
        return fail(error);
    return out;
}

} // namespace agmem
