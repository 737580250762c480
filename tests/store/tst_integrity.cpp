// A damaged SQLite file (64 KB of garbage in its middle, as a failing disk or a careless
// copy leaves it): refused at start with what to do and left as it is; damage found while
// running answers 503, /health turns unhealthy and nothing more is acknowledged.
#include "testsupport.h"

#include "store/store.h"

#include <QCryptographicHash>
#include <QFile>
#include <QRandomGenerator>
#include <QTimeZone>
#include <QtTest>

using namespace Qt::StringLiterals;
using namespace agmem::test;

namespace {

// Pushes of one agent ("bulk"), pipelined `perRound` at a time: the history fills the file
// from its middle on, while the agents table stays on its first pages.
bool fillHistory(quint16 port, int pushes, int factsPerPush)
{
    RawHttpClient client;
    if (!client.connectTo(port))
        return false;
    constexpr int perRound = 100;
    for (int done = 0; done < pushes;) {
        const int round = qMin(perRound, pushes - done);
        QByteArray batch;
        for (int i = 0; i < round; ++i) {
            QStringList facts;
            for (int f = 0; f < factsPerPush; ++f)
                facts.append(QString::fromLatin1(
                    QCryptographicHash::hash(QByteArray::number((done + i) * 1000 + f),
                                             QCryptographicHash::Sha256)
                        .toHex()));
            const QString timestamp = QDateTime(QDate(2025, 1, 1), QTime(0, 0), QTimeZone::utc())
                                          .addSecs(done + i)
                                          .toString(Qt::ISODate);
            batch += buildJsonPost(
                "/push", summaryBody(u"bulk"_s, timestamp, QJsonObject{{u"t"_s, done + i}}, facts));
        }
        if (!client.send(batch))
            return false;
        for (int i = 0; i < round; ++i) {
            if (client.readResponse().status != 200)
                return false;
        }
        done += round;
    }
    return true;
}

QByteArray fileHash(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return {};
    return QCryptographicHash::hash(f.readAll(), QCryptographicHash::Sha256);
}

// 64 KB of (seeded) garbage at the middle of the file, page-aligned.
bool damage(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadWrite))
        return false;
    const qint64 offset = (f.size() / 2) & ~qint64(4095);
    QByteArray garbage(64 * 1024, Qt::Uninitialized);
    QRandomGenerator random(4242);
    random.fillRange(reinterpret_cast<quint32 *>(garbage.data()), garbage.size() / 4);
    return f.seek(offset) && f.write(garbage) == garbage.size() && f.flush();
}

} // namespace

class TstIntegrity : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void damagedFileRefusedAtStart();
    void damageFoundWhileRunning();
    void fileGoneWhileRunning_data();
    void fileGoneWhileRunning();

private:
    // A server whose store holds `pushes` pushes, stopped (its WAL checkpointed into the file).
    bool prepare(TestServer &server, int pushes = 1500);
};

bool TstIntegrity::prepare(TestServer &server, int pushes)
{
    server.config.storeOptions.durability = agmem::Durability::Normal; // fast to fill
    QString error;
    if (!server.start(&error)) {
        qWarning() << error;
        return false;
    }
    if (!fillHistory(server.port(), pushes, 40))
        return false;
    server.stop();
    return QFile(server.databaseFile()).size() > 2 * 1024 * 1024;
}

void TstIntegrity::damagedFileRefusedAtStart()
{
    TestServer server;
    QVERIFY(prepare(server));
    const QString file = server.databaseFile();
    QString error;
    QVERIFY2(server.start(&error), qPrintable(error)); // intact: starts
    server.stop();

    QVERIFY(damage(file));
    const QByteArray damaged = fileHash(file);
    QVERIFY(!server.start(&error));
    QVERIFY(!server.isRunning());
    QVERIFY2(error.contains(u"is damaged"), qPrintable(error));
    QVERIFY2(error.contains(u"quick_check"), qPrintable(error));
    // What to do: restore, or export what is readable.
    QVERIFY2(error.contains(u"backup"), qPrintable(error));
    QVERIFY2(error.contains(u"agmem-coordinator export --db " + file), qPrintable(error));
    // The refused start wrote nothing into the file.
    QCOMPARE(fileHash(file), damaged);

    // A reader (export) still opens it, to save what is readable.
    agmem::StoreUrl url;
    url.kind = agmem::StoreUrl::Kind::SqliteFile;
    url.path = file;
    agmem::StoreOptions readOnly;
    readOnly.readOnly = true;
    QVERIFY2(agmem::Store::open(url, readOnly, &error) != nullptr, qPrintable(error));
    QCOMPARE(fileHash(file), damaged);
}

void TstIntegrity::damageFoundWhileRunning()
{
    TestServer server;
    QVERIFY(prepare(server));
    QVERIFY(damage(server.databaseFile()));
    // As if the damage happened after the start-up check.
    server.config.storeOptions.checkIntegrity = false;
    QString error;
    QVERIFY2(server.start(&error), qPrintable(error));
    const quint16 port = server.port();
    const HttpResponse pullBefore = httpGet(port, "/pull");
    VERIFY_STATUS(pullBefore, 200);
    VERIFY_STATUS(httpGet(port, "/health"), 200); // nothing read from the damaged pages yet

    // Paging through the history reaches the damaged pages: 503, never a shorter 200.
    int damagedAnswers = 0;
    for (int before = 1500; before > 0 && damagedAnswers == 0; before -= 100) {
        const HttpResponse r =
            httpGet(port, "/agents/bulk?limit=100&before=" + QByteArray::number(before));
        QVERIFY2(r.status == 200 || r.status == 503, r.body.left(300).constData());
        if (r.status == 200) {
            QCOMPARE(r.object().value(u"history"_s).toArray().size(), 100);
        } else {
            ++damagedAnswers;
            QVERIFY2(r.object().value(u"detail"_s).toString().contains(u"damaged"),
                     r.body.left(300).constData());
        }
    }
    QVERIFY(damagedAnswers > 0);

    // From now on: unhealthy, and nothing is acknowledged into the file.
    const HttpResponse health = httpGet(port, "/health");
    VERIFY_STATUS(health, 503);
    QCOMPARE(health.object().value(u"status"_s).toString(), u"unhealthy"_s);
    QVERIFY2(health.object().value(u"detail"_s).toString().contains(u"export"),
             health.body.constData());
    const HttpResponse push = httpPostJson(
        port, "/push",
        summaryBody(u"late"_s, u"2026-01-01T00:00:00Z"_s, QJsonObject{{u"t"_s, 1}}, {u"f"_s}));
    VERIFY_STATUS(push, 503);
    QVERIFY(push.object().value(u"detail"_s).toString().contains(u"damaged"));
    VERIFY_STATUS(httpExchange(port, buildRequest("DELETE", "/admin/reset")), 503);
    const HttpResponse pullAfter = httpGet(port, "/pull");
    VERIFY_STATUS(pullAfter, 200);
    QCOMPARE(pullAfter.body, pullBefore.body);
    QCOMPARE(pullAfter.header("etag"), pullBefore.header("etag"));
    VERIFY_STATUS(httpGet(port, "/health"), 503);
}

void TstIntegrity::fileGoneWhileRunning_data()
{
    QTest::addColumn<bool>("replaced");
    QTest::newRow("folder deleted") << false;
    QTest::newRow("file replaced") << true;
}

// The database file deleted (its folder with it) or replaced while the server runs: SQLite
// would go on committing into a file nobody opens again. The next write is refused with
// what happened, what the old file held is saved next to the path, nothing more is
// acknowledged, and a replacing file is left as it is.
void TstIntegrity::fileGoneWhileRunning()
{
    QFETCH(bool, replaced);
    TestServer server;
    QString error;
    QVERIFY2(server.start(&error), qPrintable(error));
    const quint16 port = server.port();
    const auto push = [port](const QString &agent) {
        return httpPostJson(port, "/push",
                            summaryBody(agent, u"2026-01-01T00:00:00Z"_s, QJsonObject{{u"t"_s, 1}},
                                        {agent + u"-fact"_s}));
    };
    VERIFY_STATUS(push(u"before"_s), 200);

    const QString path = server.databaseFile();
    const QDir folder = QFileInfo(path).absoluteDir();
    QByteArray replacementHash;
    if (replaced) {
        // As a restore with `mv backup.db coordinator.db` would do it.
        const QString other = folder.filePath(u"other.db"_s);
        QFile f(other);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("not the server's file");
        f.close();
        QVERIFY(QFile::remove(path));
        QVERIFY(QFile::rename(other, path));
        replacementHash = fileHash(path);
    } else {
        QVERIFY(QDir(folder).removeRecursively());
        QVERIFY(!QFileInfo::exists(path));
    }

    const HttpResponse refused = push(u"after"_s);
    VERIFY_STATUS(refused, 503);
    const QString detail = refused.object().value(u"detail"_s).toString();
    QVERIFY2(detail.contains(u"was deleted or replaced while the server was running"),
             qPrintable(detail));
    // The whole story (with where the rescue copy is) on /health and in the log.
    const HttpResponse health = httpGet(port, "/health");
    VERIFY_STATUS(health, 503);
    const QString healthDetail = health.object().value(u"detail"_s).toString();
    QVERIFY2(healthDetail.contains(u"deleted or replaced") && healthDetail.contains(u".rescued-"),
             health.body.constData());
    // From now on nothing is acknowledged; pulls still answer from memory.
    VERIFY_STATUS(push(u"later"_s), 503);
    const HttpResponse pull = httpGet(port, "/pull");
    VERIFY_STATUS(pull, 200);
    QVERIFY(pull.body.contains("before-fact"));
    QVERIFY(!pull.body.contains("later-fact"));
    server.stop();

    if (replaced)
        QCOMPARE(fileHash(path), replacementHash);
    // The rescue copy is a database the coordinator opens, with every acknowledged push
    // (and the refused one that was committed into the old file: a repeated push is
    // harmless to the merge).
    const QStringList rescues =
        folder.entryList({QFileInfo(path).fileName() + u".rescued-*"_s}, QDir::Files);
    QCOMPARE(rescues.size(), 1);
    agmem::StoreUrl url;
    url.kind = agmem::StoreUrl::Kind::SqliteFile;
    url.path = folder.filePath(rescues.first());
    agmem::StoreOptions options;
    options.readOnly = true;
    const std::unique_ptr<agmem::Store> rescued = agmem::Store::open(url, options, &error);
    QVERIFY2(rescued, qPrintable(error));
    const std::optional<QList<agmem::AgentState>> agents = rescued->listAgents();
    QVERIFY(agents);
    QStringList ids;
    for (const agmem::AgentState &agent : *agents)
        ids.append(agent.agentId);
    QCOMPARE(ids, (QStringList{u"after"_s, u"before"_s}));
}

QTEST_GUILESS_MAIN(TstIntegrity)

#include "tst_integrity.moc"
