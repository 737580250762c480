// The coordinator's HTTP API over real sockets, against a ServerController with a real
// SQLite file: every route, the real client's byte-exact push, keep-alive and pipelining,
// the bad-input table (status, detail, store untouched), merge semantics, ETags,
// concurrency, durability across a restart, and clients that vanish.

#include "testsupport.h"

#include "core/timestamp.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSet>
#include <QStandardPaths>
#include <QTest>

#include <algorithm>
#include <limits>
#include <memory>
#include <vector>

using namespace agmem;
using namespace agmem::test;
using namespace Qt::StringLiterals;

namespace {

constexpr qint64 Int64Max = std::numeric_limits<qint64>::max();

QByteArray body(const QString &agentId, const QString &timestamp, const QJsonObject &topics,
                const QStringList &facts = {})
{
    return summaryBody(agentId, timestamp, topics, facts);
}

// "body.summary.topic_counts.t" for a loc array.
QString dottedLoc(const QJsonArray &loc)
{
    QStringList parts;
    for (const QJsonValue &part : loc)
        parts.append(part.isString() ? part.toString() : QString::number(part.toInteger()));
    return parts.join(u'.');
}

// An expected loc matches when every dotted part is equal or "*".
bool locMatches(const QString &expected, const QString &actual)
{
    const QStringList e = expected.split(u'.');
    const QStringList a = actual.split(u'.');
    if (e.size() != a.size())
        return false;
    for (qsizetype i = 0; i < e.size(); ++i) {
        if (e.at(i) != u"*" && e.at(i) != a.at(i))
            return false;
    }
    return true;
}

QStringList sortedKeys(const QJsonObject &object)
{
    QStringList keys = object.keys();
    keys.sort();
    return keys;
}

QSet<QByteArray> tokens(const QByteArray &list)
{
    QSet<QByteArray> out;
    for (const QByteArray &t : list.split(','))
        out.insert(t.trimmed());
    return out;
}

} // namespace

class tst_Http : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();

    // Routes.
    void root();
    void health();
    void pushAnswer();
    void pushAnswerBytes();
    void pullAnswer();
    void pullOfEmptyStore();
    void adminReset();
    void adminResetRefusedFromNetwork();
    void headPull();
    void unknownPathAndWrongMethod_data();
    void unknownPathAndWrongMethod();

    // The wire.
    void realClientPushByteExact();
    void keepAlive();
    void pipelining();
    void pipeliningWithRejectedPush();
    void pipeliningWithOversizedPush();

    // Input.
    void badInput_data();
    void badInput();
    void acceptedInput_data();
    void acceptedInput();

    // Merge and caching.
    void repeatedPushCountedOnce();
    void olderPushAfterNewerChangesNothing();
    void outOfOrderPushes();
    void cumulativeModeSumsEveryPush();
    void etagAndConditionalGet();

    // Load, durability, misbehaving clients.
    void concurrentPushes();
    void durableAcrossRestart();
    void clientsThatDisconnectEarly();
    void connectionEntriesEndWithTheirSockets();

private:
    // A fresh coordinator for one test.
    std::unique_ptr<TestServer> startServer(MergeMode mode = MergeMode::Latest);
    void seed(quint16 port);

    // Shared by the bad-input rows, seeded once; rows must leave them as they are.
    std::unique_ptr<TestServer> m_table;
    std::unique_ptr<TestServer> m_small; // max body 1024 bytes
    std::unique_ptr<TestServer> m_accepted;
};

std::unique_ptr<TestServer> tst_Http::startServer(MergeMode mode)
{
    auto server = std::make_unique<TestServer>();
    server->config.mergeMode = mode;
    QString error;
    if (!server->start(&error)) {
        qWarning("cannot start a coordinator: %s", qPrintable(error));
        return nullptr;
    }
    return server;
}

void tst_Http::seed(quint16 port)
{
    HttpResponse r =
        httpPostJson(port, "/push"_ba,
                     body(u"seed-a"_s, u"2025-01-01T00:00:00Z"_s,
                          {{u"episodic"_s, 3}, {u"semantic"_s, 1}}, {u"f1"_s, u"f2"_s}));
    VERIFY_STATUS(r, 200);
    // A count at the 64-bit limit, so one more of the same topic overflows.
    r = httpPostJson(port, "/push"_ba,
                     R"({"summary": {"agent_id": "seed-huge", "timestamp": "2025-01-02T00:00:00Z",
                          "topic_counts": {"huge": 9223372036854775807}, "fact_hashes": ["f2", "f3"]}})"_ba);
    VERIFY_STATUS(r, 200);
    const HttpResponse pull = httpGet(port, "/pull"_ba);
    VERIFY_STATUS(pull, 200);
    QCOMPARE(pull.object().value(u"merged_topic_counts").toObject().value(u"huge").toInteger(),
             Int64Max);
}

void tst_Http::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
    if (postgresBackend())
        AGMEM_REQUIRE_POSTGRES();

    m_table = startServer();
    QVERIFY(m_table);
    seed(m_table->port());
    if (QTest::currentTestFailed())
        return;

    m_small = std::make_unique<TestServer>();
    m_small->config.limits.maxBodyBytes = 1024;
    QString error;
    QVERIFY2(m_small->start(&error), qPrintable(error));
    seed(m_small->port());
}

void tst_Http::cleanupTestCase()
{
    m_table.reset();
    m_small.reset();
    m_accepted.reset();
}

// ---------------------------------------------------------------------------------------
// Routes

void tst_Http::root()
{
    auto server = startServer();
    QVERIFY(server);
    const quint16 port = server->port();
    const QByteArray a = body(u"agent-a"_s, u"2025-01-01T00:00:00Z"_s, {{u"x"_s, 1}});
    VERIFY_STATUS(httpPostJson(port, "/push"_ba, a), 200);
    VERIFY_STATUS(httpPostJson(port, "/push"_ba, a), 200); // repeated: still a push
    VERIFY_STATUS(httpPostJson(port, "/push"_ba,
                               body(u"agent-b"_s, u"2025-01-01T00:00:00Z"_s, {{u"y"_s, 2}})),
                  200);

    const HttpResponse r = httpGet(port, "/"_ba);
    VERIFY_STATUS(r, 200);
    QVERIFY(r.header("content-type").startsWith("application/json"));
    bool ok = false;
    const QJsonObject o = r.json(&ok).object();
    QVERIFY(ok);
    QCOMPARE(o.value(u"service").toString(), u"agmem-coordinator"_s);
    QCOMPARE(o.value(u"version").toString(), QStringLiteral(AGMEM_VERSION));
    QCOMPARE(o.value(u"status").toString(), u"running"_s);
    QVERIFY(o.value(u"endpoints").isArray());
    QStringList endpoints;
    for (const QJsonValue &v : o.value(u"endpoints").toArray())
        endpoints.append(v.toString());
    for (const QString &expected : {u"GET /"_s, u"GET /health"_s, u"POST /push"_s, u"GET /pull"_s,
                                    u"DELETE /admin/reset"_s}) {
        QVERIFY2(endpoints.contains(expected), qPrintable(endpoints.join(u", ")));
    }
    const QString startedAt = o.value(u"started_at").toString();
    QVERIFY2(startedAt.endsWith(u"+00:00"), qPrintable(startedAt));
    const auto started = parseIsoTimestamp(startedAt);
    QVERIFY(started);
    QVERIFY(qAbs(*started - nowInstant()) < qint64(60) * 1000 * 1000);
    QVERIFY(o.value(u"total_pushes").isDouble());
    QCOMPARE(o.value(u"total_pushes").toInteger(), 3);
    QCOMPARE(o.value(u"total_agents").toInteger(), 2);
}

void tst_Http::health()
{
    const HttpResponse r = httpGet(m_table->port(), "/health"_ba);
    VERIFY_STATUS(r, 200);
    QVERIFY(r.header("content-type").startsWith("application/json"));
    const QJsonObject o = r.object();
    QCOMPARE(o.value(u"status").toString(), u"healthy"_s);
    const QString timestamp = o.value(u"timestamp").toString();
    QVERIFY2(timestamp.endsWith(u"+00:00"), qPrintable(timestamp));
    const auto at = parseIsoTimestamp(timestamp);
    QVERIFY(at);
    QVERIFY(qAbs(*at - nowInstant()) < qint64(60) * 1000 * 1000);
}

void tst_Http::pushAnswer()
{
    auto server = startServer();
    QVERIFY(server);
    const Instant before = nowInstant();
    const HttpResponse r =
        httpPostJson(server->port(), "/push"_ba,
                     body(u"agent-push"_s, u"2025-01-01T00:00:00Z"_s, {{u"t"_s, 1}}, {u"f"_s}));
    const Instant after = nowInstant();
    VERIFY_STATUS(r, 200);
    QVERIFY(r.header("content-type").startsWith("application/json"));
    const QJsonObject o = r.object();
    QCOMPARE(o.value(u"status").toString(), u"accepted"_s);
    QCOMPARE(o.value(u"agent_id").toString(), u"agent-push"_s);
    QVERIFY2(o.value(u"message").toString().contains(u"agent-push"_s),
             qPrintable(o.value(u"message").toString()));
    // The time of receipt, UTC.
    const QString timestamp = o.value(u"timestamp").toString();
    QVERIFY2(timestamp.endsWith(u"+00:00"), qPrintable(timestamp));
    const auto received = parseIsoTimestamp(timestamp);
    QVERIFY(received);
    QVERIFY(*received >= before - 1000 && *received <= after + 1000);
}

// The push answer is written without QJsonDocument: byte for byte what QJsonDocument
// makes of the same object, agent ids that need escaping included.
void tst_Http::pushAnswerBytes()
{
    auto server = startServer();
    QVERIFY(server);
    const QList<QString> agents = {u"plain-agent"_s, u"quote\"back\\slash/"_s,
                                   u"tab\tnew\nline\x01\x1f"_s,
                                   u"caf\u00e9-\u65e5\u672c-\U0001F600"_s};
    for (const QString &agent : agents) {
        for (const char *timestamp : {"2025-01-01T00:00:00Z", "2024-01-01T00:00:00Z"}) {
            // The second push is older: the "unchanged" answer.
            const HttpResponse r =
                httpPostJson(server->port(), "/push"_ba,
                             body(agent, QString::fromLatin1(timestamp), {{u"t"_s, 1}}, {u"f"_s}));
            VERIFY_STATUS(r, 200);
            const QJsonObject o = r.object();
            QCOMPARE(o.value(u"agent_id").toString(), agent);
            QCOMPARE(r.body, QJsonDocument(o).toJson(QJsonDocument::Compact));
            const QString message = o.value(u"message").toString();
            if (timestamp[3] == '5')
                QCOMPARE(message, u"Summary from %1 stored successfully"_s.arg(agent));
            else
                QCOMPARE(message, u"Summary from %1 stored successfully; the merged view "
                                  u"already reflects a summary at least as new"_s.arg(agent));
            QCOMPARE(o.keys(),
                     QStringList({u"agent_id"_s, u"message"_s, u"status"_s, u"timestamp"_s}));
        }
    }
}

void tst_Http::pullAnswer()
{
    auto server = startServer();
    QVERIFY(server);
    const quint16 port = server->port();
    VERIFY_STATUS(httpPostJson(port, "/push"_ba,
                               body(u"agent-a"_s, u"2025-06-01T12:00:00+02:00"_s,
                                    {{u"semantic"_s, 2}, {u"episodic"_s, 1}},
                                    {u"zeta"_s, u"Alpha"_s, u"beta"_s})),
                  200);
    VERIFY_STATUS(
        httpPostJson(port, "/push"_ba,
                     body(u"agent-b"_s, u"2025-06-01T09:30:00Z"_s,
                          {{u"semantic"_s, 5}, {u"procedural"_s, 0}}, {u"beta"_s, u"gamma"_s})),
        200);

    const HttpResponse r = httpGet(port, "/pull"_ba);
    VERIFY_STATUS(r, 200);
    QVERIFY(r.header("content-type").startsWith("application/json"));
    QVERIFY(!r.header("etag").isEmpty());
    bool ok = false;
    const QJsonObject o = r.json(&ok).object();
    QVERIFY(ok);

    const QJsonObject topics = o.value(u"merged_topic_counts").toObject();
    QCOMPARE(sortedKeys(topics), (QStringList{u"episodic"_s, u"procedural"_s, u"semantic"_s}));
    QCOMPARE(topics.value(u"semantic").toInteger(), 7);
    QCOMPARE(topics.value(u"episodic").toInteger(), 1);
    QCOMPARE(topics.value(u"procedural").toInteger(), 0);

    // Unique and sorted by code point (upper case first, as Python's sorted()).
    QStringList facts;
    for (const QJsonValue &v : o.value(u"unique_fact_hashes").toArray())
        facts.append(v.toString());
    QCOMPARE(facts, (QStringList{u"Alpha"_s, u"beta"_s, u"gamma"_s, u"zeta"_s}));

    QCOMPARE(o.value(u"contributing_agents").toInteger(), 2);
    // The newest instant (12:00+02:00 is 10:00 UTC, after 09:30 UTC), in UTC.
    QCOMPARE(o.value(u"last_updated").toString(), u"2025-06-01T10:00:00+00:00"_s);

    QVERIFY(o.value(u"metadata").isObject());
    const QJsonObject metadata = o.value(u"metadata").toObject();
    QCOMPARE(metadata.value(u"total_facts").toInteger(), 4);
    QCOMPARE(metadata.value(u"total_topics").toInteger(), 3);
    QCOMPARE(metadata.value(u"merge_mode").toString(), u"latest"_s);
}

void tst_Http::pullOfEmptyStore()
{
    auto server = startServer();
    QVERIFY(server);
    const HttpResponse r = httpGet(server->port(), "/pull"_ba);
    VERIFY_STATUS(r, 200);
    QVERIFY(!r.header("etag").isEmpty());
    const QJsonObject o = r.object();
    QVERIFY(o.value(u"merged_topic_counts").isObject());
    QVERIFY(o.value(u"merged_topic_counts").toObject().isEmpty());
    QVERIFY(o.value(u"unique_fact_hashes").isArray());
    QVERIFY(o.value(u"unique_fact_hashes").toArray().isEmpty());
    QCOMPARE(o.value(u"contributing_agents").toInteger(-1), 0);
    QVERIFY(o.contains(u"last_updated"));
    QVERIFY(o.value(u"last_updated").isNull());
    QVERIFY(o.value(u"metadata").isObject());
    const QJsonObject metadata = o.value(u"metadata").toObject();
    QCOMPARE(metadata.value(u"total_facts").toInteger(-1), 0);
    QCOMPARE(metadata.value(u"total_topics").toInteger(-1), 0);
}

void tst_Http::adminReset()
{
    auto server = startServer();
    QVERIFY(server);
    const quint16 port = server->port();
    seed(port);
    if (QTest::currentTestFailed())
        return;
    const HttpResponse before = httpGet(port, "/pull"_ba);
    VERIFY_STATUS(before, 200);
    QCOMPARE(before.object().value(u"contributing_agents").toInteger(), 2);

    const HttpResponse r = httpExchange(port, buildRequest("DELETE", "/admin/reset"));
    VERIFY_STATUS(r, 200);
    QCOMPARE(r.object().value(u"status").toString(), u"reset"_s);

    const HttpResponse after = httpGet(port, "/pull"_ba);
    VERIFY_STATUS(after, 200);
    const QJsonObject o = after.object();
    QVERIFY(o.value(u"merged_topic_counts").toObject().isEmpty());
    QVERIFY(o.value(u"unique_fact_hashes").toArray().isEmpty());
    QCOMPARE(o.value(u"contributing_agents").toInteger(-1), 0);
    QVERIFY(o.value(u"last_updated").isNull());
    QCOMPARE(o.value(u"metadata").toObject().value(u"total_facts").toInteger(-1), 0);
    // A cached pull from before the reset must not be confirmed.
    QVERIFY(after.header("etag") != before.header("etag"));
    const HttpResponse revalidate =
        httpGet(port, "/pull"_ba, {{"If-None-Match"_ba, before.header("etag")}});
    VERIFY_STATUS(revalidate, 200);

    const QJsonObject root = httpGet(port, "/"_ba).object();
    QCOMPARE(root.value(u"total_pushes").toInteger(-1), 0);
    QCOMPARE(root.value(u"total_agents").toInteger(-1), 0);

    // The store keeps working after a reset.
    VERIFY_STATUS(
        httpPostJson(port, "/push"_ba, body(u"late"_s, u"2025-01-01T00:00:00Z"_s, {{u"t"_s, 4}})),
        200);
    QCOMPARE(httpGet(port, "/pull"_ba).object().value(u"contributing_agents").toInteger(), 1);
}

void tst_Http::adminResetRefusedFromNetwork()
{
    // "A client from the network" without leaving 127.0.0.0/8: the server treats every
    // connection as coming from a documentation address (AccessConfig::simulatedPeer).
    TestServer server;
    server.config.access.simulatedPeer = QHostAddress(u"192.0.2.10"_s);
    QString error;
    QVERIFY2(server.start(&error), qPrintable(error));
    RawHttpClient client;
    QVERIFY(client.connectTo(server.port()));
    VERIFY_STATUS(client.request(buildJsonPost(
                      "/push", body(u"remote"_s, u"2025-01-01T00:00:00Z"_s, {{u"t"_s, 1}}))),
                  200);
    const HttpResponse before = client.request(buildRequest("GET", "/pull"));
    VERIFY_STATUS(before, 200);
    const HttpResponse r = client.request(buildRequest("DELETE", "/admin/reset"));
    VERIFY_STATUS(r, 403);
    QVERIFY(r.object().value(u"detail").isString());
    const HttpResponse agent = client.request(buildRequest("DELETE", "/agents/remote"));
    VERIFY_STATUS(agent, 403);
    QVERIFY(agent.object().value(u"detail").isString());
    const HttpResponse after = client.request(buildRequest("GET", "/pull"));
    VERIFY_STATUS(after, 200);
    QCOMPARE(after.body, before.body);
    QCOMPARE(after.header("etag"), before.header("etag"));
}

void tst_Http::headPull()
{
    const quint16 port = m_table->port();
    const HttpResponse get = httpGet(port, "/pull"_ba);
    VERIFY_STATUS(get, 200);

    // HEAD then GET on one connection: if the HEAD answer carried a body, the GET's
    // answer would not start where the parser expects a status line.
    RawHttpClient client;
    QVERIFY(client.connectTo(port));
    QVERIFY(client.send(buildRequest("HEAD", "/pull") + buildRequest("GET", "/health")));
    const HttpResponse head = client.readResponse(true);
    VERIFY_STATUS(head, 200);
    QCOMPARE(head.header("content-length"), QByteArray::number(get.body.size()));
    QCOMPARE(head.header("etag"), get.header("etag"));
    QVERIFY(head.header("content-type").startsWith("application/json"));
    QVERIFY(head.body.isEmpty());
    const HttpResponse next = client.readResponse();
    VERIFY_STATUS(next, 200);
    QCOMPARE(next.object().value(u"status").toString(), u"healthy"_s);
    QVERIFY(client.pending().isEmpty());
}

void tst_Http::unknownPathAndWrongMethod_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QByteArray>("path");
    QTest::addColumn<int>("status");
    QTest::addColumn<QByteArray>("allow");

    QTest::addRow("GET /nope") << "GET"_ba
                               << "/nope"_ba << 404 << QByteArray();
    QTest::addRow("POST /nope") << "POST"_ba
                                << "/nope"_ba << 404 << QByteArray();
    QTest::addRow("GET /pull/") << "GET"_ba
                                << "/pull/"_ba << 404 << QByteArray();
    QTest::addRow("GET /admin") << "GET"_ba
                                << "/admin"_ba << 404 << QByteArray();
    QTest::addRow("GET /push") << "GET"_ba
                               << "/push"_ba << 405 << "POST"_ba;
    QTest::addRow("PUT /push") << "PUT"_ba
                               << "/push"_ba << 405 << "POST"_ba;
    QTest::addRow("POST /pull") << "POST"_ba
                                << "/pull"_ba << 405 << "GET, HEAD"_ba;
    QTest::addRow("DELETE /pull") << "DELETE"_ba
                                  << "/pull"_ba << 405 << "GET, HEAD"_ba;
    QTest::addRow("POST /health") << "POST"_ba
                                  << "/health"_ba << 405 << "GET, HEAD"_ba;
    QTest::addRow("DELETE /") << "DELETE"_ba
                              << "/"_ba << 405 << "GET, HEAD"_ba;
    QTest::addRow("GET /admin/reset") << "GET"_ba
                                      << "/admin/reset"_ba << 405 << "DELETE"_ba;
    QTest::addRow("POST /admin/reset") << "POST"_ba
                                       << "/admin/reset"_ba << 405 << "DELETE"_ba;
}

void tst_Http::unknownPathAndWrongMethod()
{
    QFETCH(QByteArray, method);
    QFETCH(QByteArray, path);
    QFETCH(int, status);
    QFETCH(QByteArray, allow);

    const HttpResponse r = httpExchange(m_table->port(), buildRequest(method, path));
    VERIFY_STATUS(r, status);
    QVERIFY(r.header("content-type").startsWith("application/json"));
    bool ok = false;
    const QJsonObject o = r.json(&ok).object();
    QVERIFY(ok);
    QVERIFY(o.value(u"detail").isString());
    QVERIFY(!o.value(u"detail").toString().isEmpty());
    if (status == 405) {
        QVERIFY(r.hasHeader("allow"));
        QCOMPARE(tokens(r.header("allow")), tokens(allow));
    }
}

// ---------------------------------------------------------------------------------------
// The wire

void tst_Http::realClientPushByteExact()
{
    QFile file(QStringLiteral(AGMEM_TEST_DATA) + u"/client-push.http"_s);
    QVERIFY2(file.open(QIODevice::ReadOnly), qPrintable(file.fileName()));
    const QByteArray request = file.readAll();
    // The capture is what the client sent: headers, then exactly Content-Length bytes.
    const qsizetype headerEnd = request.indexOf("\r\n\r\n");
    QVERIFY(headerEnd > 0);
    QCOMPARE(request.size() - headerEnd - 4, 205);

    auto server = startServer();
    QVERIFY(server);
    RawHttpClient client;
    QVERIFY(client.connectTo(server->port()));
    const HttpResponse r = client.request(request);
    VERIFY_STATUS(r, 200);
    QCOMPARE(r.object().value(u"status").toString(), u"accepted"_s);
    QCOMPARE(r.object().value(u"agent_id").toString(), u"agent-84a09a3dceebdd8a"_s);
    QCOMPARE(r.header("connection").toLower(), "close"_ba);
    // Connection: close is honoured: the server hangs up after its answer.
    QVERIFY2(client.waitForDisconnected(2000), "the server kept the connection open");
    QVERIFY(client.pending().isEmpty());

    const HttpResponse pull = httpGet(server->port(), "/pull"_ba);
    VERIFY_STATUS(pull, 200);
    const QJsonObject o = pull.object();
    const QJsonObject topics = o.value(u"merged_topic_counts").toObject();
    QCOMPARE(sortedKeys(topics), (QStringList{u"episodic"_s, u"semantic"_s}));
    QCOMPARE(topics.value(u"episodic").toInteger(), 1);
    QCOMPARE(topics.value(u"semantic").toInteger(), 2);
    QCOMPARE(o.value(u"unique_fact_hashes").toArray(),
             (QJsonArray{u"Daily standup"_s, u"databases"_s, u"python"_s}));
    QCOMPARE(o.value(u"contributing_agents").toInteger(), 1);
    QCOMPARE(o.value(u"last_updated").toString(), u"2026-11-27T09:29:35.164165+00:00"_s);
}

void tst_Http::keepAlive()
{
    auto server = startServer();
    QVERIFY(server);
    RawHttpClient client;
    QVERIFY(client.connectTo(server->port()));

    HttpResponse r = client.request(
        buildJsonPost("/push", body(u"ka-1"_s, u"2025-01-01T00:00:00Z"_s, {{u"first"_s, 1}})));
    VERIFY_STATUS(r, 200);
    QCOMPARE(r.object().value(u"agent_id").toString(), u"ka-1"_s);
    QVERIFY(r.header("connection").toLower() != "close");

    r = client.request(buildRequest("GET", "/pull"));
    VERIFY_STATUS(r, 200);
    QCOMPARE(sortedKeys(r.object().value(u"merged_topic_counts").toObject()),
             QStringList{u"first"_s});

    r = client.request(
        buildJsonPost("/push", body(u"ka-2"_s, u"2025-01-01T00:00:00Z"_s, {{u"second"_s, 2}})));
    VERIFY_STATUS(r, 200);
    QCOMPARE(r.object().value(u"agent_id").toString(), u"ka-2"_s);

    r = client.request(buildRequest("GET", "/health"));
    VERIFY_STATUS(r, 200);
    QCOMPARE(r.object().value(u"status").toString(), u"healthy"_s);

    r = client.request(buildRequest("GET", "/pull"));
    VERIFY_STATUS(r, 200);
    QCOMPARE(r.object().value(u"contributing_agents").toInteger(), 2);
    QCOMPARE(client.socket().state(), QAbstractSocket::ConnectedState);
}

void tst_Http::pipelining()
{
    auto server = startServer();
    QVERIFY(server);
    RawHttpClient client;
    QVERIFY(client.connectTo(server->port()));

    // Three requests in one write(); the pull must see the push before it.
    const QByteArray three =
        buildJsonPost("/push", body(u"pipe-1"_s, u"2025-01-01T00:00:00Z"_s, {{u"piped"_s, 3}})) +
        buildRequest("GET", "/pull") + buildRequest("GET", "/health");
    QCOMPARE(client.socket().write(three), three.size());

    HttpResponse r = client.readResponse();
    VERIFY_STATUS(r, 200);
    QCOMPARE(r.object().value(u"status").toString(), u"accepted"_s);
    QCOMPARE(r.object().value(u"agent_id").toString(), u"pipe-1"_s);

    r = client.readResponse();
    VERIFY_STATUS(r, 200);
    QCOMPARE(r.object().value(u"merged_topic_counts").toObject().value(u"piped").toInteger(), 3);

    r = client.readResponse();
    VERIFY_STATUS(r, 200);
    QCOMPARE(r.object().value(u"status").toString(), u"healthy"_s);
    QVERIFY(client.pending().isEmpty());
}

void tst_Http::pipeliningWithRejectedPush()
{
    auto server = startServer();
    QVERIFY(server);
    RawHttpClient client;
    QVERIFY(client.connectTo(server->port()));

    // A rejected push is answered at once, an accepted one after its commit: the answers
    // must still leave in request order.
    const QByteArray four =
        buildJsonPost("/push", body(u"good-1"_s, u"2025-01-01T00:00:00Z"_s, {{u"a"_s, 1}})) +
        buildJsonPost("/push", R"({"summary": {"timestamp": "2025-01-01T00:00:00Z"}})"_ba) +
        buildJsonPost("/push", body(u"good-2"_s, u"2025-01-01T00:00:00Z"_s, {{u"a"_s, 2}})) +
        buildRequest("GET", "/pull");
    QVERIFY(client.send(four));

    HttpResponse r = client.readResponse();
    VERIFY_STATUS(r, 200);
    QCOMPARE(r.object().value(u"agent_id").toString(), u"good-1"_s);
    r = client.readResponse();
    VERIFY_STATUS(r, 422);
    r = client.readResponse();
    VERIFY_STATUS(r, 200);
    QCOMPARE(r.object().value(u"agent_id").toString(), u"good-2"_s);
    r = client.readResponse();
    VERIFY_STATUS(r, 200);
    QCOMPARE(r.object().value(u"merged_topic_counts").toObject().value(u"a").toInteger(), 3);
    QCOMPARE(r.object().value(u"contributing_agents").toInteger(), 2);
}

void tst_Http::pipeliningWithOversizedPush()
{
    // An oversized push is refused before its body is read, and the connection closes;
    // the push before it on the same connection must still be answered, and first.
    TestServer server;
    server.config.limits.maxBodyBytes = 1024;
    QString error;
    QVERIFY2(server.start(&error), qPrintable(error));
    RawHttpClient client;
    QVERIFY(client.connectTo(server.port()));
    QStringList facts;
    for (int i = 0; i < 100; ++i)
        facts.append(u"fact-number-%1"_s.arg(i));
    const QByteArray large = body(u"too-big"_s, u"2025-01-01T00:00:00Z"_s, {{u"t"_s, 1}}, facts);
    QVERIFY(large.size() > 1024);
    QVERIFY(client.send(
        buildJsonPost("/push", body(u"small"_s, u"2025-01-01T00:00:00Z"_s, {{u"t"_s, 1}})) +
        buildJsonPost("/push", large)));

    HttpResponse r = client.readResponse();
    QVERIFY2(r.valid, qPrintable(r.error));
    QCOMPARE(r.status, 200);
    QCOMPARE(r.object().value(u"agent_id").toString(), u"small"_s);
    r = client.readResponse();
    VERIFY_STATUS(r, 413);
    QVERIFY(client.waitForDisconnected(2000));
    QCOMPARE(httpGet(server.port(), "/pull"_ba).object().value(u"contributing_agents").toInteger(),
             1);
}

// ---------------------------------------------------------------------------------------
// Input

void tst_Http::badInput_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QByteArray>("path");
    QTest::addColumn<QByteArray>("contentType"); // empty: no Content-Type header
    QTest::addColumn<QByteArray>("requestBody");
    QTest::addColumn<bool>("smallLimit"); // against the server with --max-body 1024
    QTest::addColumn<int>("status");
    QTest::addColumn<QStringList>("locs"); // 422: every offending field, "*" any part
    QTest::addColumn<QString>("detail");   // string details checked exactly when given

    const QByteArray json = "application/json"_ba;
    const QString badTimestamp = u"Invalid timestamp format (expected ISO 8601)"_s;
    const auto post = [&](const char *name, const QByteArray &payload, int status,
                          const QStringList &locs = {}, const QString &detail = {}) {
        QTest::addRow("%s", name) << "POST"_ba
                                  << "/push"_ba << json << payload << false << status << locs
                                  << detail;
    };
    const auto withTopics = [](const QByteArray &topics) -> QByteArray {
        return R"({"summary": {"agent_id": "bad", "timestamp": "2025-03-01T00:00:00Z", "topic_counts": )"_ba +
               topics + R"(, "fact_hashes": ["x"]}})"_ba;
    };
    const auto withAgent = [](const QByteArray &agent) -> QByteArray {
        return R"({"summary": {"agent_id": )"_ba + agent +
               R"(, "timestamp": "2025-03-01T00:00:00Z", "topic_counts": {"t": 1}}})"_ba;
    };
    const auto withTimestamp = [](const QByteArray &timestamp) -> QByteArray {
        return R"({"summary": {"agent_id": "bad", "timestamp": )"_ba + timestamp +
               R"(, "topic_counts": {"t": 1}}})"_ba;
    };

    post("malformed JSON", R"({"summary": {"agent_id": "a", )"_ba, 422, {u"body.*"_s});
    post("empty body", QByteArray(), 422, {u"body"_s});
    post("whitespace body", " \r\n "_ba, 422, {u"body"_s});
    post("null", "null"_ba, 422, {u"body"_s}); // as FastAPI: a null body is a missing body
    post("array body", "[]"_ba, 422, {u"body.summary"_s});
    post("missing envelope",
         R"({"agent_id": "bad", "timestamp": "2025-03-01T00:00:00Z", "topic_counts": {"t": 1}})"_ba,
         422, {u"body.summary"_s});
    post("summary null", R"({"summary": null})"_ba, 422, {u"body.summary"_s});
    post("summary a string", R"({"summary": "yes"})"_ba, 422, {u"body.summary"_s});
    post("missing agent_id",
         R"({"summary": {"timestamp": "2025-03-01T00:00:00Z", "topic_counts": {"t": 1}}})"_ba, 422,
         {u"body.summary.agent_id"_s});
    post("missing timestamp", R"({"summary": {"agent_id": "bad", "topic_counts": {"t": 1}}})"_ba,
         422, {u"body.summary.timestamp"_s});
    post("missing agent_id and timestamp", R"({"summary": {"topic_counts": {"t": 1}}})"_ba, 422,
         {u"body.summary.agent_id"_s, u"body.summary.timestamp"_s});
    post("timestamp yesterday", withTimestamp(R"("yesterday")"_ba), 400, {}, badTimestamp);
    post("timestamp empty", withTimestamp(R"("")"_ba), 400, {}, badTimestamp);
    post("timestamp month 13", withTimestamp(R"("2025-13-01T00:00:00")"_ba), 400, {}, badTimestamp);
    post("count a string", withTopics(R"({"t": "5"})"_ba), 422, {u"body.summary.topic_counts.t"_s});
    post("count true", withTopics(R"({"t": true})"_ba), 422, {u"body.summary.topic_counts.t"_s});
    post("count 5.7", withTopics(R"({"t": 5.7})"_ba), 422, {u"body.summary.topic_counts.t"_s});
    post("count -3", withTopics(R"({"t": -3})"_ba), 422, {u"body.summary.topic_counts.t"_s});
    post("count 2**64", withTopics(R"({"t": 18446744073709551616})"_ba), 422,
         {u"body.summary.topic_counts.t"_s});
    post("count null", withTopics(R"({"ok": 1, "t": null})"_ba), 422,
         {u"body.summary.topic_counts.t"_s});
    post("topic_counts an array", withTopics("[]"_ba), 422, {u"body.summary.topic_counts"_s});
    post("agent_id 123", withAgent("123"_ba), 422, {u"body.summary.agent_id"_s});
    post("agent_id empty", withAgent(R"("")"_ba), 422, {u"body.summary.agent_id"_s});
    post(
        "fact_hashes [1, 2]",
        R"({"summary": {"agent_id": "bad", "timestamp": "2025-03-01T00:00:00Z", "fact_hashes": [1, 2]}})"_ba,
        422, {u"body.summary.fact_hashes.0"_s, u"body.summary.fact_hashes.1"_s});
    post(
        "every bad field listed",
        R"({"summary": {"agent_id": 7, "topic_counts": {"good": 1, "bad": "5"}, "fact_hashes": ["ok", 2]}})"_ba,
        422,
        {u"body.summary.agent_id"_s, u"body.summary.timestamp"_s,
         u"body.summary.topic_counts.bad"_s, u"body.summary.fact_hashes.1"_s});
    // seed-huge holds 2^63-1 of "huge": one more overflows the merged count.
    post(
        "overflowing merged count",
        R"({"summary": {"agent_id": "other", "timestamp": "2025-03-01T00:00:00Z", "topic_counts": {"huge": 1}}})"_ba,
        422, {u"body.summary.topic_counts.huge"_s});
    post(
        "non-UTF-8 body",
        "{\"summary\": {\"agent_id\": \"bad\xff\xfe\", \"timestamp\": \"2025-03-01T00:00:00Z\"}}"_ba,
        400, {}, u"Request body is not valid UTF-8"_s);

    // Large bodies must not be echoed back.
    post("200 KB malformed body",
         R"({"summary": {"agent_id": ")"_ba + QByteArray(200 * 1024, 'x') + R"(", "timest)"_ba, 422,
         {u"body.*"_s});
    post("200 KB agent_id", withAgent('"' + QByteArray(200 * 1024, 'y') + '"'), 422,
         {u"body.summary.agent_id"_s});

    QTest::addRow("text/plain") << "POST"_ba
                                << "/push"_ba
                                << "text/plain"_ba
                                << body(u"bad"_s, u"2025-03-01T00:00:00Z"_s, {{u"t"_s, 1}}) << false
                                << 415 << QStringList() << QString();
    QTest::addRow("form encoded") << "POST"_ba
                                  << "/push"_ba
                                  << "application/x-www-form-urlencoded"_ba
                                  << "summary=1"_ba << false << 415 << QStringList() << QString();
    // What a web page can send without a CORS preflight (a Blob body): not JSON either.
    QTest::addRow("no Content-Type")
        << "POST"_ba
        << "/push"_ba << QByteArray() << body(u"bad"_s, u"2025-03-01T00:00:00Z"_s, {{u"t"_s, 1}})
        << false << 415 << QStringList() << QString();
    QStringList manyFacts;
    for (int i = 0; i < 100; ++i)
        manyFacts.append(u"fact-number-%1"_s.arg(i));
    const QByteArray large = body(u"bad"_s, u"2025-03-01T00:00:00Z"_s, {{u"t"_s, 1}}, manyFacts);
    QVERIFY(large.size() > 1024);
    QTest::addRow("over max-body")
        << "POST"_ba
        << "/push"_ba << json << large << true << 413 << QStringList() << QString();
    QTest::addRow("GET /push") << "GET"_ba
                               << "/push"_ba << QByteArray() << QByteArray() << false << 405
                               << QStringList() << QString();
    QTest::addRow("PUT /push") << "PUT"_ba
                               << "/push"_ba << json
                               << body(u"bad"_s, u"2025-03-01T00:00:00Z"_s, {{u"t"_s, 1}}) << false
                               << 405 << QStringList() << QString();
    QTest::addRow("POST /pull") << "POST"_ba
                                << "/pull"_ba << json
                                << body(u"bad"_s, u"2025-03-01T00:00:00Z"_s, {{u"t"_s, 1}}) << false
                                << 405 << QStringList() << QString();
    QTest::addRow("POST /pushes") << "POST"_ba
                                  << "/pushes"_ba << json
                                  << body(u"bad"_s, u"2025-03-01T00:00:00Z"_s, {{u"t"_s, 1}})
                                  << false << 404 << QStringList() << QString();
    QTest::addRow("GET /unknown") << "GET"_ba
                                  << "/unknown"_ba << QByteArray() << QByteArray() << false << 404
                                  << QStringList() << QString();
}

void tst_Http::badInput()
{
    QFETCH(QByteArray, method);
    QFETCH(QByteArray, path);
    QFETCH(QByteArray, contentType);
    QFETCH(QByteArray, requestBody);
    QFETCH(bool, smallLimit);
    QFETCH(int, status);
    QFETCH(QStringList, locs);
    QFETCH(QString, detail);

    const quint16 port = (smallLimit ? m_small : m_table)->port();
    const HttpResponse before = httpGet(port, "/pull"_ba);
    VERIFY_STATUS(before, 200);
    const QJsonObject rootBefore = httpGet(port, "/"_ba).object();

    RawHeaders headers;
    if (!contentType.isEmpty())
        headers.append({"Content-Type"_ba, contentType});
    const HttpResponse r = httpExchange(port, buildRequest(method, path, requestBody, headers));
    VERIFY_STATUS(r, status);
    QVERIFY(r.header("content-type").startsWith("application/json"));
    bool ok = false;
    const QJsonObject o = r.json(&ok).object();
    QVERIFY2(ok, r.body.left(200).constData());
    QVERIFY(o.contains(u"detail"));
    // Never an echo of the request.
    QVERIFY2(r.headerBytes + r.body.size() < 2048,
             qPrintable(u"%1 bytes of answer"_s.arg(r.headerBytes + r.body.size())));

    if (status == 422) {
        QVERIFY(o.value(u"detail").isArray());
        QStringList actual;
        for (const QJsonValue &error : o.value(u"detail").toArray()) {
            const QJsonObject e = error.toObject();
            QVERIFY(e.value(u"loc").isArray());
            QVERIFY(!e.value(u"msg").toString().isEmpty());
            QVERIFY(!e.value(u"type").toString().isEmpty());
            actual.append(dottedLoc(e.value(u"loc").toArray()));
        }
        QVERIFY2(actual.size() == locs.size(),
                 qPrintable(u"locs %1, expected %2"_s.arg(actual.join(u", "), locs.join(u", "))));
        for (const QString &expected : locs) {
            const bool found = std::any_of(actual.cbegin(), actual.cend(), [&](const QString &a) {
                return locMatches(expected, a);
            });
            QVERIFY2(found,
                     qPrintable(u"no error at %1 in %2"_s.arg(expected, actual.join(u", "))));
        }
    } else {
        QVERIFY(o.value(u"detail").isString());
        QVERIFY(!o.value(u"detail").toString().isEmpty());
        if (!detail.isEmpty())
            QCOMPARE(o.value(u"detail").toString(), detail);
    }
    if (status == 405)
        QVERIFY(!r.header("allow").isEmpty());

    // The store is untouched: same merged view, same ETag, no push counted.
    const HttpResponse after = httpGet(port, "/pull"_ba);
    VERIFY_STATUS(after, 200);
    QCOMPARE(after.body, before.body);
    QCOMPARE(after.header("etag"), before.header("etag"));
    const QJsonObject rootAfter = httpGet(port, "/"_ba).object();
    QCOMPARE(rootAfter.value(u"total_pushes").toInteger(-1),
             rootBefore.value(u"total_pushes").toInteger(-2));
    QCOMPARE(rootAfter.value(u"total_agents").toInteger(-1),
             rootBefore.value(u"total_agents").toInteger(-2));
}

void tst_Http::acceptedInput_data()
{
    QTest::addColumn<QByteArray>("contentType"); // empty: no Content-Type header
    QTest::addColumn<QByteArray>("requestBody");
    QTest::addColumn<QString>("lastUpdated");
    QTest::addColumn<QByteArray>("topics"); // the expected merged_topic_counts, as JSON
    QTest::addColumn<QStringList>("facts");

    const QByteArray json = "application/json"_ba;
    const auto withTimestamp = [](const char *timestamp) -> QByteArray {
        return R"({"summary": {"agent_id": "ok", "timestamp": ")"_ba + timestamp +
               R"(", "topic_counts": {"t": 1}, "fact_hashes": ["f"]}})"_ba;
    };
    const QString midnight = u"2025-01-01T00:00:00+00:00"_s;
    const QStringList f{u"f"_s};

    QTest::addRow("date only") << json << withTimestamp("2025-01-01") << midnight
                               << R"({"t": 1})"_ba << f;
    QTest::addRow("Z suffix") << json << withTimestamp("2025-01-01T00:00:00Z") << midnight
                              << R"({"t": 1})"_ba << f;
    QTest::addRow("space separator")
        << json << withTimestamp("2025-01-01 00:00:00") << midnight << R"({"t": 1})"_ba << f;
    QTest::addRow("basic format") << json << withTimestamp("20250101T000000Z") << midnight
                                  << R"({"t": 1})"_ba << f;
    QTest::addRow("offset to UTC")
        << json << withTimestamp("2025-01-01T02:30:00+02:30") << midnight << R"({"t": 1})"_ba << f;
    QTest::addRow("fraction") << json << withTimestamp("2025-01-01T00:00:00.5Z")
                              << u"2025-01-01T00:00:00.500000+00:00"_s << R"({"t": 1})"_ba << f;
    QTest::addRow("missing topic_counts")
        << json
        << R"({"summary": {"agent_id": "ok", "timestamp": "2025-01-01T00:00:00Z", "fact_hashes": ["f"]}})"_ba
        << midnight << "{}"_ba << f;
    QTest::addRow("missing fact_hashes")
        << json
        << R"({"summary": {"agent_id": "ok", "timestamp": "2025-01-01T00:00:00Z", "topic_counts": {"t": 1}}})"_ba
        << midnight << R"({"t": 1})"_ba << QStringList();
    QTest::addRow("unknown fields ignored")
        << json
        << R"({"summary": {"agent_id": "ok", "timestamp": "2025-01-01T00:00:00Z", "topic_counts": {"t": 1}, "fact_hashes": ["f"], "extra": [1, {"a": null}]}, "also": true})"_ba
        << midnight << R"({"t": 1})"_ba << f;
    QTest::addRow("metadata and memory_types")
        << json
        << R"({"summary": {"agent_id": "ok", "timestamp": "2025-01-01T00:00:00Z", "topic_counts": {"t": 1}, "fact_hashes": ["f"], "metadata": {"host": "x", "n": 2}, "memory_types": ["episodic"]}})"_ba
        << midnight << R"({"t": 1})"_ba << f;
    QTest::addRow("duplicate facts")
        << json
        << R"({"summary": {"agent_id": "ok", "timestamp": "2025-01-01T00:00:00Z", "fact_hashes": ["f", "g", "f"]}})"_ba
        << midnight << "{}"_ba << QStringList{u"f"_s, u"g"_s};
    QTest::addRow("charset parameter")
        << "application/json; charset=utf-8"_ba << withTimestamp("2025-01-01T00:00:00Z") << midnight
        << R"({"t": 1})"_ba << f;
    QTest::addRow("+json media type")
        << "application/vnd.agmem+json"_ba << withTimestamp("2025-01-01T00:00:00Z") << midnight
        << R"({"t": 1})"_ba << f;
    QTest::addRow("non-ASCII labels")
        << json
        << R"({"summary": {"agent_id": "agent-é", "timestamp": "2025-01-01T00:00:00Z", "topic_counts": {"日本": 2}, "fact_hashes": ["ü", "😀"]}})"_ba
        << midnight << R"({"日本": 2})"_ba << QStringList{u"ü"_s, u"😀"_s};
}

void tst_Http::acceptedInput()
{
    QFETCH(QByteArray, contentType);
    QFETCH(QByteArray, requestBody);
    QFETCH(QString, lastUpdated);
    QFETCH(QByteArray, topics);
    QFETCH(QStringList, facts);

    // One server for every row, emptied before each (a database per row is slow on
    // PostgreSQL).
    if (!m_accepted)
        m_accepted = startServer();
    QVERIFY(m_accepted);
    const quint16 port = m_accepted->port();
    VERIFY_STATUS(httpExchange(port, buildRequest("DELETE", "/admin/reset")), 200);
    const HttpResponse before = httpGet(port, "/pull"_ba);
    VERIFY_STATUS(before, 200);
    QCOMPARE(before.object().value(u"contributing_agents").toInteger(-1), 0);

    RawHeaders headers;
    if (!contentType.isEmpty())
        headers.append({"Content-Type"_ba, contentType});
    const HttpResponse r = httpExchange(port, buildRequest("POST", "/push", requestBody, headers));
    VERIFY_STATUS(r, 200);
    QCOMPARE(r.object().value(u"status").toString(), u"accepted"_s);

    const HttpResponse after = httpGet(port, "/pull"_ba);
    VERIFY_STATUS(after, 200);
    QVERIFY(after.header("etag") != before.header("etag"));
    const QJsonObject o = after.object();
    QCOMPARE(o.value(u"contributing_agents").toInteger(), 1);
    QCOMPARE(o.value(u"last_updated").toString(), lastUpdated);
    QCOMPARE(o.value(u"merged_topic_counts").toObject(), QJsonDocument::fromJson(topics).object());
    QStringList actualFacts;
    for (const QJsonValue &v : o.value(u"unique_fact_hashes").toArray())
        actualFacts.append(v.toString());
    QCOMPARE(actualFacts, facts);
}

// ---------------------------------------------------------------------------------------
// Merge and caching

void tst_Http::repeatedPushCountedOnce()
{
    auto server = startServer();
    QVERIFY(server);
    const quint16 port = server->port();
    const QByteArray s = body(u"repeat"_s, u"2025-02-01T00:00:00Z"_s,
                              {{u"episodic"_s, 4}, {u"semantic"_s, 2}}, {u"a"_s, u"b"_s});
    VERIFY_STATUS(httpPostJson(port, "/push"_ba, s), 200);
    const HttpResponse first = httpGet(port, "/pull"_ba);
    VERIFY_STATUS(first, 200);

    const HttpResponse again = httpPostJson(port, "/push"_ba, s);
    VERIFY_STATUS(again, 200);
    QCOMPARE(again.object().value(u"status").toString(), u"accepted"_s);

    const HttpResponse second = httpGet(port, "/pull"_ba);
    VERIFY_STATUS(second, 200);
    QCOMPARE(second.body, first.body);
    QCOMPARE(second.header("etag"), first.header("etag"));
    const QJsonObject topics = second.object().value(u"merged_topic_counts").toObject();
    QCOMPARE(topics.value(u"episodic").toInteger(), 4);
    QCOMPARE(topics.value(u"semantic").toInteger(), 2);
    QCOMPARE(second.object().value(u"contributing_agents").toInteger(), 1);
    // Both pushes are in the history.
    QCOMPARE(httpGet(port, "/"_ba).object().value(u"total_pushes").toInteger(), 2);
}

void tst_Http::olderPushAfterNewerChangesNothing()
{
    auto server = startServer();
    QVERIFY(server);
    const quint16 port = server->port();
    VERIFY_STATUS(
        httpPostJson(port, "/push"_ba,
                     body(u"agent"_s, u"2025-02-02T00:00:00Z"_s, {{u"new"_s, 5}}, {u"new-fact"_s})),
        200);
    const HttpResponse before = httpGet(port, "/pull"_ba);
    VERIFY_STATUS(before, 200);

    const HttpResponse older = httpPostJson(port, "/push"_ba,
                                            body(u"agent"_s, u"2025-02-01T00:00:00Z"_s,
                                                 {{u"old"_s, 9}, {u"new"_s, 1}}, {u"old-fact"_s}));
    VERIFY_STATUS(older, 200);

    const HttpResponse after = httpGet(port, "/pull"_ba);
    VERIFY_STATUS(after, 200);
    QCOMPARE(after.body, before.body);
    QCOMPARE(after.header("etag"), before.header("etag"));
    QCOMPARE(after.object().value(u"merged_topic_counts").toObject(), (QJsonObject{{u"new"_s, 5}}));
    QCOMPARE(after.object().value(u"last_updated").toString(), u"2025-02-02T00:00:00+00:00"_s);
    QCOMPARE(httpGet(port, "/"_ba).object().value(u"total_pushes").toInteger(), 2);
}

void tst_Http::outOfOrderPushes()
{
    auto server = startServer();
    QVERIFY(server);
    const quint16 port = server->port();
    const auto push = [&](const QString &agent, const QString &timestamp, const QJsonObject &t,
                          const QStringList &f) {
        return httpPostJson(port, "/push"_ba, body(agent, timestamp, t, f));
    };
    // Agent A arrives as t1, t3, t2; agent B at t2. A's t3 summary wins, and its topics
    // replace (not add to) those of its t1 summary.
    VERIFY_STATUS(
        push(u"A"_s, u"2025-05-01T01:00:00Z"_s, {{u"only-t1"_s, 7}, {u"shared"_s, 1}}, {u"t1"_s}),
        200);
    VERIFY_STATUS(push(u"A"_s, u"2025-05-01T03:00:00Z"_s, {{u"shared"_s, 3}}, {u"t3"_s}), 200);
    VERIFY_STATUS(
        push(u"A"_s, u"2025-05-01T02:00:00Z"_s, {{u"shared"_s, 2}, {u"only-t2"_s, 2}}, {u"t2"_s}),
        200);
    VERIFY_STATUS(push(u"B"_s, u"2025-05-01T02:00:00Z"_s, {{u"shared"_s, 10}}, {u"b"_s}), 200);

    const HttpResponse r = httpGet(port, "/pull"_ba);
    VERIFY_STATUS(r, 200);
    const QJsonObject o = r.object();
    QCOMPARE(o.value(u"merged_topic_counts").toObject(), (QJsonObject{{u"shared"_s, 13}}));
    QCOMPARE(o.value(u"unique_fact_hashes").toArray(), (QJsonArray{u"b"_s, u"t3"_s}));
    QCOMPARE(o.value(u"contributing_agents").toInteger(), 2);
    QCOMPARE(o.value(u"last_updated").toString(), u"2025-05-01T03:00:00+00:00"_s);
}

void tst_Http::cumulativeModeSumsEveryPush()
{
    auto server = startServer(MergeMode::Cumulative);
    QVERIFY(server);
    const quint16 port = server->port();
    const QByteArray s = body(u"cumulative"_s, u"2025-02-01T00:00:00Z"_s,
                              {{u"episodic"_s, 4}, {u"semantic"_s, 1}}, {u"a"_s, u"b"_s});
    VERIFY_STATUS(httpPostJson(port, "/push"_ba, s), 200);
    const HttpResponse once = httpGet(port, "/pull"_ba);
    VERIFY_STATUS(once, 200);
    VERIFY_STATUS(httpPostJson(port, "/push"_ba, s), 200);

    const HttpResponse r = httpGet(port, "/pull"_ba);
    VERIFY_STATUS(r, 200);
    QVERIFY(r.header("etag") != once.header("etag"));
    const QJsonObject o = r.object();
    QCOMPARE(o.value(u"merged_topic_counts").toObject(),
             (QJsonObject{{u"episodic"_s, 8}, {u"semantic"_s, 2}}));
    QCOMPARE(o.value(u"unique_fact_hashes").toArray(), (QJsonArray{u"a"_s, u"b"_s}));
    QCOMPARE(o.value(u"contributing_agents").toInteger(), 1);
    QCOMPARE(o.value(u"metadata").toObject().value(u"merge_mode").toString(), u"cumulative"_s);

    // The latest-mode coordinator counts the same two pushes once.
    auto latest = startServer(MergeMode::Latest);
    QVERIFY(latest);
    VERIFY_STATUS(httpPostJson(latest->port(), "/push"_ba, s), 200);
    VERIFY_STATUS(httpPostJson(latest->port(), "/push"_ba, s), 200);
    QCOMPARE(httpGet(latest->port(), "/pull"_ba)
                 .object()
                 .value(u"merged_topic_counts")
                 .toObject()
                 .value(u"episodic")
                 .toInteger(),
             4);
}

void tst_Http::etagAndConditionalGet()
{
    auto server = startServer();
    QVERIFY(server);
    const quint16 port = server->port();

    const HttpResponse empty = httpGet(port, "/pull"_ba);
    VERIFY_STATUS(empty, 200);
    const QByteArray etag0 = empty.header("etag");
    QVERIFY(!etag0.isEmpty());

    const QByteArray s = body(u"tagged"_s, u"2025-02-01T00:00:00Z"_s, {{u"t"_s, 1}});
    VERIFY_STATUS(httpPostJson(port, "/push"_ba, s), 200);
    const HttpResponse changed = httpGet(port, "/pull"_ba);
    VERIFY_STATUS(changed, 200);
    const QByteArray etag1 = changed.header("etag");
    QVERIFY(etag1 != etag0);

    // A push that changes nothing keeps the tag.
    VERIFY_STATUS(httpPostJson(port, "/push"_ba, s), 200);
    const HttpResponse same = httpGet(port, "/pull"_ba);
    VERIFY_STATUS(same, 200);
    QCOMPARE(same.header("etag"), etag1);

    // Revalidation on one connection: a 304 has no body, so the next answer parses.
    RawHttpClient client;
    QVERIFY(client.connectTo(port));
    HttpResponse r =
        client.request(buildRequest("GET", "/pull", {}, {{"If-None-Match"_ba, etag1}}));
    VERIFY_STATUS(r, 304);
    QVERIFY(r.body.isEmpty());
    QCOMPARE(r.header("etag"), etag1);
    r = client.request(buildRequest("GET", "/pull", {}, {{"If-None-Match"_ba, "W/"_ba + etag1}}));
    VERIFY_STATUS(r, 304);
    r = client.request(
        buildRequest("GET", "/pull", {}, {{"If-None-Match"_ba, etag0 + ", "_ba + etag1}}));
    VERIFY_STATUS(r, 304);
    r = client.request(buildRequest("GET", "/pull", {}, {{"If-None-Match"_ba, etag0}}));
    VERIFY_STATUS(r, 200);
    QCOMPARE(r.body, changed.body);
    QCOMPARE(r.header("etag"), etag1);
    QVERIFY(client.pending().isEmpty());

    // A merge-changing push invalidates the tag.
    VERIFY_STATUS(
        httpPostJson(port, "/push"_ba, body(u"tagged"_s, u"2025-02-02T00:00:00Z"_s, {{u"t"_s, 2}})),
        200);
    r = client.request(buildRequest("GET", "/pull", {}, {{"If-None-Match"_ba, etag1}}));
    VERIFY_STATUS(r, 200);
    QVERIFY(r.header("etag") != etag1);
    QVERIFY(r.header("etag") != etag0);
    QCOMPARE(r.object().value(u"merged_topic_counts").toObject().value(u"t").toInteger(), 2);
}

// ---------------------------------------------------------------------------------------
// Load, durability, misbehaving clients

void tst_Http::concurrentPushes()
{
    constexpr int Sockets = 16;
    constexpr int PerSocket = 25;
    constexpr int Buckets = 5;

    auto server = startServer();
    QVERIFY(server);
    const quint16 port = server->port();

    std::vector<std::unique_ptr<RawHttpClient>> clients;
    for (int s = 0; s < Sockets; ++s) {
        clients.push_back(std::make_unique<RawHttpClient>());
        QVERIFY(clients.back()->connectTo(port));
    }
    const auto agentId = [](int s, int i) { return u"agent-%1-%2"_s.arg(s).arg(i); };

    // Write everything on every socket first, then read every answer.
    for (int s = 0; s < Sockets; ++s) {
        for (int i = 0; i < PerSocket; ++i) {
            const QByteArray request = buildJsonPost(
                "/push",
                body(
                    agentId(s, i),
                    u"2025-04-01T00:%1:%2Z"_s.arg(s, 2, 10, QChar(u'0')).arg(i, 2, 10, QChar(u'0')),
                    {{u"shared"_s, 1}, {u"bucket-%1"_s.arg(i % Buckets), s + 1}},
                    {u"common"_s, u"fact-%1-%2"_s.arg(s).arg(i)}));
            QCOMPARE(clients[s]->socket().write(request), request.size());
        }
    }
    for (int s = 0; s < Sockets; ++s)
        clients[s]->socket().flush();
    for (int s = 0; s < Sockets; ++s) {
        for (int i = 0; i < PerSocket; ++i) {
            const HttpResponse r = clients[s]->readResponse();
            VERIFY_STATUS(r, 200);
            QCOMPARE(r.object().value(u"agent_id").toString(), agentId(s, i));
        }
    }

    const HttpResponse pull = httpGet(port, "/pull"_ba);
    VERIFY_STATUS(pull, 200);
    const QJsonObject o = pull.object();
    QCOMPARE(o.value(u"contributing_agents").toInteger(), Sockets * PerSocket);
    const QJsonObject topics = o.value(u"merged_topic_counts").toObject();
    QCOMPARE(topics.size(), 1 + Buckets);
    QCOMPARE(topics.value(u"shared").toInteger(), Sockets * PerSocket);
    // Each socket s puts s + 1 in every bucket PerSocket / Buckets times.
    const qint64 perBucket = qint64(PerSocket / Buckets) * (Sockets * (Sockets + 1) / 2);
    for (int b = 0; b < Buckets; ++b)
        QCOMPARE(topics.value(u"bucket-%1"_s.arg(b)).toInteger(), perBucket);
    QCOMPARE(o.value(u"unique_fact_hashes").toArray().size(), Sockets * PerSocket + 1);
    QCOMPARE(o.value(u"last_updated").toString(), u"2025-04-01T00:15:24+00:00"_s);

    const QJsonObject root = httpGet(port, "/"_ba).object();
    QCOMPARE(root.value(u"total_pushes").toInteger(), Sockets * PerSocket);
    QCOMPARE(root.value(u"total_agents").toInteger(), Sockets * PerSocket);
}

void tst_Http::durableAcrossRestart()
{
    TestServer server;
    QString error;
    QVERIFY2(server.start(&error), qPrintable(error));
    quint16 port = server.port();
    const auto push = [&](const QString &agent, const QString &timestamp, const QJsonObject &t,
                          const QStringList &f) {
        return httpPostJson(port, "/push"_ba, body(agent, timestamp, t, f));
    };
    VERIFY_STATUS(push(u"d1"_s, u"2025-07-01T00:00:00Z"_s, {{u"a"_s, 1}, {u"b"_s, 2}}, {u"x"_s}),
                  200);
    VERIFY_STATUS(
        push(u"d2"_s, u"2025-07-02T00:00:00.123456+05:00"_s, {{u"b"_s, 5}}, {u"x"_s, u"y"_s}), 200);
    VERIFY_STATUS(push(u"d1"_s, u"2025-07-03T00:00:00Z"_s, {{u"c"_s, 4}}, {u"z"_s}), 200);
    VERIFY_STATUS(push(u"d1"_s, u"2025-07-01T12:00:00Z"_s, {{u"stale"_s, 1}}, {}), 200);   // stale
    VERIFY_STATUS(push(u"d1"_s, u"2025-07-03T00:00:00Z"_s, {{u"c"_s, 4}}, {u"z"_s}), 200); // repeat

    const HttpResponse before = httpGet(port, "/pull"_ba);
    VERIFY_STATUS(before, 200);
    const QJsonObject rootBefore = httpGet(port, "/"_ba).object();
    QCOMPARE(rootBefore.value(u"total_pushes").toInteger(), 5);

    server.stop();
    QVERIFY2(server.start(&error), qPrintable(error));
    port = server.port();

    const HttpResponse after = httpGet(port, "/pull"_ba);
    VERIFY_STATUS(after, 200);
    QCOMPARE(after.body, before.body);
    QCOMPARE(after.header("etag"), before.header("etag"));
    QCOMPARE(after.object().value(u"merged_topic_counts").toObject(),
             (QJsonObject{{u"b"_s, 5}, {u"c"_s, 4}}));
    // A client's cached copy is still valid after the restart.
    VERIFY_STATUS(httpGet(port, "/pull"_ba, {{"If-None-Match"_ba, before.header("etag")}}), 304);
    const QJsonObject rootAfter = httpGet(port, "/"_ba).object();
    QCOMPARE(rootAfter.value(u"total_pushes").toInteger(), 5);
    QCOMPARE(rootAfter.value(u"total_agents").toInteger(), 2);

    // And merging continues from the restored state: the stale push stays stale.
    VERIFY_STATUS(push(u"d1"_s, u"2025-07-02T00:00:00Z"_s, {{u"stale"_s, 1}}, {}), 200);
    QCOMPARE(httpGet(port, "/pull"_ba).body, before.body);
}

void tst_Http::clientsThatDisconnectEarly()
{
    auto server = startServer();
    QVERIFY(server);
    const quint16 port = server->port();

    for (int i = 0; i < 20; ++i) {
        QTcpSocket socket;
        socket.connectToHost(QHostAddress::LocalHost, port);
        QVERIFY(socket.waitForConnected(5000));
        socket.write(buildJsonPost(
            "/push", body(u"gone-%1"_s.arg(i), u"2025-01-01T00:00:00Z"_s, {{u"t"_s, 1}})));
        socket.flush();
        socket.abort();
    }
    // Half a request, then gone.
    for (int i = 0; i < 5; ++i) {
        QTcpSocket socket;
        socket.connectToHost(QHostAddress::LocalHost, port);
        QVERIFY(socket.waitForConnected(5000));
        const QByteArray request = buildJsonPost(
            "/push", body(u"half-%1"_s.arg(i), u"2025-01-01T00:00:00Z"_s, {{u"t"_s, 1}}));
        socket.write(request.left(request.size() / 2));
        socket.flush();
        socket.abort();
    }

    const HttpResponse health = httpGet(port, "/health"_ba);
    VERIFY_STATUS(health, 200);
    QCOMPARE(health.object().value(u"status").toString(), u"healthy"_s);
    // Whatever was committed before the clients left is consistent; half requests never are.
    const HttpResponse pull = httpGet(port, "/pull"_ba);
    VERIFY_STATUS(pull, 200);
    const QJsonObject o = pull.object();
    const qint64 agents = o.value(u"contributing_agents").toInteger();
    QVERIFY(agents >= 0 && agents <= 20);
    QCOMPARE(o.value(u"merged_topic_counts").toObject().value(u"t").toInteger(), agents);
    VERIFY_STATUS(
        httpPostJson(port, "/push"_ba, body(u"after"_s, u"2025-01-01T00:00:00Z"_s, {{u"t"_s, 1}})),
        200);
}

void tst_Http::connectionEntriesEndWithTheirSockets()
{
    // The server keeps a connection's request queue as long as its socket: one entry per
    // open connection that sent a request, none once the connections are gone, however
    // they ended (closed after the answer, aborted with a push in flight, half a request).
    auto server = startServer();
    QVERIFY(server);
    const quint16 port = server->port();
    ServerController *controller = server->controller();
    QCOMPARE(controller->connectionEntries(), 0);

    std::vector<std::unique_ptr<RawHttpClient>> open;
    for (int i = 0; i < 3; ++i) {
        open.push_back(std::make_unique<RawHttpClient>());
        QVERIFY(open.back()->connectTo(port));
        QVERIFY(open.back()->send(buildJsonPost(
            "/push", body(u"kept-%1"_s.arg(i), u"2025-01-01T00:00:00Z"_s, {{u"t"_s, 1}}))));
        VERIFY_STATUS(open.back()->readResponse(), 200);
    }
    QCOMPARE(controller->connectionEntries(), 3); // alive with their sockets, between requests

    for (int i = 0; i < 60; ++i) {
        QTcpSocket socket;
        socket.connectToHost(QHostAddress::LocalHost, port);
        QVERIFY(socket.waitForConnected(5000));
        const QByteArray request = buildJsonPost(
            "/push", body(u"gone-%1"_s.arg(i), u"2025-01-01T00:00:00Z"_s, {{u"t"_s, 1}}));
        if (i % 3 == 0) { // answered, then closed by the client
            socket.write(request);
            QVERIFY(socket.waitForReadyRead(10000));
            socket.disconnectFromHost();
        } else if (i % 3 == 1) { // gone with its push in flight
            socket.write(request);
            socket.flush();
            socket.abort();
        } else { // gone with half a request
            socket.write(request.left(request.size() / 2));
            socket.flush();
            socket.abort();
        }
    }
    VERIFY_STATUS(httpGet(port, "/health"_ba), 200);
    QTRY_COMPARE_WITH_TIMEOUT(controller->connectionEntries(), 3, 10000);
    open.clear();
    QTRY_COMPARE_WITH_TIMEOUT(controller->connectionEntries(), 0, 10000);
}

QTEST_GUILESS_MAIN(tst_Http)
#include "tst_http.moc"
