// agmem-coordinator migrate, run as a process: SQLite -> PostgreSQL -> SQLite keeps every
// summary, agent, key and the state (the same /pull body and ETag everywhere), and a
// non-empty target is refused unless --force.

#include "pgsupport.h"
#include "testsupport.h"

#include "store/store.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QSqlRecord>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

using namespace agmem;
using namespace agmem::test;
using namespace Qt::StringLiterals;

namespace {

struct Run
{
    int exitCode = -1;
    QString out;
    QString err;
};

Run migrate(const QStringList &arguments)
{
    Run run;
    QProcess p;
    p.start(qEnvironmentVariable("AGMEM_TEST_BINARY"), QStringList{u"migrate"_s} + arguments);
    if (!p.waitForFinished(60000)) {
        run.err = u"did not finish"_s;
        return run;
    }
    run.exitCode = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    run.out = QString::fromUtf8(p.readAllStandardOutput());
    run.err = QString::fromUtf8(p.readAllStandardError());
    return run;
}

// The URL text of a test database (its schema rides in the options).
QString urlText(const StoreUrl &url)
{
    if (url.kind != StoreUrl::Kind::PostgreSql)
        return u"sqlite://"_s + url.path;
    QString text =
        u"postgresql://%1@%2:%3/%4"_s.arg(url.user, url.host).arg(url.port).arg(url.database);
    if (!url.connectOptions.isEmpty())
        text += u'?' + QString::fromLatin1(
                           QUrl::toPercentEncoding(url.connectOptions, "=").replace("%3B", "&"));
    return text;
}

struct View
{
    QByteArray pull;
    QByteArray etag;
    qint64 totalPushes = 0;
};

View viewOf(const StoreUrl &url)
{
    TestServer server;
    View v;
    ServerConfig config = TestServer::defaultConfig();
    config.store = url;
    ServerController controller;
    QString error;
    if (!controller.startAndWait(config, &error)) {
        qWarning().noquote() << "cannot start on" << url.displayName() << error;
        return v;
    }
    const HttpResponse pull = httpGet(controller.port(), "/pull"_ba);
    v.pull = pull.body;
    v.etag = pull.header("etag");
    v.totalPushes = httpGet(controller.port(), "/"_ba).object().value(u"total_pushes").toInteger();
    controller.stopAndWait();
    return v;
}

// Every summary as the store gives it back, JSON normalized (JSONB prints its own spacing).
QStringList history(const StoreUrl &url)
{
    QString error;
    const std::unique_ptr<Store> store = Store::open(url, {}, &error);
    if (!store)
        return {error};
    QSqlQuery q(store->database());
    q.exec(u"SELECT id, agent_id, timestamp_us, topic_counts, fact_hashes, metadata, "
           "memory_types, source, received_us FROM summaries ORDER BY id"_s);
    QStringList rows;
    while (q.next()) {
        const auto json = [&](int i) {
            return q.isNull(i)
                       ? u"<null>"_s
                       : QString::fromUtf8(QJsonDocument::fromJson(q.value(i).toString().toUtf8())
                                               .toJson(QJsonDocument::Compact));
        };
        rows.append(QStringList{q.value(0).toString(), q.value(1).toString(), q.value(2).toString(),
                                json(3),
                                store->dialect().decodeTextArray(q.value(4).toString()).join(u'|'),
                                json(5), json(6), q.value(7).toString(), q.value(8).toString()}
                        .join(u" ; "));
    }
    return rows;
}

QStringList keys(const StoreUrl &url)
{
    QString error;
    const std::unique_ptr<Store> store = Store::open(url, {}, &error);
    if (!store)
        return {error};
    QStringList out;
    for (const ApiKeyRecord &k : store->listKeys().value_or(QList<ApiKeyRecord>{}))
        out.append(u"%1 %2 %3 %4 %5 %6"_s.arg(k.id)
                       .arg(k.name, k.prefix, QString::fromLatin1(k.hash))
                       .arg(k.scopes)
                       .arg(k.revokedAt != 0));
    return out;
}

} // namespace

class tst_Migrate : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void roundTripSqlitePostgresSqlite();
    void refusesBadArguments();
};

void tst_Migrate::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
    QVERIFY2(QFile::exists(qEnvironmentVariable("AGMEM_TEST_BINARY")),
             "AGMEM_TEST_BINARY names no file");
    AGMEM_REQUIRE_POSTGRES();
}

void tst_Migrate::roundTripSqlitePostgresSqlite()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    StoreUrl first;
    first.path = dir.filePath(u"first.db"_s);

    // A SQLite store with history, stale and repeated pushes, extras and keys.
    {
        ServerConfig config = TestServer::defaultConfig();
        config.store = first;
        ServerController controller;
        QString error;
        QVERIFY2(controller.startAndWait(config, &error), qPrintable(error));
        const quint16 port = controller.port();
        const QList<QByteArray> pushes = {
            summaryBody(u"a"_s, u"2025-01-02T00:00:00.123456Z"_s,
                        {{u"python"_s, 3}, {u"na\u00efve"_s, qint64(9007199254740993)}},
                        {u"f \"1\" \\"_s, u"{brace},comma"_s}),
            summaryBody(u"a"_s, u"2025-01-01T00:00:00Z"_s, {{u"stale"_s, 1}}, {}),
            summaryBody(u"b"_s, u"2025-01-03T00:00:00Z"_s, {{u"python"_s, 2}}, {u"f2"_s}),
            summaryBody(u"b"_s, u"2025-01-03T00:00:00Z"_s, {{u"python"_s, 2}}, {u"f2"_s}),
            R"({"summary": {"agent_id": "c", "timestamp": "2025-01-04T00:00:00+02:00",
                "topic_counts": {}, "fact_hashes": [], "metadata": {"host": "x", "n": [1, 2]},
                "memory_types": ["episodic"]}})"_ba,
        };
        for (const QByteArray &body : pushes) {
            const HttpResponse r = httpPostJson(port, "/push"_ba, body);
            QVERIFY2(r.valid && r.status == 200, r.body.constData());
        }
        controller.stopAndWait();
        const std::unique_ptr<Store> store = Store::open(first, {}, &error);
        QVERIFY2(store, qPrintable(error));
        QVERIFY(store->createKey(u"ci"_s, 3, nullptr));
        ApiKeyRecord revoked;
        QVERIFY(store->createKey(u"old"_s, 7, &revoked));
        QVERIFY(store->revokeKey(revoked.id));
    }
    const View firstView = viewOf(first);
    QVERIFY(!firstView.pull.isEmpty());
    QCOMPARE(firstView.totalPushes, 5);
    const QStringList firstHistory = history(first);
    QCOMPARE(firstHistory.size(), 5);
    const QStringList firstKeys = keys(first);
    QCOMPARE(firstKeys.size(), 2);

    // SQLite -> PostgreSQL.
    QString error;
    const std::optional<StoreUrl> pg = createDatabase(&error);
    QVERIFY2(pg, qPrintable(error));
    const auto dropPg = qScopeGuard([&] { dropDatabase(*pg); });
    Run run = migrate({u"--from"_s, urlText(first), u"--to"_s, urlText(*pg)});
    QVERIFY2(run.exitCode == 0, qPrintable(run.err));
    QVERIFY2(run.out.contains(u"5 summaries, 3 agents, 2 API keys"_s), qPrintable(run.out));
    QVERIFY2(run.out.contains(u"counts match"_s), qPrintable(run.out));
    QCOMPARE(history(*pg), firstHistory);
    QCOMPARE(keys(*pg), firstKeys);
    const View pgView = viewOf(*pg);
    QCOMPARE(pgView.pull, firstView.pull);
    QCOMPARE(pgView.etag, firstView.etag); // same identity and sequence: caches stay valid
    QCOMPARE(pgView.totalPushes, firstView.totalPushes);

    // The target holds data now: refused, and left as it was.
    run = migrate({u"--from"_s, urlText(first), u"--to"_s, urlText(*pg)});
    QCOMPARE(run.exitCode, 1);
    QVERIFY2(run.err.contains(u"not empty"_s) && run.err.contains(u"--force"_s),
             qPrintable(run.err));
    QCOMPARE(history(*pg), firstHistory);

    // New ids on PostgreSQL continue after the copied ones.
    {
        const std::unique_ptr<Store> store = Store::open(*pg, {}, &error);
        QVERIFY2(store, qPrintable(error));
        ApiKeyRecord record;
        QVERIFY2(store->createKey(u"after"_s, 1, &record), qPrintable(store->lastError()));
        QCOMPARE(record.id, qint64(3));
    }
    const QStringList pgKeys = keys(*pg);
    QCOMPARE(pgKeys.size(), 3);

    // PostgreSQL -> SQLite.
    StoreUrl second;
    second.path = dir.filePath(u"second.db"_s);
    run = migrate({u"--from"_s, urlText(*pg), u"--to"_s, urlText(second)});
    QVERIFY2(run.exitCode == 0, qPrintable(run.err));
    QCOMPARE(history(second), firstHistory);
    QCOMPARE(keys(second), pgKeys);
    const View secondView = viewOf(second);
    QCOMPARE(secondView.pull, firstView.pull);
    QCOMPARE(secondView.etag, firstView.etag);
    QCOMPARE(secondView.totalPushes, firstView.totalPushes);

    // --force replaces a non-empty target.
    run = migrate({u"--from"_s, urlText(first), u"--to"_s, urlText(second), u"--force"_s});
    QVERIFY2(run.exitCode == 0, qPrintable(run.err));
    QCOMPARE(keys(second), firstKeys);
    QCOMPARE(history(second), firstHistory);
}

void tst_Migrate::refusesBadArguments()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString file = u"sqlite://"_s + dir.filePath(u"x.db"_s);
    Run run = migrate({u"--from"_s, file});
    QCOMPARE(run.exitCode, 2);
    QVERIFY2(run.err.contains(u"usage"_s), qPrintable(run.err));
    run = migrate({u"--from"_s, file, u"--to"_s, file});
    QCOMPARE(run.exitCode, 2);
    QVERIFY2(run.err.contains(u"same database"_s), qPrintable(run.err));
    run = migrate({u"--from"_s, file, u"--to"_s, u":memory:"_s});
    QCOMPARE(run.exitCode, 2);
    QVERIFY(!QFile::exists(dir.filePath(u"x.db"_s)));
}

QTEST_GUILESS_MAIN(tst_Migrate)
#include "tst_migrate.moc"
