#include "options.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QHostAddress>
#include <QProcessEnvironment>
#include <QRegularExpression>
#include <QUrl>

#include <functional>

using namespace Qt::StringLiterals;

namespace agmem {

namespace {

using Kind = OptionDef::Kind;

QString envName(const QString &option)
{
    return QStringLiteral("AGMEM_COORDINATOR_") + QString(option).replace(u'-', u'_').toUpper();
}

bool parseFlag(const QString &text)
{
    const QString t = text.trimmed().toLower();
    return !(t.isEmpty() || t == u"0" || t == u"false" || t == u"no" || t == u"off");
}

// "a, b or c"
QString wordList(const QStringList &words)
{
    if (words.size() < 2)
        return words.join(QString());
    return words.mid(0, words.size() - 1).join(QStringLiteral(", ")) + QStringLiteral(" or ") +
           words.constLast();
}

// Helpers for the table's rows: a field of AppOptions or ServerConfig as a value.
template <typename T>
auto number(T ServerConfig::*field)
{
    return std::pair{
        [field](const AppOptions &o) { return QVariant(qlonglong(o.server.*field)); },
        [field](AppOptions &o, const QVariant &v) { o.server.*field = T(v.toLongLong()); }};
}

template <typename Part, typename T>
auto number(Part ServerConfig::*part, T Part::*field, qint64 scale = 1)
{
    return std::pair{
        [=](const AppOptions &o) { return QVariant(qlonglong((o.server.*part).*field / scale)); },
        [=](AppOptions &o, const QVariant &v) {
            (o.server.*part).*field = T(v.toLongLong() * scale);
        }};
}

OptionDef row(QString name, QString valueName, QString help, Kind kind)
{
    OptionDef d;
    d.name = std::move(name);
    d.valueName = std::move(valueName);
    d.help = std::move(help);
    d.kind = kind;
    return d;
}

template <typename Accessors>
OptionDef numberRow(QString name, QString valueName, QString help, qint64 min, qint64 max,
                    Accessors accessors)
{
    OptionDef d = row(std::move(name), std::move(valueName), std::move(help), Kind::Number);
    d.min = min;
    d.max = max;
    d.flags = OptionDef::Server;
    d.get = accessors.first;
    d.set = accessors.second;
    return d;
}

QList<OptionDef> buildTable()
{
    QList<OptionDef> t;
    OptionDef d;

    d = row(u"no-gui"_s, {}, u"Run as a headless server, without the window."_s, Kind::Switch);
    d.get = [](const AppOptions &o) { return QVariant(o.noGui); };
    d.set = [](AppOptions &o, const QVariant &v) { o.noGui = v.toBool(); };
    t.append(d);

    d = row(u"lang"_s, u"code"_s, u"Language of the window: en, de, fr or es."_s, Kind::Text);
    d.defaultText = u"the system's"_s;
    d.check = [](const QVariant &v, QString *error) -> std::optional<QVariant> {
        const QString code = v.toString();
        static const QStringList known{u"en"_s, u"de"_s, u"fr"_s, u"es"_s};
        if (known.contains(code.left(2).toLower()))
            return code;
        *error = QStringLiteral("expected en, de, fr or es, got \"%1\"").arg(code.left(40));
        return std::nullopt;
    };
    d.get = [](const AppOptions &o) { return QVariant(o.language); };
    d.set = [](AppOptions &o, const QVariant &v) { o.language = v.toString(); };
    t.append(d);

    d = row(
        u"host"_s, u"address"_s,
        u"Address to listen on. Anything but loopback exposes the coordinator to the network."_s,
        Kind::Text);
    d.extraEnv = {u"AGMEM_COORDINATOR_HOST"_s};
    d.flags = OptionDef::Server;
    d.check = [](const QVariant &v, QString *error) -> std::optional<QVariant> {
        QHostAddress address;
        if (parseListenAddress(v.toString(), &address))
            return listenAddressText(address);
        *error = QStringLiteral("\"%1\" is not an IP address").arg(v.toString().left(80));
        return std::nullopt;
    };
    d.get = [](const AppOptions &o) { return QVariant(listenAddressText(o.server.host)); };
    d.set = [](AppOptions &o, const QVariant &v) {
        parseListenAddress(v.toString(), &o.server.host);
    };
    t.append(d);

    d = numberRow(u"port"_s, u"port"_s, u"TCP port to listen on; 0 picks a free one."_s, 0, 65535,
                  number(&ServerConfig::port));
    d.extraEnv = {u"AGMEM_COORDINATOR_PORT"_s};
    t.append(d);

    d = row(u"db"_s, u"url"_s,
            u"Database: sqlite:///path/file.db, a file path, or :memory: (throwaway)."_s,
            Kind::Text);
    d.defaultText = u"a SQLite file in the app-data folder"_s;
    d.extraEnv = {u"DATABASE_URL"_s};
    d.flags = OptionDef::Always;
    d.check = [](const QVariant &v, QString *error) -> std::optional<QVariant> {
        if (StoreUrl::parse(v.toString(), error))
            return v.toString();
        return std::nullopt;
    };
    // The text as given ("" for the default location); the StoreUrl in server.store.
    d.get = [](const AppOptions &o) { return QVariant(o.databaseText); };
    d.set = [](AppOptions &o, const QVariant &v) {
        QString error;
        o.databaseText = v.toString();
        if (const auto url = StoreUrl::parse(o.databaseText, &error))
            o.server.store = *url;
    };
    t.append(d);

    d = row(u"merge-mode"_s, u"latest|cumulative"_s,
            u"latest: each agent's newest summary counts once. cumulative: every push is added "
            "up, like the reference server."_s,
            Kind::Choice);
    d.words = {u"latest"_s, u"cumulative"_s};
    d.flags = OptionDef::Server;
    d.get = [](const AppOptions &o) { return QVariant(mergeModeName(o.server.mergeMode)); };
    d.set = [](AppOptions &o, const QVariant &v) {
        o.server.mergeMode = mergeModeFromName(v.toString()).value_or(o.server.mergeMode);
    };
    t.append(d);

    d = row(u"durability"_s, u"full|normal"_s,
            u"full: a confirmed push survives power loss. normal: faster, survives a crash of "
            "the coordinator but not of the machine."_s,
            Kind::Choice);
    d.words = {u"full"_s, u"normal"_s};
    d.flags = OptionDef::Server;
    d.get = [](const AppOptions &o) {
        return QVariant(o.server.storeOptions.durability == Durability::Full ? u"full"_s
                                                                             : u"normal"_s);
    };
    d.set = [](AppOptions &o, const QVariant &v) {
        o.server.storeOptions.durability =
            v.toString() == u"normal" ? Durability::Normal : Durability::Full;
    };
    t.append(d);

    t.append(numberRow(u"max-body"_s, u"bytes"_s, u"Largest request body accepted."_s, 1024,
                       qint64(1) << 32,
                       number(&ServerConfig::limits, &SummaryLimits::maxBodyBytes)));
    t.append(numberRow(u"max-agent-id"_s, u"chars"_s, u"Longest agent_id accepted."_s, 1, 65536,
                       number(&ServerConfig::limits, &SummaryLimits::maxAgentIdLength)));
    t.append(numberRow(u"max-topics"_s, u"count"_s, u"Most topics in one summary."_s, 1, 10000000,
                       number(&ServerConfig::limits, &SummaryLimits::maxTopics)));
    t.append(numberRow(u"max-topic-length"_s, u"chars"_s, u"Longest topic name."_s, 1, 65536,
                       number(&ServerConfig::limits, &SummaryLimits::maxTopicLength)));
    t.append(numberRow(u"max-facts"_s, u"count"_s, u"Most fact hashes in one summary."_s, 1,
                       100000000, number(&ServerConfig::limits, &SummaryLimits::maxFacts)));
    t.append(numberRow(u"max-fact-length"_s, u"chars"_s, u"Longest fact hash or label."_s, 1, 65536,
                       number(&ServerConfig::limits, &SummaryLimits::maxFactLength)));
    t.append(numberRow(u"max-metadata"_s, u"bytes"_s,
                       u"Largest metadata object (as compact JSON)."_s, 2, qint64(1) << 30,
                       number(&ServerConfig::limits, &SummaryLimits::maxMetadataBytes)));

    d = row(u"auth"_s, u"auto|required|open"_s,
            u"auto: API keys are required as soon as one exists or API_KEY is set. open: push "
            "and pull need no key (admin routes only from this machine)."_s,
            Kind::Choice);
    d.words = {u"auto"_s, u"required"_s, u"open"_s};
    d.flags = OptionDef::Server;
    d.get = [](const AppOptions &o) {
        switch (o.server.access.mode) {
        case AccessConfig::AuthMode::Required:
            return QVariant(u"required"_s);
        case AccessConfig::AuthMode::Open:
            return QVariant(u"open"_s);
        case AccessConfig::AuthMode::Auto:
            break;
        }
        return QVariant(u"auto"_s);
    };
    d.set = [](AppOptions &o, const QVariant &v) {
        const QString mode = v.toString();
        o.server.access.mode = mode == u"required" ? AccessConfig::AuthMode::Required
                               : mode == u"open"   ? AccessConfig::AuthMode::Open
                                                   : AccessConfig::AuthMode::Auto;
    };
    t.append(d);

    d = row(u"rate-limit"_s, u"per-second"_s,
            u"Requests per second per API key (per address without a key), bursts of twice as "
            "many; 0 turns it off."_s,
            Kind::Real);
    d.min = 0;
    d.max = 10000000;
    d.flags = OptionDef::Server;
    d.get = [](const AppOptions &o) { return QVariant(o.server.access.rateLimit); };
    d.set = [](AppOptions &o, const QVariant &v) { o.server.access.rateLimit = v.toDouble(); };
    t.append(d);

    d = row(u"trusted-proxy"_s, u"address[/bits]"_s,
            u"A reverse proxy whose forwarding header (--forwarded-header) names the real "
            "client. Repeatable; in the environment, comma-separated."_s,
            Kind::List);
    d.flags = OptionDef::Server;
    d.check = [](const QVariant &v, QString *error) -> std::optional<QVariant> {
        for (const QString &proxy : v.toStringList()) {
            if (QHostAddress::parseSubnet(proxy.trimmed()).first.isNull() &&
                QHostAddress(proxy.trimmed()).isNull()) {
                *error = QStringLiteral("\"%1\" is not an address or subnet").arg(proxy.left(60));
                return std::nullopt;
            }
        }
        return v;
    };
    d.get = [](const AppOptions &o) {
        QStringList out;
        for (const auto &[address, bits] : o.server.access.trustedProxies)
            out.append(address.toString() + u'/' + QString::number(bits));
        return QVariant(out);
    };
    d.set = [](AppOptions &o, const QVariant &v) {
        o.server.access.trustedProxies.clear();
        for (const QString &proxy : v.toStringList()) {
            auto subnet = QHostAddress::parseSubnet(proxy.trimmed());
            if (subnet.first.isNull()) {
                const QHostAddress single(proxy.trimmed());
                subnet = {single, single.protocol() == QAbstractSocket::IPv6Protocol ? 128 : 32};
            }
            o.server.access.trustedProxies.append(subnet);
        }
    };
    t.append(d);

    d = row(u"forwarded-header"_s, u"x-forwarded-for|forwarded"_s,
            u"The one header a trusted proxy names the client in; the other is ignored. The "
            "client is the first address from the right that is not a trusted proxy."_s,
            Kind::Choice);
    d.words = {u"x-forwarded-for"_s, u"forwarded"_s};
    d.flags = OptionDef::Server;
    d.get = [](const AppOptions &o) {
        return QVariant(o.server.access.forwardedHeader == AccessConfig::ForwardedHeader::Forwarded
                            ? u"forwarded"_s
                            : u"x-forwarded-for"_s);
    };
    d.set = [](AppOptions &o, const QVariant &v) {
        o.server.access.forwardedHeader = v.toString() == u"forwarded"
                                              ? AccessConfig::ForwardedHeader::Forwarded
                                              : AccessConfig::ForwardedHeader::XForwardedFor;
    };
    t.append(d);

    d = row(u"allowed-host"_s, u"name"_s,
            u"A Host name (besides localhost, 127.0.0.1 and [::1]) that a server listening on "
            "loopback answers to without a trusted proxy (DNS rebinding guard). Repeatable; in "
            "the environment, comma-separated."_s,
            Kind::List);
    d.flags = OptionDef::Server;
    d.check = [](const QVariant &v, QString *error) -> std::optional<QVariant> {
        static const QRegularExpression hostName(
            u"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$"_s);
        QStringList out;
        for (const QString &host : v.toStringList()) {
            const QString name = host.trimmed().toLower();
            if (!hostName.match(name).hasMatch() && QHostAddress(name).isNull()) {
                *error = QStringLiteral("\"%1\" is not a host name or address").arg(host.left(60));
                return std::nullopt;
            }
            out.append(name);
        }
        return out;
    };
    d.get = [](const AppOptions &o) { return QVariant(o.server.access.allowedHosts); };
    d.set = [](AppOptions &o, const QVariant &v) {
        o.server.access.allowedHosts = v.toStringList();
    };
    t.append(d);

    d = row(u"cors-origin"_s, u"origin"_s,
            u"A web origin (https://example.org) allowed to call the API from a browser. "
            "Repeatable; in the environment, comma-separated."_s,
            Kind::List);
    d.flags = OptionDef::Server;
    d.check = [](const QVariant &v, QString *error) -> std::optional<QVariant> {
        QStringList out;
        for (const QString &origin : v.toStringList()) {
            const QUrl url(origin.trimmed(), QUrl::StrictMode);
            if (!url.isValid() || url.scheme().isEmpty() || url.host().isEmpty() ||
                (!url.path().isEmpty() && url.path() != u"/")) {
                *error = QStringLiteral("\"%1\" is not an origin like https://example.org")
                             .arg(origin.left(60));
                return std::nullopt;
            }
            QString normalized = origin.trimmed();
            if (normalized.endsWith(u'/'))
                normalized.chop(1);
            out.append(normalized);
        }
        return out;
    };
    d.get = [](const AppOptions &o) { return QVariant(o.server.access.corsOrigins); };
    d.set = [](AppOptions &o, const QVariant &v) {
        o.server.access.corsOrigins = v.toStringList();
    };
    t.append(d);

    d = row(u"tls-cert"_s, u"file.pem"_s,
            u"Serve HTTPS with this certificate (chain); needs --tls-key."_s, Kind::Text);
    d.flags = OptionDef::Server;
    d.get = [](const AppOptions &o) { return QVariant(o.server.tlsCertificate); };
    d.set = [](AppOptions &o, const QVariant &v) { o.server.tlsCertificate = v.toString(); };
    t.append(d);

    d = row(u"tls-key"_s, u"file.pem"_s, u"The certificate's unencrypted private key."_s,
            Kind::Text);
    d.flags = OptionDef::Server;
    d.get = [](const AppOptions &o) { return QVariant(o.server.tlsKey); };
    d.set = [](AppOptions &o, const QVariant &v) { o.server.tlsKey = v.toString(); };
    t.append(d);

    t.append(numberRow(u"max-connections"_s, u"count"_s,
                       u"Open connections at most; more are answered 503."_s, 1, 1000000,
                       number(&ServerConfig::connection, &ConnectionLimits::maxConnections)));
    t.append(numberRow(u"max-event-streams"_s, u"count"_s,
                       u"Open GET /events streams at most (each also counts as a connection); "
                       "more are answered 503."_s,
                       0, 1000000, number(&ServerConfig::maxEventStreams)));
    t.append(numberRow(u"idle-timeout"_s, u"seconds"_s,
                       u"A keep-alive connection with no request is closed after this long."_s, 1,
                       86400,
                       number(&ServerConfig::connection, &ConnectionLimits::idleTimeoutMs, 1000)));
    t.append(numberRow(u"read-timeout"_s, u"seconds"_s,
                       u"A request must arrive whole within this long (else 408)."_s, 1, 86400,
                       number(&ServerConfig::connection, &ConnectionLimits::readTimeoutMs, 1000)));
    t.append(numberRow(u"max-head"_s, u"bytes"_s,
                       u"Largest request line plus headers (else 431)."_s, 1024, 1024 * 1024,
                       number(&ServerConfig::connection, &ConnectionLimits::maxHeadBytes)));

    t.append(
        numberRow(u"max-connections-per-address"_s, u"count"_s,
                  u"Open connections from one address at most (trusted proxies exempt); "
                  "more are answered 503. 0: no limit."_s,
                  0, 1000000,
                  number(&ServerConfig::connection, &ConnectionLimits::maxConnectionsPerAddress)));
    t.append(numberRow(u"max-buffered-body"_s, u"bytes"_s,
                       u"Request bodies being received at once, over all connections; past it "
                       "a request with a body is answered 503 before its body is read. "
                       "0: no limit."_s,
                       0, qint64(1) << 40,
                       number(&ServerConfig::connection, &ConnectionLimits::maxBufferedBodyBytes)));
    t.append(numberRow(u"listen-backlog"_s, u"count"_s,
                       u"Connections the system queues before they are accepted."_s, 1, 65535,
                       number(&ServerConfig::connection, &ConnectionLimits::listenBacklog)));

    d = row(u"scopes"_s, u"list"_s, u"keys create: the new key's scopes, from push, pull, admin."_s,
            Kind::Text);
    d.get = [](const AppOptions &o) { return QVariant(o.scopes); };
    d.set = [](AppOptions &o, const QVariant &v) { o.scopes = v.toString(); };
    t.append(d);

    // Flags only: they describe this one run (a DATABASE_URL in the environment must not
    // pick the target of a migration).
    d = row(u"from"_s, u"url"_s, u"migrate: the database to copy from."_s, Kind::Text);
    d.flags = OptionDef::FlagOnly;
    d.get = [](const AppOptions &o) { return QVariant(o.migrateFrom); };
    d.set = [](AppOptions &o, const QVariant &v) { o.migrateFrom = v.toString(); };
    t.append(d);
    d = row(u"to"_s, u"url"_s,
            u"migrate: the database to copy into (must be empty, unless --force)."_s, Kind::Text);
    d.flags = OptionDef::FlagOnly;
    d.get = [](const AppOptions &o) { return QVariant(o.migrateTo); };
    d.set = [](AppOptions &o, const QVariant &v) { o.migrateTo = v.toString(); };
    t.append(d);
    d = row(u"force"_s, {}, u"migrate: replace what the target database holds."_s, Kind::Switch);
    d.flags = OptionDef::FlagOnly;
    d.get = [](const AppOptions &o) { return QVariant(o.force); };
    d.set = [](AppOptions &o, const QVariant &v) { o.force = v.toBool(); };
    t.append(d);
    d = row(u"what"_s, u"merged|agents|history"_s,
            u"export: the merged view (JSON: exactly the /pull answer), the agents, or every "
            "push of the history."_s,
            Kind::Text);
    d.flags = OptionDef::FlagOnly;
    d.get = [](const AppOptions &o) { return QVariant(o.exportWhat); };
    d.set = [](AppOptions &o, const QVariant &v) { o.exportWhat = v.toString(); };
    t.append(d);
    d = row(u"format"_s, u"json|csv"_s,
            u"export: json (history: JSON lines, one push per line) or csv (UTF-8, RFC 4180, "
            "text starting with = + - @ gets a leading ' so spreadsheets do not run it; "
            "history: one row per push with its topic and fact counts)."_s,
            Kind::Text);
    d.flags = OptionDef::FlagOnly;
    d.get = [](const AppOptions &o) { return QVariant(o.exportFormat); };
    d.set = [](AppOptions &o, const QVariant &v) { o.exportFormat = v.toString(); };
    t.append(d);
    d = row(u"out"_s, u"file"_s,
            u"export: the file to write (replaced only by a complete export); - for standard "
            "output."_s,
            Kind::Text);
    d.flags = OptionDef::FlagOnly;
    d.get = [](const AppOptions &o) { return QVariant(o.exportOut); };
    d.set = [](AppOptions &o, const QVariant &v) { o.exportOut = v.toString(); };
    t.append(d);

    d = row(u"no-access-log"_s, {}, u"Do not log a line per request."_s, Kind::Switch);
    d.flags = OptionDef::Server;
    d.get = [](const AppOptions &o) { return QVariant(!o.server.accessLog); };
    d.set = [](AppOptions &o, const QVariant &v) { o.server.accessLog = !v.toBool(); };
    t.append(d);

    d = row(u"no-writer-thread"_s, {},
            u"Commit pushes on the HTTP thread as each pass of its event loop ends, instead "
            u"of on a writer thread of their own (less CPU per push, less throughput on an "
            u"idle machine)."_s,
            Kind::Switch);
    d.flags = OptionDef::Server;
    d.get = [](const AppOptions &o) { return QVariant(!o.server.writerThread); };
    d.set = [](AppOptions &o, const QVariant &v) { o.server.writerThread = !v.toBool(); };
    t.append(d);

    d = row(u"log-format"_s, u"text|json"_s,
            u"json: every log line (access and events) is one JSON object."_s, Kind::Choice);
    d.words = {u"text"_s, u"json"_s};
    d.get = [](const AppOptions &o) { return QVariant(o.jsonLog ? u"json"_s : u"text"_s); };
    d.set = [](AppOptions &o, const QVariant &v) { o.jsonLog = v.toString() == u"json"; };
    t.append(d);

    t.append(numberRow(u"history-retention"_s, u"days"_s,
                       u"Delete pushes older than this from the history, in the background "
                       "(current summaries and the merge are kept); 0 keeps everything."_s,
                       0, 36500, number(&ServerConfig::historyRetentionDays)));
    t.append(numberRow(u"history-max-per-agent"_s, u"count"_s,
                       u"Keep at most this many of each agent's newest pushes in the history; "
                       "0: no limit."_s,
                       0, 1000000000, number(&ServerConfig::historyMaxPerAgent)));
    t.append(numberRow(u"agent-expiry"_s, u"days"_s,
                       u"Drop an agent that has not pushed for this long from the merge, with "
                       "its history (as DELETE /agents/ID); 0: never."_s,
                       0, 36500, number(&ServerConfig::agentExpiryDays)));
    return t;
}

} // namespace

QStringList OptionDef::environmentNames() const
{
    if (flags & FlagOnly)
        return {};
    QStringList names = QStringList{envName(name)} + extraEnv;
    names.removeDuplicates();
    return names;
}

QVariant OptionDef::defaultValue() const
{
    static const AppOptions defaults;
    return get ? get(defaults) : QVariant();
}

std::optional<QVariant> OptionDef::convert(const QVariant &raw, QString *error) const
{
    const QString text = raw.toString().trimmed();
    QVariant value;
    QString problem;
    switch (kind) {
    case Kind::Switch:
        value = raw.typeId() == QMetaType::Bool ? raw.toBool() : parseFlag(text);
        break;
    case Kind::Text:
        value = text;
        break;
    case Kind::List:
        value = raw.typeId() == QMetaType::QStringList ? raw.toStringList()
                                                       : text.split(u',', Qt::SkipEmptyParts);
        break;
    case Kind::Number: {
        bool ok = false;
        const qint64 n = text.toLongLong(&ok);
        if (!ok || n < min || n > max)
            problem = QStringLiteral("expected a whole number from %1 to %2, got \"%3\"")
                          .arg(min)
                          .arg(max)
                          .arg(raw.toString().left(40));
        value = qlonglong(n);
        break;
    }
    case Kind::Real: {
        bool ok = false;
        const double n = text.toDouble(&ok);
        if (!ok || n < double(min) || n > double(max))
            problem = name == u"rate-limit"
                          ? QStringLiteral("expected requests per second (0 turns it off), got "
                                           "\"%1\"")
                                .arg(raw.toString().left(40))
                          : QStringLiteral("expected a number from %1 to %2, got \"%3\"")
                                .arg(min)
                                .arg(max)
                                .arg(raw.toString().left(40));
        value = n;
        break;
    }
    case Kind::Choice:
        if (!words.contains(text))
            problem = QStringLiteral("expected %1, got \"%2\"").arg(wordList(words), text.left(40));
        value = text;
        break;
    }
    if (problem.isEmpty() && check) {
        if (auto checked = check(value, &problem))
            value = *checked;
    }
    if (!problem.isEmpty()) {
        *error = u"--" + name + u": " + problem;
        return std::nullopt;
    }
    return value;
}

const QList<OptionDef> &optionTable()
{
    static const QList<OptionDef> table = buildTable();
    return table;
}

const OptionDef *findOption(QStringView name)
{
    for (const OptionDef &o : optionTable()) {
        if (o.name == name)
            return &o;
    }
    return nullptr;
}

namespace {

void addOptions(QCommandLineParser &parser)
{
    parser.setSingleDashWordOptionMode(QCommandLineParser::ParseAsLongOptions);
    for (const OptionDef &o : optionTable()) {
        QString text = o.help;
        QString defaultText = o.defaultText;
        if (defaultText.isEmpty() && o.kind != Kind::Switch && o.kind != Kind::List && o.get) {
            const QVariant v = o.defaultValue();
            defaultText =
                v.typeId() == QMetaType::Double ? QString::number(v.toDouble()) : v.toString();
        }
        if (!defaultText.isEmpty())
            text += QStringLiteral(" [default: %1]").arg(defaultText);
        if (!(o.flags & OptionDef::FlagOnly))
            text += QStringLiteral(" (env: %1)").arg(o.environmentNames().join(u", "_s));
        parser.addOption(o.valueName.isEmpty() ? QCommandLineOption(o.name, text)
                                               : QCommandLineOption(o.name, text, o.valueName));
    }
}

} // namespace

QString optionOverriddenBy(QStringView name, const QStringList &arguments,
                           const QProcessEnvironment &environment)
{
    const OptionDef *o = findOption(name);
    if (!o)
        return {};
    QCommandLineParser parser;
    addOptions(parser);
    parser.addHelpOption();
    parser.addVersionOption();
    // Unknown options and the like do not matter here: parse what can be parsed.
    parser.parse(arguments);
    if (parser.isSet(o->name))
        return u"--" + o->name;
    for (const QString &env : o->environmentNames()) {
        if (environment.contains(env))
            return env;
    }
    return {};
}

AppOptions parseOptions(const QStringList &arguments, const QSettings *settings)
{
    AppOptions out;
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral(
        "Coordinator for agmem agent-memory federation: agents push summaries of "
        "their memory, pull the merged view of every agent.\n\n"
        "Every option can also be set in the environment as "
        "AGMEM_COORDINATOR_<OPTION> (e.g. AGMEM_COORDINATOR_MERGE_MODE=cumulative)."));
    const QCommandLineOption help = parser.addHelpOption();
    const QCommandLineOption version = parser.addVersionOption();
    addOptions(parser);
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

    // Every option from its first source: flag > environment > saved settings > default.
    const QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    for (const OptionDef &o : optionTable()) {
        std::optional<QVariant> raw;
        if (parser.isSet(o.name)) {
            raw = o.kind == Kind::Switch ? QVariant(true)
                  : o.kind == Kind::List ? QVariant(parser.values(o.name))
                                         : QVariant(parser.value(o.name));
        } else if (!(o.flags & OptionDef::FlagOnly)) {
            for (const QString &name : o.environmentNames()) {
                if (env.contains(name)) {
                    raw = env.value(name);
                    break;
                }
            }
            if (!raw && settings && settings->contains(o.name))
                raw = settings->value(o.name);
        }
        if (!raw && (o.flags & OptionDef::Always))
            raw = QString();
        if (!raw)
            continue;
        QString error;
        const std::optional<QVariant> value = o.convert(*raw, &error);
        if (!value)
            return fail(error);
        if (o.set)
            o.set(out, *value);
    }
    out.server.access.environmentKey = qEnvironmentVariable("API_KEY");
    if (out.server.tlsCertificate.isEmpty() != out.server.tlsKey.isEmpty())
        return fail(QStringLiteral("--tls-cert and --tls-key go together"));
    return out;
}

} // namespace agmem
