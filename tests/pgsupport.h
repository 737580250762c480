#pragma once

// Running a suite against PostgreSQL as well as SQLite.
//
// CTest registers some suites twice: the second run (tst_store_pg, tst_http_pg, label pg)
// has AGMEM_TEST_BACKEND=postgresql and needs the fixture pg_start, which starts a
// throwaway cluster (scripts/pg-test-server.sh) and writes its URL to the file named by
// AGMEM_TEST_PG_URL_FILE. AGMEM_TEST_PG_URL overrides the file (any reachable server).
//
// Every test gets empty databases of its own: a fresh schema on the test database, chosen
// through the URL (options=-csearch_path=...), which is as good as a database to the store and
// costs milliseconds instead of a second for CREATE DATABASE. Nothing leaks between tests.
// Without a server the PostgreSQL tests skip, except in CI (CI=true), where they fail.

#include "store/storeurl.h"

#include <QCoreApplication>
#include <QFile>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QString>
#include <QtTest>

#include <optional>

namespace agmem::test {

inline bool postgresBackend()
{
    return qEnvironmentVariable("AGMEM_TEST_BACKEND") == QStringLiteral("postgresql");
}

inline bool runningInCi()
{
    return qEnvironmentVariable("CI") == QStringLiteral("true");
}

// The URL of the test cluster's database, or why there is none.
inline std::optional<StoreUrl> postgresAdminUrl(QString *why)
{
    QString text = qEnvironmentVariable("AGMEM_TEST_PG_URL").trimmed();
    if (text.isEmpty()) {
        const QString file = qEnvironmentVariable("AGMEM_TEST_PG_URL_FILE");
        if (file.isEmpty()) {
            *why = QStringLiteral("neither AGMEM_TEST_PG_URL nor AGMEM_TEST_PG_URL_FILE is set");
            return std::nullopt;
        }
        QFile f(file);
        if (!f.open(QIODevice::ReadOnly)) {
            *why = QStringLiteral("no PostgreSQL test server (%1 is missing: the fixture pg_start "
                                  "found no PostgreSQL, see its output)")
                       .arg(file);
            return std::nullopt;
        }
        text = QString::fromUtf8(f.readAll()).trimmed();
    }
    QString error;
    std::optional<StoreUrl> url = StoreUrl::parse(text, &error);
    if (!url || url->kind != StoreUrl::Kind::PostgreSql) {
        *why = QStringLiteral("not a PostgreSQL URL: %1 %2").arg(text, error);
        return std::nullopt;
    }
    return url;
}

// A plain connection to a PostgreSQL database, for setting up and looking at it.
class PgConnection
{
public:
    explicit PgConnection(const StoreUrl &url)
        : m_name(QStringLiteral("tst-pg-%1").arg(++s_counter))
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), m_name);
        db.setHostName(url.host);
        db.setPort(url.port);
        db.setUserName(url.user);
        db.setPassword(url.password);
        db.setDatabaseName(url.database);
        db.setConnectOptions(url.connectOptions.isEmpty()
                                 ? QStringLiteral("connect_timeout=5")
                                 : url.connectOptions + QStringLiteral(";connect_timeout=5"));
        if (!db.open()) {
            m_error = db.lastError().text();
            return;
        }
        QSqlQuery(db).exec(QStringLiteral("SET client_min_messages TO WARNING"));
    }
    ~PgConnection()
    {
        {
            QSqlDatabase db = QSqlDatabase::database(m_name, false);
            db.close();
        }
        QSqlDatabase::removeDatabase(m_name);
    }
    PgConnection(const PgConnection &) = delete;
    PgConnection &operator=(const PgConnection &) = delete;

    bool isOpen() const { return database().isOpen(); }
    QString error() const { return m_error; }
    QSqlDatabase database() const { return QSqlDatabase::database(m_name, false); }
    bool exec(const QString &sql)
    {
        QSqlQuery q(database());
        if (!q.exec(sql)) {
            m_error = q.lastError().text();
            return false;
        }
        return true;
    }

private:
    static inline int s_counter = 0;
    QString m_name;
    QString m_error;
};

// The schema a URL made by createDatabase() works in.
inline QString schemaOf(const StoreUrl &url)
{
    const qsizetype at = url.connectOptions.indexOf(QStringLiteral("search_path="));
    return at < 0 ? QString() : url.connectOptions.mid(at + 12).section(u';', 0, 0);
}

// A new, empty database for the store on the test server (a schema of its own); its URL.
// Dropped by dropDatabase().
inline std::optional<StoreUrl> createDatabase(QString *error)
{
    const std::optional<StoreUrl> admin = postgresAdminUrl(error);
    if (!admin)
        return std::nullopt;
    static int counter = 0;
    const QString schema =
        QStringLiteral("agmem_t_%1_%2").arg(QCoreApplication::applicationPid()).arg(++counter);
    PgConnection pg(*admin);
    if (!pg.isOpen()) {
        *error = QStringLiteral("cannot connect to %1: %2").arg(admin->displayName(), pg.error());
        return std::nullopt;
    }
    if (!pg.exec(QStringLiteral("DROP SCHEMA IF EXISTS %1 CASCADE").arg(schema)) ||
        !pg.exec(QStringLiteral("CREATE SCHEMA %1").arg(schema))) {
        *error = QStringLiteral("cannot create a schema: %1").arg(pg.error());
        return std::nullopt;
    }
    StoreUrl url = *admin;
    const QString option = QStringLiteral("options=-csearch_path=") + schema;
    url.connectOptions = url.connectOptions.isEmpty() ? option : url.connectOptions + u';' + option;
    return url;
}

inline void dropDatabase(const StoreUrl &url)
{
    const QString schema = schemaOf(url);
    QString error;
    const std::optional<StoreUrl> admin = postgresAdminUrl(&error);
    if (schema.isEmpty() || !admin)
        return;
    PgConnection pg(*admin);
    if (!pg.exec(QStringLiteral("DROP SCHEMA IF EXISTS %1 CASCADE").arg(schema)))
        qWarning().noquote() << "cannot drop" << schema << pg.error();
}

// The tables of the store's schema (QSqlDatabase::tables() lists every schema).
inline QStringList storeTables(const QSqlDatabase &db)
{
    if (db.driverName() != QStringLiteral("QPSQL"))
        return db.tables();
    QStringList names;
    QSqlQuery q(db);
    q.exec(QStringLiteral("SELECT table_name FROM information_schema.tables WHERE "
                          "table_schema = current_schema() AND table_type = 'BASE TABLE' "
                          "ORDER BY table_name"));
    while (q.next())
        names.append(q.value(0).toString());
    return names;
}

} // namespace agmem::test

// In a test function (or initTestCase): without a reachable PostgreSQL, skip, or fail in CI.
#define AGMEM_REQUIRE_POSTGRES()                                                                   \
    do {                                                                                           \
        QString why_;                                                                              \
        if (!QSqlDatabase::isDriverAvailable(QStringLiteral("QPSQL")))                             \
            why_ = QStringLiteral("the Qt SQL driver QPSQL is not installed "                      \
                                  "(Debian: libqt6sql6-psql)");                                    \
        else if (const auto url_ = agmem::test::postgresAdminUrl(&why_)) {                         \
            agmem::test::PgConnection pg_(*url_);                                                  \
            if (!pg_.isOpen())                                                                     \
                why_ = QStringLiteral("PostgreSQL at %1 is unreachable: %2")                       \
                           .arg(url_->displayName(), pg_.error());                                 \
        }                                                                                          \
        if (!why_.isEmpty()) {                                                                     \
            if (agmem::test::runningInCi())                                                        \
                QFAIL(qPrintable(QStringLiteral("CI=true needs PostgreSQL: ") + why_));            \
            QSKIP(qPrintable(why_));                                                               \
        }                                                                                          \
    } while (false)
