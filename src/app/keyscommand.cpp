#include "keyscommand.h"

#include "store/store.h"

#include <QDateTime>
#include <QTextStream>

#include <cstdio>

namespace agmem {

namespace {

QString when(Instant instant)
{
    if (instant == 0)
        return QStringLiteral("never");
    // Local time (the one-argument form: the Qt::TimeSpec overload is deprecated in 6.8).
    return QDateTime::fromMSecsSinceEpoch(instant / 1000)
        .toString(QStringLiteral("yyyy-MM-dd HH:mm"));
}

} // namespace

int runKeysCommand(const AppOptions &options)
{
    QTextStream out(stdout);
    QTextStream err(stderr);
    const QString usage = QStringLiteral(
        "usage: agmem-coordinator keys create NAME [--scopes push,pull,admin] | list | revoke ID");
    const QStringList args = options.arguments;
    if (args.isEmpty()) {
        err << usage << Qt::endl;
        return 2;
    }
    const QString action = args.first();
    if (!(action == u"create" && args.size() == 2) && !(action == u"list" && args.size() == 1) &&
        !(action == u"revoke" && args.size() == 2)) {
        err << usage << Qt::endl;
        return 2;
    }
    std::optional<unsigned> scopes;
    if (action == u"create") {
        scopes = parseScopes(options.scopes);
        if (!scopes || *scopes == 0) {
            err << "agmem-coordinator: --scopes: expected a list of push, pull, admin, got \""
                << options.scopes.left(60) << '"' << Qt::endl;
            return 2;
        }
        if (args.at(1).trimmed().isEmpty() || args.at(1).size() > 100) {
            err << "agmem-coordinator: a key name is 1 to 100 characters" << Qt::endl;
            return 2;
        }
    }
    qint64 revokeId = 0;
    if (action == u"revoke") {
        bool ok = false;
        revokeId = args.at(1).toLongLong(&ok);
        if (!ok || revokeId <= 0) {
            err << "agmem-coordinator: keys revoke takes the numeric id shown by keys list"
                << Qt::endl;
            return 2;
        }
    }

    QString error;
    std::unique_ptr<Store> store =
        Store::open(options.server.store, options.server.storeOptions, &error);
    if (!store) {
        err << "agmem-coordinator: " << error << Qt::endl;
        return 1;
    }

    if (action == u"create") {
        ApiKeyRecord record;
        const auto key = store->createKey(args.at(1).trimmed(), *scopes, &record);
        if (!key) {
            err << "agmem-coordinator: cannot create the key: " << store->lastError() << Qt::endl;
            return 1;
        }
        out << *key << Qt::endl;
        err << "Key " << record.id << " \"" << record.name << "\" ("
            << scopesToString(record.scopes)
            << ") created. It is shown only this once: store it now.\n"
            << "For the agmem client: coordinator_url: \"http://HOST:PORT/k/" << *key << '"'
            << Qt::endl;
        return 0;
    }
    if (action == u"revoke") {
        if (!store->revokeKey(revokeId)) {
            err << "agmem-coordinator: " << store->lastError() << Qt::endl;
            return 1;
        }
        out << "Key " << revokeId << " revoked." << Qt::endl;
        return 0;
    }
    const auto keys = store->listKeys();
    if (!keys) {
        err << "agmem-coordinator: " << store->lastError() << Qt::endl;
        return 1;
    }
    out << QStringLiteral("%1  %2  %3  %4  %5  %6\n")
               .arg(QStringLiteral("ID"), -4)
               .arg(QStringLiteral("NAME"), -20)
               .arg(QStringLiteral("KEY"), -14)
               .arg(QStringLiteral("SCOPES"), -16)
               .arg(QStringLiteral("CREATED"), -16)
               .arg(QStringLiteral("LAST USED"));
    for (const ApiKeyRecord &k : *keys) {
        out << QStringLiteral("%1  %2  %3  %4  %5  %6%7\n")
                   .arg(k.id, -4)
                   .arg(k.name.left(20), -20)
                   .arg(k.prefix, -14)
                   .arg(scopesToString(k.scopes), -16)
                   .arg(when(k.createdAt), -16)
                   .arg(when(k.lastUsedAt))
                   .arg(k.active() ? QString()
                                   : QStringLiteral("  (revoked %1)").arg(when(k.revokedAt)));
    }
    out.flush();
    return 0;
}

} // namespace agmem
