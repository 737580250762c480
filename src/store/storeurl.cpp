#include "storeurl.h"

#include <QCoreApplication>
#include <QDir>
#include <QStandardPaths>
#include <QUrl>
#include <QUrlQuery>

#include <atomic>

namespace agmem {

std::optional<StoreUrl> StoreUrl::parse(const QString &text, QString *error)
{
    StoreUrl url;
    const QString trimmed = text.trimmed();
    if (trimmed.isEmpty())
        return defaultLocation();
    if (trimmed == u":memory:" || trimmed == u"sqlite://:memory:" ||
        trimmed == u"sqlite:///:memory:") {
        url.kind = Kind::SqliteMemory;
        // A named shared-cache database, so every connection of this process (server
        // thread, window) sees the same data.
        static std::atomic<int> counter{0};
        url.path = QStringLiteral("file:agmem-memory-%1-%2?mode=memory&cache=shared")
                       .arg(QCoreApplication::applicationPid())
                       .arg(counter.fetch_add(1) + 1);
        return url;
    }
    if (trimmed.startsWith(u"sqlite:")) {
        QString path = trimmed.mid(7);
        if (path.startsWith(u"///"))
            path = path.mid(2); // sqlite:///abs/path -> /abs/path
        else if (path.startsWith(u"//"))
            path = path.mid(2); // sqlite://relative/path
        if (path.isEmpty()) {
            *error = QStringLiteral("the SQLite URL names no file: %1").arg(trimmed);
            return std::nullopt;
        }
        url.path = QDir::cleanPath(QDir::current().absoluteFilePath(path));
        return url;
    }
    if (trimmed.startsWith(u"postgres://") || trimmed.startsWith(u"postgresql://")) {
        const QUrl parsed(trimmed, QUrl::StrictMode);
        if (!parsed.isValid()) {
            *error = QStringLiteral("not a valid PostgreSQL URL: %1").arg(parsed.errorString());
            return std::nullopt;
        }
        url.kind = Kind::PostgreSql;
        url.host = parsed.host();
        url.port = parsed.port(5432);
        url.user = parsed.userName();
        url.password = parsed.password();
        url.database = parsed.path().mid(1);
        QStringList options;
        const QUrlQuery query(parsed);
        for (const auto &[key, value] : query.queryItems(QUrl::FullyDecoded)) {
            if (key == u"host")
                url.host = value; // a socket directory
            else
                options.append(key + u'=' + value);
        }
        url.connectOptions = options.join(u';');
        if (url.database.isEmpty()) {
            *error =
                QStringLiteral("the PostgreSQL URL names no database: %1").arg(url.displayName());
            return std::nullopt;
        }
        return url;
    }
    if (trimmed.contains(u"://")) {
        *error = QStringLiteral("unsupported database URL (use sqlite:///path, :memory: or "
                                "postgresql://user:pass@host:port/db): %1")
                     .arg(trimmed.section(QStringLiteral("://"), 0, 0).left(20));
        return std::nullopt;
    }
    url.path = QDir::cleanPath(QDir::current().absoluteFilePath(trimmed));
    return url;
}

StoreUrl StoreUrl::defaultLocation()
{
    StoreUrl url;
    const QString dir = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
    url.path = QDir(dir).filePath(QStringLiteral("coordinator.db"));
    return url;
}

QString StoreUrl::displayName() const
{
    switch (kind) {
    case Kind::SqliteMemory:
        return QStringLiteral(":memory:");
    case Kind::SqliteFile:
        return QStringLiteral("sqlite://") + path;
    case Kind::PostgreSql:
        return QStringLiteral("postgresql://%1%2@%3:%4/%5")
            .arg(user, password.isEmpty() ? QString() : QStringLiteral(":***"), host)
            .arg(port)
            .arg(database);
    }
    return {};
}

} // namespace agmem
