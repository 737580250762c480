// Several coordinator instances on one PostgreSQL database, over real sockets: racing pushes
// from several client threads through two instances give what one instance gives for the
// same pushes; ETags and resets reach the other instance at once; and an outage of the
// database server gives 503s, never half a push, until it comes back and the coordinator
// reconnects by itself.

#include "pgsupport.h"
#include "testsupport.h"

#include "core/mergeengine.h"
#include "core/summary.h"
#include "core/timestamp.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRandomGenerator>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <atomic>
#include <memory>
#include <thread>
#include <vector>

using namespace agmem;
using namespace agmem::test;
using namespace Qt::StringLiterals;

namespace {

// 2025-01-01T00:00:00Z
constexpr Instant BaseTime = 1735689600000000;
constexpr Instant Second = 1000000;

struct PushSpec
{
    Summary summary;
    QByteArray body;
};

PushSpec makePush(const QString &agent, Instant timestamp,
                  const QList<QPair<QString, qint64>> &topics, const QStringList &facts)
{
    PushSpec p;
    p.summary.agentId = agent;
    p.summary.timestamp = timestamp;
    p.summary.topicCounts = topics;
    p.summary.factHashes = facts;
    QJsonObject topicsJson;
    for (const auto &[topic, count] : topics)
        topicsJson.insert(topic, count);
    p.body = summaryBody(agent, formatIsoTimestamp(timestamp), topicsJson, facts);
    return p;
}

// The /pull body without metadata.sequence (a fresh engine has its own sequence).
QJsonObject withoutSequence(QJsonObject pull)
{
    QJsonObject metadata = pull.value(u"metadata").toObject();
    metadata.remove(u"sequence"_s);
    pull.insert(u"metadata"_s, metadata);
    return pull;
}

// A coordinator on a given store URL.
std::unique_ptr<ServerController> startInstance(const StoreUrl &url, MergeMode mode, QString *error)
{
    ServerConfig config = TestServer::defaultConfig();
    config.store = url;
    config.mergeMode = mode;
    auto controller = std::make_unique<ServerController>();
    if (!controller->startAndWait(config, error))
        return nullptr;
    return controller;
}

QString sourceDir()
{
    return QStringLiteral(AGMEM_SOURCE_DIR);
}

} // namespace

class tst_Instances : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanup();

    void racingPushesThroughTwoInstances_data();
    void racingPushesThroughTwoInstances();
    void etagAndResetReachTheOtherInstance();
    void startingTogetherMigratesOnce();
    void outageGives503AndReconnects();

private:
    std::optional<StoreUrl> newDatabase();
    QList<StoreUrl> m_databases;
};

void tst_Instances::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
    AGMEM_REQUIRE_POSTGRES();
}

void tst_Instances::cleanup()
{
    for (const StoreUrl &url : std::as_const(m_databases))
        dropDatabase(url);
    m_databases.clear();
}

std::optional<StoreUrl> tst_Instances::newDatabase()
{
    QString error;
    std::optional<StoreUrl> url = createDatabase(&error);
    if (!url)
        qWarning().noquote() << error;
    else
        m_databases.append(*url);
    return url;
}

void tst_Instances::racingPushesThroughTwoInstances_data()
{
    QTest::addColumn<int>("mode");
    QTest::addRow("latest") << int(MergeMode::Latest);
    // Every push is summed: a lost update or a double count shows in the totals.
    QTest::addRow("cumulative") << int(MergeMode::Cumulative);
}

void tst_Instances::racingPushesThroughTwoInstances()
{
    QFETCH(int, mode);
    const MergeMode mergeMode = MergeMode(mode);
    constexpr int Threads = 4;
    constexpr int PerThread = 50;
    constexpr int Agents = 5;

    const std::optional<StoreUrl> url = newDatabase();
    QVERIFY(url);
    QString error;
    const auto a = startInstance(*url, mergeMode, &error);
    QVERIFY2(a, qPrintable(error));
    const auto b = startInstance(*url, mergeMode, &error);
    QVERIFY2(b, qPrintable(error));
    const quint16 ports[2] = {a->port(), b->port()};

    // Every thread pushes for the same agents, with timestamps that interleave with the
    // other threads' and arrive out of order (unique, so "newest wins" has one answer).
    std::vector<std::vector<PushSpec>> plans(Threads);
    QRandomGenerator random(5);
    for (int t = 0; t < Threads; ++t) {
        for (int i = 0; i < PerThread; ++i) {
            const int agent = (t + i) % Agents;
            const Instant timestamp = BaseTime + (qint64(i) * Threads + t) * Second;
            plans[t].push_back(makePush(u"agent-%1"_s.arg(agent), timestamp,
                                        {{u"shared"_s, i + 1}, {u"from-%1"_s.arg(t), 1}},
                                        {u"common"_s, u"fact-%1-%2"_s.arg(t).arg(i)}));
        }
        std::shuffle(plans[t].begin(), plans[t].end(), std::mt19937(t + 1));
    }

    std::atomic<int> failures{0};
    std::vector<QString> errors(Threads);
    std::vector<std::thread> threads;
    for (int t = 0; t < Threads; ++t) {
        threads.emplace_back([&, t] {
            // A kept-alive connection to each instance, used in turn.
            RawHttpClient clients[2];
            for (int c = 0; c < 2; ++c) {
                if (!clients[c].connectTo(ports[c])) {
                    errors[t] = u"cannot connect"_s;
                    ++failures;
                    return;
                }
            }
            for (int i = 0; i < PerThread; ++i) {
                const HttpResponse r =
                    clients[(i + t) % 2].request(buildJsonPost("/push", plans[t][i].body));
                if (!r.valid || r.status != 200) {
                    errors[t] = u"push %1: %2 %3 %4"_s.arg(i).arg(r.status).arg(
                        r.error, QString::fromUtf8(r.body.left(300)));
                    ++failures;
                    return;
                }
            }
        });
    }
    for (std::thread &thread : threads)
        thread.join();
    QVERIFY2(failures == 0, qPrintable(QStringList(errors.begin(), errors.end()).join(u"; ")));

    // What one instance answers for the same pushes, in any order.
    MergeEngine expected(mergeMode);
    for (const auto &plan : plans) {
        for (const PushSpec &p : plan)
            expected.apply(p.summary.agentId, expected.plan(p.summary).next, 0, 1);
    }
    const QJsonObject expectedPull =
        withoutSequence(QJsonDocument::fromJson(expected.pullJson()).object());

    const HttpResponse pullA = httpGet(ports[0], "/pull"_ba);
    const HttpResponse pullB = httpGet(ports[1], "/pull"_ba);
    VERIFY_STATUS(pullA, 200);
    VERIFY_STATUS(pullB, 200);
    QCOMPARE(pullA.body, pullB.body);
    QCOMPARE(pullA.header("etag"), pullB.header("etag"));
    QCOMPARE(withoutSequence(pullA.object()), expectedPull);
    if (mergeMode == MergeMode::Cumulative) {
        // Spelled out: each thread pushed 1 + 2 + ... + PerThread to "shared".
        QCOMPARE(
            pullA.object().value(u"merged_topic_counts").toObject().value(u"shared").toInteger(),
            qint64(Threads) * PerThread * (PerThread + 1) / 2);
    }
    QCOMPARE(pullA.object().value(u"contributing_agents").toInteger(), Agents);

    // Every push counted once, whichever instance took it.
    for (const quint16 port : ports) {
        const QJsonObject root = httpGet(port, "/"_ba).object();
        QCOMPARE(root.value(u"total_pushes").toInteger(), Threads * PerThread);
        QCOMPARE(root.value(u"total_agents").toInteger(), Agents);
    }
    PgConnection pg(*url);
    QVERIFY2(pg.isOpen(), qPrintable(pg.error()));
    QSqlQuery q(pg.database());
    QVERIFY(q.exec(u"SELECT (SELECT COUNT(*) FROM summaries), (SELECT SUM(push_count) FROM "
                   "agents), (SELECT total_pushes FROM coordinator_state)"_s));
    QVERIFY(q.next());
    QCOMPARE(q.value(0).toLongLong(), qint64(Threads) * PerThread);
    QCOMPARE(q.value(1).toLongLong(), qint64(Threads) * PerThread);
    QCOMPARE(q.value(2).toLongLong(), qint64(Threads) * PerThread);

    // A third instance started now loads the same view.
    const auto c = startInstance(*url, mergeMode, &error);
    QVERIFY2(c, qPrintable(error));
    const HttpResponse pullC = httpGet(c->port(), "/pull"_ba);
    VERIFY_STATUS(pullC, 200);
    QCOMPARE(pullC.body, pullA.body);
}

void tst_Instances::etagAndResetReachTheOtherInstance()
{
    const std::optional<StoreUrl> url = newDatabase();
    QVERIFY(url);
    QString error;
    const auto a = startInstance(*url, MergeMode::Latest, &error);
    QVERIFY2(a, qPrintable(error));
    const auto b = startInstance(*url, MergeMode::Latest, &error);
    QVERIFY2(b, qPrintable(error));

    VERIFY_STATUS(httpPostJson(a->port(), "/push"_ba,
                               summaryBody(u"x"_s, u"2025-01-01T00:00:00Z"_s, {{u"t"_s, 1}}, {})),
                  200);
    const HttpResponse first = httpGet(a->port(), "/pull"_ba);
    VERIFY_STATUS(first, 200);
    const QByteArray etag = first.header("etag");
    QVERIFY(!etag.isEmpty());
    // B answers the same, and honours A's ETag.
    VERIFY_STATUS(httpGet(b->port(), "/pull"_ba, {{"If-None-Match"_ba, etag}}), 304);

    // A push through B: A's cached copy is stale at once.
    VERIFY_STATUS(httpPostJson(b->port(), "/push"_ba,
                               summaryBody(u"x"_s, u"2025-01-02T00:00:00Z"_s, {{u"t"_s, 5}}, {})),
                  200);
    const HttpResponse second = httpGet(a->port(), "/pull"_ba, {{"If-None-Match"_ba, etag}});
    VERIFY_STATUS(second, 200);
    QVERIFY(second.header("etag") != etag);
    QCOMPARE(second.object().value(u"merged_topic_counts").toObject().value(u"t").toInteger(), 5);
    QCOMPARE(httpGet(b->port(), "/pull"_ba).body, second.body);

    // A stale push through A (B took the newer one) changes nothing.
    VERIFY_STATUS(httpPostJson(a->port(), "/push"_ba,
                               summaryBody(u"x"_s, u"2025-01-01T12:00:00Z"_s, {{u"t"_s, 9}}, {})),
                  200);
    const HttpResponse third = httpGet(a->port(), "/pull"_ba);
    QCOMPARE(third.header("etag"), second.header("etag"));
    QCOMPARE(third.body, second.body);

    // A reset through B empties A's view too (its agents left no changed row behind).
    VERIFY_STATUS(httpExchange(b->port(), buildRequest("DELETE", "/admin/reset")), 200);
    const HttpResponse afterReset = httpGet(a->port(), "/pull"_ba);
    VERIFY_STATUS(afterReset, 200);
    QCOMPARE(afterReset.object().value(u"contributing_agents").toInteger(), 0);
    QCOMPARE(afterReset.object().value(u"merged_topic_counts").toObject(), QJsonObject());
    QVERIFY(afterReset.header("etag") != third.header("etag"));
    QCOMPARE(httpGet(b->port(), "/pull"_ba).body, afterReset.body);
    QCOMPARE(httpGet(a->port(), "/"_ba).object().value(u"total_pushes").toInteger(), 0);

    // And both go on from there.
    VERIFY_STATUS(httpPostJson(a->port(), "/push"_ba,
                               summaryBody(u"y"_s, u"2025-01-01T00:00:00Z"_s, {{u"u"_s, 2}}, {})),
                  200);
    QCOMPARE(httpGet(b->port(), "/pull"_ba).object().value(u"merged_topic_counts").toObject(),
             (QJsonObject{{u"u"_s, 2}}));
}

void tst_Instances::startingTogetherMigratesOnce()
{
    const std::optional<StoreUrl> url = newDatabase();
    QVERIFY(url);
    // Four instances start at once on an empty database: one creates the schema, the
    // others wait for it (advisory lock) and use it.
    std::vector<std::unique_ptr<ServerController>> controllers;
    for (int i = 0; i < 4; ++i) {
        ServerConfig config = TestServer::defaultConfig();
        config.store = *url;
        controllers.push_back(std::make_unique<ServerController>());
        controllers.back()->start(config);
    }
    QTRY_VERIFY_WITH_TIMEOUT(
        std::all_of(controllers.begin(), controllers.end(),
                    [](const auto &c) { return c->state() != ServerController::State::Starting; }),
        20000);
    for (const auto &c : controllers)
        QVERIFY2(c->state() == ServerController::State::Listening, qPrintable(c->lastError()));
    PgConnection pg(*url);
    QSqlQuery q(pg.database());
    QVERIFY(q.exec(u"SELECT COUNT(*), MAX(version) FROM schema_info"_s));
    QVERIFY(q.next());
    QCOMPARE(q.value(0).toInt(), Store::SchemaVersion);
    QCOMPARE(q.value(1).toInt(), Store::SchemaVersion);
    QVERIFY(q.exec(u"SELECT COUNT(*) FROM coordinator_state"_s));
    QVERIFY(q.next());
    QCOMPARE(q.value(0).toInt(), 1);
}

void tst_Instances::outageGives503AndReconnects()
{
    // A cluster of our own: stopping the shared one would break the other suites.
    const QString script = sourceDir() + u"/scripts/pg-test-server.sh"_s;
    const QString dir = u"/tmp/agmem-pg-outage-%1"_s.arg(QCoreApplication::applicationPid());
    const auto run = [&](const QString &command, QString *output = nullptr) {
        QProcess p;
        p.start(script, {command, dir});
        if (!p.waitForFinished(60000))
            return false;
        if (output)
            *output = QString::fromUtf8(p.readAllStandardOutput()).trimmed();
        if (p.exitCode() != 0)
            qWarning().noquote() << script << command << p.readAllStandardError();
        return p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0;
    };
    QString urlText;
    QVERIFY(run(u"start"_s, &urlText));
    const auto cleanupCluster = qScopeGuard([&] { run(u"stop"_s); });
    if (!urlText.startsWith(u"postgresql://")) {
        if (runningInCi())
            QFAIL(qPrintable(u"no cluster: "_s + urlText));
        QSKIP(qPrintable(urlText));
    }
    QString error;
    const std::optional<StoreUrl> url = StoreUrl::parse(urlText.section(u'\n', -1), &error);
    QVERIFY2(url, qPrintable(error));

    const auto server = startInstance(*url, MergeMode::Latest, &error);
    QVERIFY2(server, qPrintable(error));
    const quint16 port = server->port();
    VERIFY_STATUS(httpPostJson(port, "/push"_ba,
                               summaryBody(u"a"_s, u"2025-01-01T00:00:00Z"_s, {{u"t"_s, 1}}, {})),
                  200);
    const HttpResponse before = httpGet(port, "/pull"_ba);
    VERIFY_STATUS(before, 200);

    QVERIFY(run(u"halt"_s));

    // Kept-alive and new connections alike: 503 with a JSON detail, never a 500.
    RawHttpClient client;
    QVERIFY(client.connectTo(port));
    for (int i = 0; i < 3; ++i) {
        const HttpResponse push = client.request(buildJsonPost(
            "/push", summaryBody(u"b"_s, u"2025-01-02T00:00:00Z"_s, {{u"t"_s, 7}}, {})));
        VERIFY_STATUS(push, 503);
        QVERIFY(push.header("content-type").startsWith("application/json"));
        QVERIFY2(push.object().value(u"detail").toString().contains(u"nothing was stored"_s),
                 push.body.constData());
    }
    const HttpResponse health = httpGet(port, "/health"_ba);
    VERIFY_STATUS(health, 503);
    QCOMPARE(health.object().value(u"status").toString(), u"unhealthy"_s);
    QVERIFY(!health.object().value(u"detail").toString().isEmpty());
    const HttpResponse pull = httpGet(port, "/pull"_ba);
    VERIFY_STATUS(pull, 503);
    QVERIFY(pull.object().value(u"detail").isString());

    QVERIFY(run(u"resume"_s));

    // Back by itself: no restart of the coordinator.
    VERIFY_STATUS(httpGet(port, "/health"_ba), 200);
    const HttpResponse after = httpGet(port, "/pull"_ba);
    VERIFY_STATUS(after, 200);
    QCOMPARE(after.body, before.body); // the refused pushes left nothing
    VERIFY_STATUS(client.request(buildJsonPost(
                      "/push", summaryBody(u"b"_s, u"2025-01-02T00:00:00Z"_s, {{u"t"_s, 7}}, {}))),
                  200);
    const HttpResponse later = httpGet(port, "/pull"_ba);
    QCOMPARE(later.object().value(u"merged_topic_counts").toObject().value(u"t").toInteger(), 8);
    QCOMPARE(httpGet(port, "/"_ba).object().value(u"total_pushes").toInteger(), 2);

    // Again, with a push as the first request after the return.
    QVERIFY(run(u"halt"_s));
    VERIFY_STATUS(httpPostJson(port, "/push"_ba,
                               summaryBody(u"c"_s, u"2025-01-03T00:00:00Z"_s, {{u"t"_s, 1}}, {})),
                  503);
    QVERIFY(run(u"resume"_s));
    VERIFY_STATUS(httpPostJson(port, "/push"_ba,
                               summaryBody(u"c"_s, u"2025-01-03T00:00:00Z"_s, {{u"t"_s, 1}}, {})),
                  200);
    QCOMPARE(httpGet(port, "/pull"_ba)
                 .object()
                 .value(u"merged_topic_counts")
                 .toObject()
                 .value(u"t")
                 .toInteger(),
             9);
}

QTEST_GUILESS_MAIN(tst_Instances)
#include "tst_instances.moc"
