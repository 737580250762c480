#include "options.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QProcessEnvironment>

#include <functional>

namespace agmem {

namespace {

struct Option
{
    QString name;
    QString valueName; // empty: a switch
    QString help;
    QString defaultText;
    QStringList extraEnv; // seed-compatible variable names
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
        {QStringLiteral("no-access-log"),
         {},
         QStringLiteral("Do not log a line per request."),
         {},
         {}},
    };
}

// A value's source, in precedence order.
struct Lookup
{
    const QCommandLineParser &parser;
    const QProcessEnvironment env;
    const QSettings *settings;

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
        text += QStringLiteral(" (env: %1)").arg(envs.join(QStringLiteral(", ")));
        parser.addOption(o.valueName.isEmpty() ? QCommandLineOption(o.name, text)
                                               : QCommandLineOption(o.name, text, o.valueName));
    }
    parser.addPositionalArgument(QStringLiteral("command"),
                                 QStringLiteral("serve (default): run the coordinator."),
                                 QStringLiteral("[serve]"));

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
    if (out.command != u"serve")
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
    if (const auto v = lookup.value(find("no-access-log")))
        config.accessLog = !parseFlag(*v);
    if (const auto v = lookup.value(find("host"))) {
        const QString host = v->trimmed();
        if (host == u"localhost") {
            config.host = QHostAddress::LocalHost;
        } else if (host == u"0.0.0.0" || host == u"*" || host == u"any") {
            config.host = QHostAddress::Any;
        } else if (!config.host.setAddress(host)) {
            return fail(QStringLiteral("--host: \"%1\" is not an IP address").arg(host.left(80)));
        }
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
