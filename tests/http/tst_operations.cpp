// The operator's routes over real sockets: GET /agents (paging, order, bad parameters),
// GET /agents/{id} (history pages), DELETE /agents/{id} (merge, ETag, persistence), their
// scopes with API keys, GET /metrics (parsed and checked by promtool), /openapi.json against
// the router, /docs, gzip for /pull, and retention with a clock the test controls.

#include "ciskip.h"
#include "gzipsupport.h"
#include "testsupport.h"

#include "core/timestamp.h"
#include "server/coordinatorapi.h"
#include "server/operationsapi.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRegularExpression>
#include <QScopeGuard>
#include <QSemaphore>
#include <QSet>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTest>
#include <QThread>

using namespace agmem;
using namespace agmem::test;
using namespace Qt::StringLiterals;

namespace {

int push(quint16 port, const QString &agent, const QString &timestamp, const QJsonObject &topics,
         const QStringList &facts = {}, const RawHeaders &headers = {})
{
    RawHeaders h = headers;
    h.append({QByteArrayLiteral("Content-Type"), QByteArrayLiteral("application/json")});
    return httpExchange(
               port, buildRequest("POST", "/push", summaryBody(agent, timestamp, topics, facts), h))
        .status;
}

HttpResponse request(quint16 port, const QByteArray &method, const QByteArray &path,
                     const RawHeaders &headers = {})
{
    return httpExchange(port, buildRequest(method, path, {}, headers), method == "HEAD");
}

// Samples of a Prometheus text exposition: "name{labels}" -> value.
QHash<QString, double> parseMetrics(const QByteArray &text, QString *error)
{
    static const QRegularExpression sample(
        QStringLiteral("^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{(?:[a-zA-Z_][a-zA-Z0-9_]*=\"(?:[^\"\\\\]|"
                       "\\\\.)*\",?)*\\})? (\\S+)$"));
    QHash<QString, double> out;
    for (const QString &line : QString::fromUtf8(text).split(u'\n', Qt::SkipEmptyParts)) {
        if (line.startsWith(u"# HELP ") || line.startsWith(u"# TYPE "))
            continue;
        const auto m = sample.match(line);
        bool ok = false;
        const double value = m.captured(3) == u"+Inf" ? qInf() : m.captured(3).toDouble(&ok);
        if (!m.hasMatch() || (!ok && m.captured(3) != u"+Inf")) {
            *error = u"bad line: "_s + line;
            return {};
        }
        out.insert(m.captured(1) + m.captured(2), value);
    }
    return out;
}

QSet<QString> routeSet()
{
    QSet<QString> out;
    for (const CoordinatorApi::Route &r : CoordinatorApi::routes()) {
        for (const QByteArray &m : r.methods)
            out.insert(QString::fromLatin1(m).toLower() + u' ' + r.path);
    }
    return out;
}

} // namespace

class TestOperations : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void listAgents();
    void listAgentsBadParameters_data();
    void listAgentsBadParameters();
    void agentDetailAndHistoryPages();
    void deleteAgent();
    void scopesWithKeys();
    void methodsAndUnknownRoutes();
    void metrics();
    void metricsPassPromtool();
    void openApiMatchesRouter();
    void docsPage();
    void webDashboardFiles();
    void topicsAndFacts();
    void factSearchLeavesPushesAlone();
    void browseBadParameters_data();
    void browseBadParameters();
    void gzipPull();
    void largePullsPipelined();
    void retentionByAge();
    void retentionPerAgent();
    void agentExpiry();
    void retentionRunsInBackground();
    void jsonLogAndOptions();
};

void TestOperations::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
}

void TestOperations::listAgents()
{
    TestServer server;
    QVERIFY(server.start());
    const quint16 port = server.port();
    QCOMPARE(push(port, u"alpha"_s, u"2025-01-01T00:00:00Z"_s, {{u"t"_s, 1}}, {u"f1"_s}), 200);
    QThread::msleep(2);
    QCOMPARE(push(port, u"beta"_s, u"2025-01-01T00:00:00Z"_s, {{u"t"_s, 2}, {u"u"_s, 3}},
                  {u"f1"_s, u"f2"_s}),
             200);
    QThread::msleep(2);
    QCOMPARE(push(port, u"gamma"_s, u"2025-01-01T00:00:00Z"_s, {}), 200);
    QThread::msleep(2);
    // alpha pushes again: now the newest.
    QCOMPARE(push(port, u"alpha"_s, u"2025-01-02T00:00:00Z"_s, {{u"t"_s, 5}}), 200);

    const HttpResponse all = request(port, "GET", "/agents");
    VERIFY_STATUS(all, 200);
    const QJsonObject o = all.object();
    QCOMPARE(o.value(u"total").toInt(), 3);
    const QJsonArray agents = o.value(u"agents").toArray();
    QCOMPARE(agents.size(), 3);
    QCOMPARE(agents.at(0)[u"agent_id"].toString(), u"alpha"_s);
    QCOMPARE(agents.at(1)[u"agent_id"].toString(), u"gamma"_s);
    QCOMPARE(agents.at(2)[u"agent_id"].toString(), u"beta"_s);
    const QJsonObject alpha = agents.at(0).toObject();
    QCOMPARE(alpha[u"push_count"].toInt(), 2);
    QCOMPARE(alpha[u"topic_counts"].toObject(), (QJsonObject{{u"t"_s, 5}}));
    QCOMPARE(alpha[u"fact_count"].toInt(), 0);
    QVERIFY(alpha[u"first_seen"].toString().endsWith(u"+00:00"));
    QVERIFY(parseIsoTimestamp(alpha[u"last_seen"].toString()).has_value());
    QVERIFY(*parseIsoTimestamp(alpha[u"last_seen"].toString()) >
            *parseIsoTimestamp(alpha[u"first_seen"].toString()));
    QCOMPARE(agents.at(2)[u"fact_count"].toInt(), 2);
    QCOMPARE(agents.at(2)[u"topic_counts"].toObject(), (QJsonObject{{u"t"_s, 2}, {u"u"_s, 3}}));
    QVERIFY(o.value(u"next_offset").isNull());

    const HttpResponse first = request(port, "GET", "/agents?limit=2");
    VERIFY_STATUS(first, 200);
    QCOMPARE(first.object()[u"agents"].toArray().size(), 2);
    QCOMPARE(first.object()[u"next_offset"].toInt(), 2);
    const HttpResponse second = request(port, "GET", "/agents?limit=2&offset=2");
    VERIFY_STATUS(second, 200);
    QCOMPARE(second.object()[u"agents"].toArray().size(), 1);
    QCOMPARE(second.object()[u"agents"].toArray().at(0)[u"agent_id"].toString(), u"beta"_s);
    QVERIFY(second.object()[u"next_offset"].isNull());
    VERIFY_STATUS(request(port, "HEAD", "/agents"), 200);
}

void TestOperations::listAgentsBadParameters_data()
{
    QTest::addColumn<QByteArray>("path");
    QTest::addColumn<QString>("loc");
    QTest::addColumn<QString>("type");
    QTest::addRow("limit 0") << QByteArray("/agents?limit=0") << u"query.limit"_s
                             << u"value_error.number.not_ge"_s;
    QTest::addRow("limit 1001") << QByteArray("/agents?limit=1001") << u"query.limit"_s
                                << u"value_error.number.not_le"_s;
    QTest::addRow("limit abc") << QByteArray("/agents?limit=abc") << u"query.limit"_s
                               << u"type_error.integer"_s;
    QTest::addRow("offset -1") << QByteArray("/agents?offset=-1") << u"query.offset"_s
                               << u"value_error.number.not_ge"_s;
    QTest::addRow("detail before 0") << QByteArray("/agents/alpha?before=0") << u"query.before"_s
                                     << u"value_error.number.not_ge"_s;
    QTest::addRow("detail limit 2.5")
        << QByteArray("/agents/alpha?limit=2.5") << u"query.limit"_s << u"type_error.integer"_s;
}

void TestOperations::listAgentsBadParameters()
{
    QFETCH(QByteArray, path);
    QFETCH(QString, loc);
    QFETCH(QString, type);
    TestServer server;
    QVERIFY(server.start());
    QCOMPARE(push(server.port(), u"alpha"_s, u"2025-01-01T00:00:00Z"_s, {{u"t"_s, 1}}), 200);
    const HttpResponse r = request(server.port(), "GET", path);
    VERIFY_STATUS(r, 422);
    const QJsonArray detail = r.object()[u"detail"].toArray();
    QCOMPARE(detail.size(), 1);
    const QJsonArray l = detail.at(0)[u"loc"].toArray();
    QCOMPARE(l.at(0).toString() + u'.' + l.at(1).toString(), loc);
    QCOMPARE(detail.at(0)[u"type"].toString(), type);
    QVERIFY(!detail.at(0)[u"msg"].toString().isEmpty());
}

void TestOperations::agentDetailAndHistoryPages()
{
    TestServer server;
    QVERIFY(server.start());
    const quint16 port = server.port();
    // An agent id with a slash and a space, percent-encoded in the path.
    const QString agent = u"team/a b"_s;
    for (int day = 1; day <= 3; ++day) {
        QCOMPARE(push(port, agent, u"2025-01-0%1T00:00:00Z"_s.arg(day), {{u"t"_s, day}},
                      {u"f%1"_s.arg(day)}),
                 200);
    }
    QCOMPARE(push(port, u"other"_s, u"2025-01-01T00:00:00Z"_s, {{u"x"_s, 1}}), 200);

    const HttpResponse first = request(port, "GET", "/agents/team%2Fa%20b?limit=2");
    VERIFY_STATUS(first, 200);
    const QJsonObject o = first.object();
    const QJsonObject a = o[u"agent"].toObject();
    QCOMPARE(a[u"agent_id"].toString(), agent);
    QCOMPARE(a[u"push_count"].toInt(), 3);
    QCOMPARE(a[u"topic_counts"].toObject(), (QJsonObject{{u"t"_s, 3}}));
    QCOMPARE(a[u"fact_hashes"].toArray(), (QJsonArray{u"f3"_s}));
    QCOMPARE(a[u"timestamp"].toString(), u"2025-01-03T00:00:00+00:00"_s);
    const QJsonArray page1 = o[u"history"].toArray();
    QCOMPARE(page1.size(), 2);
    QCOMPARE(page1.at(0)[u"topic_counts"].toObject(), (QJsonObject{{u"t"_s, 3}}));
    QCOMPARE(page1.at(1)[u"topic_counts"].toObject(), (QJsonObject{{u"t"_s, 2}}));
    QCOMPARE(page1.at(1)[u"fact_hashes"].toArray(), (QJsonArray{u"f2"_s}));
    QVERIFY(page1.at(0)[u"id"].toInteger() > page1.at(1)[u"id"].toInteger());
    QVERIFY(parseIsoTimestamp(page1.at(0)[u"received_at"].toString()).has_value());
    const qint64 before = o[u"next_before"].toInteger();
    QCOMPARE(before, page1.at(1)[u"id"].toInteger());

    const HttpResponse second =
        request(port, "GET", "/agents/team%2Fa%20b?limit=2&before=" + QByteArray::number(before));
    VERIFY_STATUS(second, 200);
    const QJsonArray page2 = second.object()[u"history"].toArray();
    QCOMPARE(page2.size(), 1);
    QCOMPARE(page2.at(0)[u"topic_counts"].toObject(), (QJsonObject{{u"t"_s, 1}}));
    QVERIFY(second.object()[u"next_before"].isNull());

    const HttpResponse unknown = request(port, "GET", "/agents/nobody");
    VERIFY_STATUS(unknown, 404);
    QCOMPARE(unknown.object()[u"detail"].toString(), u"Agent not found"_s);
    VERIFY_STATUS(request(port, "GET", "/agents/"), 404);
}

void TestOperations::deleteAgent()
{
    TestServer server;
    QVERIFY(server.start());
    quint16 port = server.port();
    QCOMPARE(push(port, u"a"_s, u"2025-01-01T00:00:00Z"_s, {{u"t"_s, 1}, {u"only-a"_s, 4}},
                  {u"fa"_s, u"shared"_s}),
             200);
    QCOMPARE(push(port, u"a"_s, u"2025-01-02T00:00:00Z"_s, {{u"t"_s, 2}, {u"only-a"_s, 4}},
                  {u"fa"_s, u"shared"_s}),
             200);
    QCOMPARE(push(port, u"b"_s, u"2025-01-01T00:00:00Z"_s, {{u"t"_s, 10}}, {u"shared"_s}), 200);
    const HttpResponse before = request(port, "GET", "/pull");
    VERIFY_STATUS(before, 200);
    QCOMPARE(before.object()[u"merged_topic_counts"].toObject()[u"t"].toInt(), 12);

    const HttpResponse deleted = request(port, "DELETE", "/agents/a");
    VERIFY_STATUS(deleted, 200);
    QCOMPARE(deleted.object()[u"status"].toString(), u"deleted"_s);
    QCOMPARE(deleted.object()[u"agent_id"].toString(), u"a"_s);

    const HttpResponse after = request(port, "GET", "/pull");
    VERIFY_STATUS(after, 200);
    QVERIFY(after.header("etag") != before.header("etag"));
    QCOMPARE(after.object()[u"merged_topic_counts"].toObject(), (QJsonObject{{u"t"_s, 10}}));
    QCOMPARE(after.object()[u"unique_fact_hashes"].toArray(), (QJsonArray{u"shared"_s}));
    // The old ETag no longer matches.
    VERIFY_STATUS(request(port, "GET", "/pull", {{"If-None-Match", before.header("etag")}}), 200);
    VERIFY_STATUS(request(port, "GET", "/agents/a"), 404);
    VERIFY_STATUS(request(port, "DELETE", "/agents/a"), 404);
    QCOMPARE(request(port, "GET", "/agents").object()[u"total"].toInt(), 1);

    // Committed: a restart loads the same view; the history went with the agent.
    server.stop();
    QVERIFY(server.start());
    port = server.port();
    const HttpResponse restarted = request(port, "GET", "/pull");
    QCOMPARE(restarted.body, after.body);
    QCOMPARE(restarted.header("etag"), after.header("etag"));
    VERIFY_STATUS(request(port, "GET", "/agents/a"), 404);
    QCOMPARE(push(port, u"a"_s, u"2025-01-03T00:00:00Z"_s, {{u"t"_s, 1}}), 200);
    const HttpResponse fresh = request(port, "GET", "/agents/a");
    VERIFY_STATUS(fresh, 200);
    QCOMPARE(fresh.object()[u"history"].toArray().size(), 1);
    QCOMPARE(fresh.object()[u"agent"].toObject()[u"push_count"].toInt(), 1);
}

void TestOperations::scopesWithKeys()
{
    TestServer server;
    server.config.access.mode = AccessConfig::AuthMode::Required;
    server.config.access.trustedProxies = {{QHostAddress(u"127.0.0.1"_s), 32}};
    QVERIFY(server.start());
    server.stop();
    QString error;
    QString pullKey;
    QString adminKey;
    {
        auto store = Store::open(*server.store(), {}, &error);
        QVERIFY2(store, qPrintable(error));
        pullKey =
            store->createKey(u"reader"_s, unsigned(Scope::Pull) | unsigned(Scope::Push), nullptr)
                .value_or(QString());
        adminKey =
            store->createKey(u"admin"_s, unsigned(Scope::Admin), nullptr).value_or(QString());
    }
    QVERIFY(!pullKey.isEmpty() && !adminKey.isEmpty());
    QVERIFY(server.start());
    const quint16 port = server.port();
    const RawHeaders reader{{"Authorization", "Bearer " + pullKey.toLatin1()}};
    const RawHeaders admin{{"X-API-Key", adminKey.toLatin1()}};
    QCOMPARE(push(port, u"a"_s, u"2025-01-01T00:00:00Z"_s, {{u"t"_s, 1}}, {}, reader), 200);

    VERIFY_STATUS(request(port, "GET", "/agents"), 401);
    VERIFY_STATUS(request(port, "GET", "/agents/a"), 401);
    VERIFY_STATUS(request(port, "GET", "/agents", reader), 200);
    VERIFY_STATUS(request(port, "GET", "/agents/a", reader), 200);
    VERIFY_STATUS(request(port, "GET", "/agents", admin), 403);
    // The pull key reads but cannot delete; nothing changed.
    VERIFY_STATUS(request(port, "DELETE", "/agents/a", reader), 403);
    VERIFY_STATUS(request(port, "DELETE", "/agents/a"), 401);
    VERIFY_STATUS(request(port, "GET", "/agents/a", reader), 200);
    VERIFY_STATUS(request(port, "DELETE", "/agents/a", admin), 200);
    VERIFY_STATUS(request(port, "GET", "/agents/a", reader), 404);
    // The key in the URL works too.
    VERIFY_STATUS(request(port, "GET", "/k/" + pullKey.toLatin1() + "/agents"), 200);

    // /metrics: open on this machine, the pull scope for clients elsewhere (here, behind
    // a trusted proxy); /openapi.json and /docs are open.
    VERIFY_STATUS(request(port, "GET", "/metrics"), 200);
    const RawHeaders remote{{"X-Forwarded-For", "203.0.113.9"}};
    VERIFY_STATUS(request(port, "GET", "/metrics", remote), 401);
    VERIFY_STATUS(request(port, "GET", "/metrics", remote + reader), 200);
    VERIFY_STATUS(request(port, "GET", "/openapi.json", remote), 200);
    VERIFY_STATUS(request(port, "GET", "/docs", remote), 200);
}

void TestOperations::methodsAndUnknownRoutes()
{
    TestServer server;
    QVERIFY(server.start());
    const quint16 port = server.port();
    const HttpResponse post = request(server.port(), "POST", "/agents/a");
    VERIFY_STATUS(post, 405);
    QCOMPARE(post.header("allow"), QByteArray("GET, HEAD, DELETE"));
    QVERIFY(post.object()[u"detail"].isString());
    const HttpResponse postList = request(port, "DELETE", "/agents");
    VERIFY_STATUS(postList, 405);
    QCOMPARE(postList.header("allow"), QByteArray("GET, HEAD"));
    VERIFY_STATUS(request(port, "POST", "/metrics"), 405);
    VERIFY_STATUS(request(port, "GET", "/agentsx"), 404);
    VERIFY_STATUS(request(port, "GET", "/docs/x"), 404);
}

void TestOperations::metrics()
{
    TestServer server;
    QVERIFY(server.start());
    const quint16 port = server.port();
    QCOMPARE(push(port, u"a"_s, u"2025-01-01T00:00:00Z"_s, {{u"t"_s, 1}, {u"u"_s, 2}},
                  {u"f1"_s, u"f2"_s}),
             200);
    QCOMPARE(push(port, u"a"_s, u"2025-01-01T00:00:00Z"_s, {{u"t"_s, 1}, {u"u"_s, 2}},
                  {u"f1"_s, u"f2"_s}),
             200); // the same summary: unchanged
    QCOMPARE(push(port, u"b"_s, u"2025-01-01T00:00:00Z"_s, {{u"t"_s, 1}}, {u"f2"_s, u"f3"_s}), 200);
    // Alike requests in a row (same route, method, status and result) are counted each.
    QCOMPARE(push(port, u"b"_s, u"2025-01-02T00:00:00Z"_s, {{u"t"_s, 1}}, {u"f2"_s, u"f3"_s}), 200);
    QCOMPARE(push(port, u"a"_s, u"2025-01-02T00:00:00Z"_s, {{u"t"_s, 1}, {u"u"_s, 2}},
                  {u"f1"_s, u"f2"_s}),
             200);
    QCOMPARE(push(port, u""_s, u"2025-01-01T00:00:00Z"_s, {}), 422);
    QCOMPARE(push(port, u"c"_s, u"yesterday"_s, {}), 400);
    VERIFY_STATUS(request(port, "GET", "/pull"), 200);
    VERIFY_STATUS(request(port, "GET", "/nowhere"), 404);
    VERIFY_STATUS(request(port, "GET", "/agents/a"), 200);

    // The request events reach the counters in the same server thread before the answer
    // to the next request; nothing to wait for.
    const HttpResponse r = request(port, "GET", "/metrics");
    VERIFY_STATUS(r, 200);
    QVERIFY(r.header("content-type").startsWith("text/plain; version=0.0.4"));
    QString error;
    const QHash<QString, double> m = parseMetrics(r.body, &error);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    QCOMPARE(m.value(u"agmem_pushes_total{result=\"accepted\",reason=\"merged\"}"_s), 4.0);
    QCOMPARE(m.value(u"agmem_pushes_total{result=\"accepted\",reason=\"unchanged\"}"_s), 1.0);
    QCOMPARE(m.value(u"agmem_pushes_total{result=\"rejected\",reason=\"invalid\"}"_s), 1.0);
    QCOMPARE(m.value(u"agmem_pushes_total{result=\"rejected\",reason=\"bad_request\"}"_s), 1.0);
    QCOMPARE(
        m.value(u"agmem_http_requests_total{route=\"/push\",method=\"POST\",status=\"200\"}"_s),
        5.0);
    QCOMPARE(m.value(u"agmem_http_requests_total{route=\"/pull\",method=\"GET\",status=\"200\"}"_s),
             1.0);
    QCOMPARE(
        m.value(u"agmem_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"}"_s),
        1.0);
    QCOMPARE(
        m.value(
            u"agmem_http_requests_total{route=\"/agents/{agent_id}\",method=\"GET\",status=\"200\"}"_s),
        1.0);
    QCOMPARE(m.value(u"agmem_http_request_duration_seconds_count{route=\"/push\"}"_s), 7.0);
    QCOMPARE(m.value(u"agmem_http_request_duration_seconds_bucket{route=\"/push\",le=\"+Inf\"}"_s),
             7.0);
    QVERIFY(m.value(u"agmem_http_request_duration_seconds_bucket{route=\"/push\",le=\"5\"}"_s) <=
            7.0);
    QVERIFY(m.value(u"agmem_http_request_duration_seconds_sum{route=\"/push\"}"_s) > 0);
    QCOMPARE(m.value(u"agmem_agents"_s), 2.0);
    QCOMPARE(m.value(u"agmem_unique_facts"_s), 3.0);
    QCOMPARE(m.value(u"agmem_topics"_s), 2.0);
    QVERIFY(m.value(u"agmem_store_bytes"_s) > 0);
    QVERIFY(m.value(u"agmem_open_connections"_s) >= 1); // this request's
    QCOMPARE(m.value(u"agmem_rate_limited_total"_s), 0.0);
    // The five stored pushes, each answered before the next was sent: five commits of one.
    QCOMPARE(m.value(u"agmem_push_commit_size_count"_s), 5.0);
    QCOMPARE(m.value(u"agmem_push_commit_size_sum"_s), 5.0);
    QCOMPARE(m.value(u"agmem_push_commit_size_bucket{le=\"1\"}"_s), 5.0);
    QCOMPARE(m.value(u"agmem_push_commit_size_bucket{le=\"128\"}"_s), 5.0);
    QCOMPARE(m.value(u"agmem_push_commit_size_bucket{le=\"+Inf\"}"_s), 5.0);
    QVERIFY(!m.contains(
        u"agmem_http_requests_total{route=\"/metrics\",method=\"GET\",status=\"200\"}"_s));

    // Rate-limited requests are counted.
    server.stop();
    server.config.access.rateLimit = 1; // bursts of 2
    QVERIFY(server.start());
    int limited = 0;
    for (int i = 0; i < 6; ++i)
        limited += request(server.port(), "GET", "/agents").status == 429 ? 1 : 0;
    QVERIFY(limited > 0);
    QThread::msleep(1100); // refill one token for /metrics itself
    const HttpResponse after = request(server.port(), "GET", "/metrics");
    VERIFY_STATUS(after, 200);
    const QHash<QString, double> m2 = parseMetrics(after.body, &error);
    QCOMPARE(m2.value(u"agmem_rate_limited_total"_s), double(limited));
}

void TestOperations::metricsPassPromtool()
{
    const QString promtool = QStandardPaths::findExecutable(u"promtool"_s);
    if (promtool.isEmpty()) {
        if (qEnvironmentVariable("CI") == u"true")
            QFAIL("promtool is missing (apt-get install prometheus; scripts/bootstrap.sh)");
        QSKIP("promtool is not installed (apt-get install prometheus)");
    }
    TestServer server;
    QVERIFY(server.start());
    QCOMPARE(push(server.port(), u"a"_s, u"2025-01-01T00:00:00Z"_s, {{u"t"_s, 1}}), 200);
    QCOMPARE(push(server.port(), u"a"_s, u"bad"_s, {}), 400);
    VERIFY_STATUS(request(server.port(), "GET", "/pull"), 200);
    const HttpResponse r = request(server.port(), "GET", "/metrics");
    VERIFY_STATUS(r, 200);
    QProcess p;
    p.start(promtool, {u"check"_s, u"metrics"_s});
    QVERIFY(p.waitForStarted());
    p.write(r.body);
    p.closeWriteChannel();
    QVERIFY(p.waitForFinished(20000));
    const QByteArray output = p.readAllStandardOutput() + p.readAllStandardError();
    QVERIFY2(p.exitCode() == 0, output.constData());
    // promtool prints lint problems and still exits 0 for some; there must be none.
    QVERIFY2(output.trimmed().isEmpty(), output.constData());
}

void TestOperations::openApiMatchesRouter()
{
    TestServer server;
    QVERIFY(server.start());
    const HttpResponse r = request(server.port(), "GET", "/openapi.json");
    VERIFY_STATUS(r, 200);
    bool ok = false;
    const QJsonObject doc = r.json(&ok).object();
    QVERIFY(ok);
    QVERIFY(doc[u"openapi"].toString().startsWith(u"3.0"));
    QCOMPARE(doc[u"info"].toObject()[u"version"].toString(), QStringLiteral(AGMEM_VERSION));
    QSet<QString> documented;
    const QJsonObject paths = doc[u"paths"].toObject();
    static const QSet<QString> operations{u"get"_s,    u"head"_s,  u"post"_s,    u"put"_s,
                                          u"delete"_s, u"patch"_s, u"options"_s, u"trace"_s};
    const QJsonObject schemas = doc[u"components"].toObject()[u"schemas"].toObject();
    for (auto it = paths.begin(); it != paths.end(); ++it) {
        const QJsonObject item = it.value().toObject();
        for (auto op = item.begin(); op != item.end(); ++op) {
            if (!operations.contains(op.key()))
                continue;
            documented.insert(op.key() + u' ' + it.key());
            const QJsonObject responses = op.value().toObject()[u"responses"].toObject();
            QVERIFY2(!responses.isEmpty(), qPrintable(op.key() + u' ' + it.key()));
            // Every $ref names a schema that exists.
            const QByteArray text = QJsonDocument(op.value().toObject()).toJson();
            static const QRegularExpression ref(u"#/components/schemas/([A-Za-z]+)"_s);
            for (auto m = ref.globalMatch(QString::fromUtf8(text)); m.hasNext();) {
                const QString name = m.next().captured(1);
                QVERIFY2(schemas.contains(name), qPrintable(name));
            }
        }
    }
    const QSet<QString> registered = routeSet();
    QCOMPARE(documented - registered, QSet<QString>{}); // nothing invented
    QCOMPARE(registered - documented, QSet<QString>{}); // nothing missing
    // The error shapes: FastAPI's detail string and validation list.
    QVERIFY(schemas.contains(u"HTTPError"_s));
    QVERIFY(schemas.contains(u"HTTPValidationError"_s));
    QCOMPARE(paths[u"/push"]
                 .toObject()[u"post"]
                 .toObject()[u"responses"]
                 .toObject()[u"422"]
                 .toObject()[u"content"]
                 .toObject()[u"application/json"]
                 .toObject()[u"schema"]
                 .toObject()[u"$ref"]
                 .toString(),
             u"#/components/schemas/HTTPValidationError"_s);
}

void TestOperations::docsPage()
{
    TestServer server;
    QVERIFY(server.start());
    const HttpResponse r = request(server.port(), "GET", "/docs");
    VERIFY_STATUS(r, 200);
    QVERIFY(r.header("content-type").startsWith("text/html"));
    // Rendered in the browser from /openapi.json by our own script (tests/browser checks
    // that every route is on the page): a strict CSP, nothing inline, nothing from elsewhere.
    const QByteArray csp = r.header("content-security-policy");
    QVERIFY2(csp.contains("default-src 'self'") && csp.contains("script-src 'self'") &&
                 !csp.contains("unsafe-inline"),
             csp.constData());
    const QString page = QString::fromUtf8(r.body);
    QVERIFY(page.startsWith(u"<!DOCTYPE html>"));
    QVERIFY(page.contains(u"<script src=\"ui/docs.js\" defer></script>"));
    QVERIFY(!page.contains(u"<script>") && !page.contains(u"style="));
    QVERIFY(!page.contains(u"http://") && !page.contains(u"https://"));
    // The same page at /redoc; its script is served.
    const HttpResponse redoc = request(server.port(), "GET", "/redoc");
    VERIFY_STATUS(redoc, 200);
    QCOMPARE(redoc.body, r.body);
    const HttpResponse script = request(server.port(), "GET", "/ui/docs.js");
    VERIFY_STATUS(script, 200);
    QVERIFY(script.header("content-type").startsWith("text/javascript"));
    QVERIFY(script.body.contains("openapi.json"));
}

void TestOperations::webDashboardFiles()
{
    TestServer server;
    QVERIFY(server.start());
    const quint16 port = server.port();
    const HttpResponse redirect = request(port, "GET", "/ui");
    VERIFY_STATUS(redirect, 308);
    QCOMPARE(redirect.header("location"), QByteArray("ui/"));
    const HttpResponse index = request(port, "GET", "/ui/");
    VERIFY_STATUS(index, 200);
    QVERIFY(index.header("content-type").startsWith("text/html"));
    QVERIFY(index.header("content-security-policy").contains("default-src 'self'"));
    QCOMPARE(index.header("x-frame-options"), QByteArray("DENY"));
    for (const QByteArray file : {"app.js", "app.css", "icon.svg"}) {
        const HttpResponse r = request(port, "GET", "/ui/" + file);
        VERIFY_STATUS(r, 200);
        QVERIFY(index.body.contains(file));
        QVERIFY(!r.body.contains("http://") || file == "icon.svg"); // the SVG namespace only
    }
    // Nothing but the files themselves: no paths, no other resources of the binary.
    for (const QByteArray path : {"/ui/nope.js", "/ui/..%2Fopenapi.json", "/ui/../openapi.json",
                                  "/ui/icons%2Fagmem.svg", "/ui/%2e%2e%2fagmem%2fopenapi.json"}) {
        const HttpResponse r = request(port, "GET", path);
        QVERIFY2(r.status == 404, path.constData());
    }
    VERIFY_STATUS(request(port, "POST", "/ui/"), 405);
    // GET / tells the page whether to ask for a key.
    QCOMPARE(request(port, "GET", "/").object()[u"key_required"].toBool(true), false);
}

void TestOperations::topicsAndFacts()
{
    TestServer server;
    QVERIFY(server.start());
    const quint16 port = server.port();
    QCOMPARE(push(port, u"a"_s, u"2025-01-01T00:00:00Z"_s, {{u"python"_s, 3}, {u"go"_s, 1}},
                  {u"f-apple"_s, u"f-pear"_s}),
             200);
    QCOMPARE(push(port, u"b"_s, u"2025-01-01T00:00:00Z"_s, {{u"python"_s, 5}},
                  {u"f-pear"_s, u"f-plum"_s}),
             200);
    const QJsonObject topics = request(port, "GET", "/topics").object();
    QCOMPARE(topics[u"total"].toInt(), 2);
    QCOMPARE(
        topics[u"topics"].toArray(),
        (QJsonArray{QJsonObject{{u"topic"_s, u"go"_s}, {u"total"_s, 1}, {u"agents"_s, 1}},
                    QJsonObject{{u"topic"_s, u"python"_s}, {u"total"_s, 8}, {u"agents"_s, 2}}}));
    const QJsonObject filtered = request(port, "GET", "/topics?q=PYT").object();
    QCOMPARE(filtered[u"total"].toInt(), 1);
    const QJsonObject python = request(port, "GET", "/topics/python").object();
    QCOMPARE(python[u"total"].toInt(), 8);
    QCOMPARE(python[u"agents"].toArray(),
             (QJsonArray{QJsonObject{{u"agent_id"_s, u"b"_s}, {u"count"_s, 5}},
                         QJsonObject{{u"agent_id"_s, u"a"_s}, {u"count"_s, 3}}}));
    VERIFY_STATUS(request(port, "GET", "/topics/nothing"), 404);

    const QJsonObject facts = request(port, "GET", "/facts?limit=2").object();
    QCOMPARE(facts[u"total"].toInt(), 3);
    QCOMPARE(facts[u"facts"].toArray(),
             (QJsonArray{QJsonObject{{u"fact"_s, u"f-apple"_s}, {u"agents"_s, 1}},
                         QJsonObject{{u"fact"_s, u"f-pear"_s}, {u"agents"_s, 2}}}));
    QCOMPARE(facts[u"next_offset"].toInt(), 2);
    const QJsonObject second = request(port, "GET", "/facts?limit=2&offset=2").object();
    QCOMPARE(second[u"facts"].toArray().size(), 1);
    QVERIFY(second[u"next_offset"].isNull());
    const QJsonObject search = request(port, "GET", "/facts?q=PLU").object();
    QCOMPARE(search[u"total"].toInt(), 1);
    QCOMPARE(search[u"facts"].toArray().first().toObject()[u"fact"].toString(), u"f-plum"_s);
    const QJsonObject beyond = request(port, "GET", "/facts?offset=50").object();
    QCOMPARE(beyond[u"facts"].toArray().size(), 0);
    QCOMPARE(beyond[u"total"].toInt(), 3);

    // /agents: search and sort.
    const QJsonObject byPushes = request(port, "GET", "/agents?sort=agent_id").object();
    QCOMPARE(byPushes[u"agents"].toArray().first().toObject()[u"agent_id"].toString(), u"a"_s);
    const QJsonObject reversed = request(port, "GET", "/agents?sort=-agent_id").object();
    QCOMPARE(reversed[u"agents"].toArray().first().toObject()[u"agent_id"].toString(), u"b"_s);
    const QJsonObject onlyB = request(port, "GET", "/agents?q=B").object();
    QCOMPARE(onlyB[u"total"].toInt(), 1);

    // The chart's last hour: both pushes, counted from the history.
    const QJsonObject minutes = request(port, "GET", "/pushes/per-minute").object();
    QCOMPARE(minutes[u"complete"].toBool(), true);
    qint64 counted = 0;
    for (const QJsonValue &m : minutes[u"minutes"].toArray()) {
        QVERIFY(m.toObject()[u"minute"].toString().endsWith(u":00+00:00"));
        counted += m.toObject()[u"pushes"].toInteger();
    }
    QCOMPARE(counted, 2);
}

// A search reads every fact (a million take a tenth of a second or more): it runs off the
// thread that accepts pushes, which answers a push while the search is still held here.
void TestOperations::factSearchLeavesPushesAlone()
{
    QSemaphore searching;
    QSemaphore release;
    const auto unblock = qScopeGuard([&release] { release.release(); });
    TestServer server;
    server.config.beforeFactSearch = [&] {
        searching.release();
        release.tryAcquire(1, 30000);
    };
    QVERIFY(server.start());
    const quint16 port = server.port();
    QCOMPARE(push(port, u"a"_s, u"2025-01-01T00:00:00Z"_s, {{u"t"_s, 1}}, {u"f-apple"_s}), 200);

    RawHttpClient search;
    QVERIFY(search.connectTo(port));
    QVERIFY(search.send(buildRequest("GET", "/facts?q=APP")));
    QVERIFY2(searching.tryAcquire(1, 10000), "the search did not start off the HTTP thread");
    QCOMPARE(push(port, u"b"_s, u"2025-01-01T00:00:00Z"_s, {{u"t"_s, 1}}, {u"f-applet"_s}), 200);
    VERIFY_STATUS(request(port, "GET", "/facts?limit=5"), 200); // paging stays inline
    release.release();

    // The search reads the facts after it was let go: both pushes are in it.
    const HttpResponse found = search.readResponse();
    VERIFY_STATUS(found, 200);
    const QJsonObject page = found.object();
    QCOMPARE(page[u"total"].toInt(), 2);
    QCOMPARE(page[u"facts"].toArray(),
             (QJsonArray{QJsonObject{{u"fact"_s, u"f-apple"_s}, {u"agents"_s, 1}},
                         QJsonObject{{u"fact"_s, u"f-applet"_s}, {u"agents"_s, 1}}}));
}

void TestOperations::browseBadParameters_data()
{
    QTest::addColumn<QByteArray>("path");
    QTest::addColumn<QString>("field");
    const QByteArray longQ = "q=" + QByteArray(257, 'x');
    for (const QByteArray route : {"/topics", "/facts", "/agents"}) {
        QTest::addRow("%s limit=0", route.constData()) << route + "?limit=0" << u"limit"_s;
        QTest::addRow("%s limit=1001", route.constData()) << route + "?limit=1001" << u"limit"_s;
        QTest::addRow("%s limit=abc", route.constData()) << route + "?limit=abc" << u"limit"_s;
        QTest::addRow("%s offset=-1", route.constData()) << route + "?offset=-1" << u"offset"_s;
        QTest::addRow("%s long q", route.constData()) << route + "?" + longQ << u"q"_s;
    }
    QTest::addRow("/agents sort=bogus") << QByteArray("/agents?sort=bogus") << u"sort"_s;
    QTest::addRow("/agents sort=--agent_id") << QByteArray("/agents?sort=--agent_id") << u"sort"_s;
}

void TestOperations::browseBadParameters()
{
    QFETCH(QByteArray, path);
    QFETCH(QString, field);
    TestServer server;
    QVERIFY(server.start());
    const quint16 port = server.port();
    QCOMPARE(push(port, u"a"_s, u"2025-01-01T00:00:00Z"_s, {{u"t"_s, 1}}, {u"f"_s}), 200);
    const QByteArray etag = request(port, "GET", "/pull").header("etag");
    const HttpResponse r = request(port, "GET", path);
    VERIFY_STATUS(r, 422);
    const QJsonArray detail = r.object()[u"detail"].toArray();
    QCOMPARE(detail.size(), 1);
    QCOMPARE(detail.first().toObject()[u"loc"].toArray(), (QJsonArray{u"query"_s, field}));
    QVERIFY(!detail.first().toObject()[u"msg"].toString().isEmpty());
    // Nothing changed.
    QCOMPARE(request(port, "GET", "/pull").header("etag"), etag);
}

// A /pull answer large enough to go out in pieces (built on the answer's worker thread):
// pipelined with other requests, every answer leaves in request order, whole, and each pull
// shows every push before it.
void TestOperations::largePullsPipelined()
{
    TestServer server;
    QVERIFY(server.start());
    const quint16 port = server.port();
    QStringList facts;
    for (int i = 0; i < 4000; ++i)
        facts.append(u"%1"_s.arg(quint64(i) * 2654435761u, 40, 16, QChar(u'0')));
    QCOMPARE(push(port, u"a"_s, u"2025-01-01T00:00:00Z"_s, {{u"t"_s, 1}}, facts), 200);

    RawHttpClient client;
    QVERIFY(client.connectTo(port));
    const RawHeaders gz{{"Accept-Encoding", "gzip"}};
    const QByteArray five = buildRequest("GET", "/pull", {}, gz) +
                            buildJsonPost("/push", summaryBody(u"b"_s, u"2025-01-01T00:00:00Z"_s,
                                                               {{u"t"_s, 5}}, {u"new-fact"_s})) +
                            buildRequest("GET", "/pull") + buildRequest("GET", "/health") +
                            buildRequest("GET", "/pull", {}, gz);
    QVERIFY(client.send(five));

    HttpResponse r = client.readResponse();
    VERIFY_STATUS(r, 200);
    QCOMPARE(r.header("content-encoding"), QByteArray("gzip"));
    bool ok = false;
    const QJsonObject first = QJsonDocument::fromJson(gunzip(r.body, &ok)).object();
    QVERIFY(ok);
    QCOMPARE(first[u"metadata"].toObject()[u"total_facts"].toInt(), 4000);
    QCOMPARE(first[u"merged_topic_counts"].toObject()[u"t"].toInt(), 1);

    r = client.readResponse();
    VERIFY_STATUS(r, 200);
    QCOMPARE(r.object()[u"agent_id"].toString(), u"b"_s);

    r = client.readResponse();
    VERIFY_STATUS(r, 200);
    QVERIFY(r.body.size() > 65536);
    QCOMPARE(r.header("content-length").toLongLong(), r.body.size());
    const QByteArray plain = r.body;
    const QJsonObject second = QJsonDocument::fromJson(plain).object();
    QCOMPARE(second[u"metadata"].toObject()[u"total_facts"].toInt(), 4001);
    QCOMPARE(second[u"merged_topic_counts"].toObject()[u"t"].toInt(), 6);
    QVERIFY(second[u"unique_fact_hashes"].toArray().contains(u"new-fact"_s));

    r = client.readResponse();
    VERIFY_STATUS(r, 200);
    QCOMPARE(r.object()[u"status"].toString(), u"healthy"_s);

    r = client.readResponse();
    VERIFY_STATUS(r, 200);
    QCOMPARE(gunzip(r.body, &ok), plain);
    QVERIFY(ok);
    QVERIFY(client.pending().isEmpty());

    // HEAD: the same length, no body.
    const HttpResponse head = request(port, "HEAD", "/pull");
    VERIFY_STATUS(head, 200);
    QCOMPARE(head.header("content-length").toLongLong(), plain.size());
    QVERIFY(head.body.isEmpty());
}

void TestOperations::gzipPull()
{
    TestServer server;
    QVERIFY(server.start());
    const quint16 port = server.port();
    QStringList facts;
    for (int i = 0; i < 200; ++i)
        facts.append(u"fact-%1"_s.arg(i));
    QCOMPARE(push(port, u"a"_s, u"2025-01-01T00:00:00Z"_s, {{u"t"_s, 1}}, facts), 200);

    const HttpResponse plain = request(port, "GET", "/pull");
    VERIFY_STATUS(plain, 200);
    QVERIFY(!plain.hasHeader("content-encoding"));
    QCOMPARE(plain.header("vary"), QByteArray("Accept-Encoding"));

    const RawHeaders gz{{"Accept-Encoding", "gzip, deflate, br"}};
    for (int round = 0; round < 2; ++round) { // the second from the cache
        const HttpResponse zipped = request(port, "GET", "/pull", gz);
        VERIFY_STATUS(zipped, 200);
        QCOMPARE(zipped.header("content-encoding"), QByteArray("gzip"));
        QCOMPARE(zipped.header("vary"), QByteArray("Accept-Encoding"));
        QCOMPARE(zipped.header("etag"), plain.header("etag"));
        QVERIFY(zipped.body.startsWith("\x1f\x8b"));
        QVERIFY(zipped.body.size() < plain.body.size());
        bool ok = false;
        QCOMPARE(gunzip(zipped.body, &ok), plain.body);
        QVERIFY(ok);
    }
    // q=0 refuses gzip; identity is sent.
    const HttpResponse refused = request(port, "GET", "/pull", {{"Accept-Encoding", "gzip;q=0"}});
    QVERIFY(!refused.hasHeader("content-encoding"));
    QCOMPARE(refused.body, plain.body);

    // 304 with gzip accepted; after a change, a new compressed body.
    const HttpResponse notModified =
        request(port, "GET", "/pull", gz + RawHeaders{{"If-None-Match", plain.header("etag")}});
    VERIFY_STATUS(notModified, 304);
    QVERIFY(notModified.body.isEmpty());
    QCOMPARE(push(port, u"b"_s, u"2025-01-01T00:00:00Z"_s, {{u"t"_s, 5}}), 200);
    const HttpResponse changed =
        request(port, "GET", "/pull", gz + RawHeaders{{"If-None-Match", plain.header("etag")}});
    VERIFY_STATUS(changed, 200);
    QVERIFY(changed.header("etag") != plain.header("etag"));
    bool ok = false;
    const QByteArray unzipped = gunzip(changed.body, &ok);
    QVERIFY(ok);
    QCOMPARE(unzipped, request(port, "GET", "/pull").body);
    QCOMPARE(
        QJsonDocument::fromJson(unzipped).object()[u"merged_topic_counts"].toObject()[u"t"].toInt(),
        6);
}

namespace {

// A CoordinatorApi in the test thread (no sockets): retention is driven by hand.
struct DirectApi
{
    QTemporaryDir dir;
    std::unique_ptr<CoordinatorApi> api;
    Instant clock = 0;

    bool open(ServerConfig config)
    {
        config.store.kind = StoreUrl::Kind::SqliteFile;
        config.store.path = dir.filePath(u"retention.db"_s);
        config.access.mode = AccessConfig::AuthMode::Open;
        config.access.rateLimit = 0;
        config.accessLog = false;
        config.clock = [this] { return clock; };
        QString error;
        api = CoordinatorApi::create(config, &error);
        if (!api)
            qWarning() << error;
        return api != nullptr;
    }

    int push(const QString &agent, int day, const QJsonObject &topics = {{u"t"_s, 1}})
    {
        HttpRequest r;
        r.method = "POST";
        r.path = u"/push"_s;
        r.headers = {{"Content-Type", "application/json"}};
        r.body = summaryBody(agent, u"2025-01-%1T00:00:00Z"_s.arg(day, 2, 10, QChar(u'0')), topics,
                             {u"f-"_s + agent});
        r.peer = QHostAddress::LocalHost;
        int status = 0;
        api->handle(r, [&status](const HttpReply &reply) { status = reply.status; });
        api->flushPushes();
        return status;
    }

    int historySize(const QString &agent)
    {
        const auto records = api->store().agentHistoryPage(agent, 1000, 0);
        return records ? int(records->size()) : -1;
    }

    // Retention passes run by hand in the writer's thread (as its timer runs them).
    RetentionPass drain()
    {
        RetentionPass total;
        for (int i = 0; i < 100; ++i) {
            const RetentionPass p =
                api->writerThread().call([](CoordinatorWriter &w) { return w.runRetention(); });
            total.historyDeleted += p.historyDeleted;
            total.agentsExpired += p.agentsExpired;
            total.ok = total.ok && p.ok;
            if (!p.more)
                break;
        }
        return total;
    }
};

constexpr Instant Day = qint64(86400) * 1000000;

} // namespace

void TestOperations::retentionByAge()
{
    DirectApi d;
    ServerConfig config;
    config.historyRetentionDays = 7;
    config.retentionBatch = 2; // several batches
    QVERIFY(d.open(config));
    const Instant first = nowInstant();
    for (int i = 1; i <= 3; ++i)
        QCOMPARE(d.push(u"a"_s, i), 200);
    QCOMPARE(d.push(u"b"_s, 1), 200);
    QThread::msleep(5);
    const Instant middle = nowInstant();
    QThread::msleep(5);
    QCOMPARE(d.push(u"a"_s, 10), 200);
    QCOMPARE(d.push(u"c"_s, 1), 200);
    const QByteArray pull = d.api->engine().pullJson();
    const quint64 sequence = d.api->engine().sequence();
    const auto agents = d.api->engine().agents();

    // Nothing is older than 7 days yet.
    d.clock = first + 7 * Day - 1;
    QCOMPARE(d.drain().historyDeleted, 0);
    QCOMPARE(d.historySize(u"a"_s), 4);

    // Now everything received before `middle` is.
    d.clock = middle + 7 * Day;
    const RetentionPass pass = d.drain();
    QVERIFY(pass.ok);
    QCOMPARE(pass.historyDeleted, 4);
    QCOMPARE(d.historySize(u"a"_s), 1);
    QCOMPARE(d.historySize(u"b"_s), 0);
    QCOMPARE(d.historySize(u"c"_s), 1);
    // The merge, its sequence and every agent's counters are untouched.
    QCOMPARE(d.api->engine().pullJson(), pull);
    QCOMPARE(d.api->engine().sequence(), sequence);
    QCOMPARE(d.api->engine().agents().size(), 3);
    for (const AgentState &a : agents) {
        const AgentState now = d.api->engine().agents().value(a.agentId);
        QCOMPARE(now.pushCount, a.pushCount);
        QCOMPARE(now.current, a.current);
    }
    QCOMPARE(d.api->store().listAgents()->size(), 3);
    // Reloaded from the store, the merge is the same.
    d.api.reset();
    QVERIFY(d.open(config));
    QCOMPARE(d.api->engine().pullJson(), pull);
}

void TestOperations::retentionPerAgent()
{
    DirectApi d;
    ServerConfig config;
    config.historyMaxPerAgent = 3;
    config.retentionBatch = 2;
    QVERIFY(d.open(config));
    d.clock = nowInstant();
    for (int i = 1; i <= 7; ++i)
        QCOMPARE(d.push(u"a"_s, i, {{u"t"_s, i}}), 200);
    for (int i = 1; i <= 2; ++i)
        QCOMPARE(d.push(u"b"_s, i), 200);
    const QByteArray pull = d.api->engine().pullJson();
    const RetentionPass pass = d.drain();
    QVERIFY(pass.ok);
    QCOMPARE(pass.historyDeleted, 4);
    const auto history = d.api->store().agentHistoryPage(u"a"_s, 100, 0);
    QCOMPARE(history->size(), 3);
    // The newest three are kept.
    QCOMPARE(history->at(0).summary.topicCounts.value(0).second, 7);
    QCOMPARE(history->at(2).summary.topicCounts.value(0).second, 5);
    QCOMPARE(d.historySize(u"b"_s), 2);
    QCOMPARE(d.api->engine().pullJson(), pull);
    QCOMPARE(d.api->engine().agents().value(u"a"_s).pushCount, 7);
    // Another pass has nothing to do; a new push is pruned again.
    QCOMPARE(d.drain().historyDeleted, 0);
    QCOMPARE(d.push(u"a"_s, 20, {{u"t"_s, 20}}), 200);
    QCOMPARE(d.drain().historyDeleted, 1);
    QCOMPARE(d.historySize(u"a"_s), 3);
}

void TestOperations::agentExpiry()
{
    DirectApi d;
    ServerConfig config;
    config.agentExpiryDays = 30;
    QVERIFY(d.open(config));
    const Instant first = nowInstant();
    QCOMPARE(d.push(u"old"_s, 1, {{u"t"_s, 1}, {u"x"_s, 2}}), 200);
    QThread::msleep(5);
    const Instant middle = nowInstant();
    QThread::msleep(5);
    QCOMPARE(d.push(u"new"_s, 1, {{u"t"_s, 3}}), 200);
    const quint64 sequence = d.api->engine().sequence();
    QSignalSpy changed(d.api.get(), &CoordinatorApi::mergeChanged);

    d.clock = first + 30 * Day - 1;
    QCOMPARE(d.drain().agentsExpired, QStringList());
    QCOMPARE(d.api->engine().agentCount(), 2);

    d.clock = middle + 30 * Day;
    QCOMPARE(d.drain().agentsExpired, QStringList{u"old"_s});
    QCOMPARE(d.api->engine().agentCount(), 1);
    QVERIFY(d.api->engine().agents().contains(u"new"_s));
    QVERIFY(d.api->engine().sequence() > sequence);
    QCOMPARE(changed.size(), 1);
    const QJsonObject merged = QJsonDocument::fromJson(d.api->engine().pullJson())
                                   .object()[u"merged_topic_counts"]
                                   .toObject();
    QCOMPARE(merged, (QJsonObject{{u"t"_s, 3}}));
    QCOMPARE(d.api->store().listAgents()->size(), 1);
    QCOMPARE(d.historySize(u"old"_s), 0);
}

void TestOperations::retentionRunsInBackground()
{
    TestServer server;
    server.config.historyRetentionDays = 1;
    server.config.retentionIntervalMs = 20;
    const Instant start = nowInstant();
    // Two days later: everything pushed now is old enough.
    server.config.clock = [start] { return start + 2 * Day; };
    QVERIFY(server.start());
    const quint16 port = server.port();
    QCOMPARE(push(port, u"a"_s, u"2025-01-01T00:00:00Z"_s, {{u"t"_s, 1}}), 200);
    const QByteArray pull = request(port, "GET", "/pull").body;
    QTRY_COMPARE_WITH_TIMEOUT(
        request(port, "GET", "/agents/a").object()[u"history"].toArray().size(), 0, 5000);
    QCOMPARE(request(port, "GET", "/pull").body, pull);
    QCOMPARE(request(port, "GET", "/agents/a").object()[u"agent"].toObject()[u"push_count"].toInt(),
             1);
}

void TestOperations::jsonLogAndOptions()
{
    const QString binary = qEnvironmentVariable("AGMEM_TEST_BINARY");
    if (binary.isEmpty())
        AGMEM_SKIP_ENVIRONMENT("AGMEM_TEST_BINARY is not set (run through ctest)");
    QTemporaryDir dir;
    QProcess bad;
    bad.start(binary, {u"--no-gui"_s, u"--history-retention"_s, u"abc"_s});
    QVERIFY(bad.waitForFinished(10000));
    QCOMPARE(bad.exitCode(), 2);
    QVERIFY(bad.readAllStandardError().contains("--history-retention"));

    QProcess p;
    p.start(binary, {u"--no-gui"_s, u"--port"_s, u"0"_s, u"--db"_s, dir.filePath(u"log.db"_s),
                     u"--log-format"_s, u"json"_s, u"--history-retention"_s, u"30"_s,
                     u"--history-max-per-agent"_s, u"10"_s, u"--agent-expiry"_s, u"90"_s});
    QVERIFY(p.waitForStarted());
    QByteArray out;
    QTRY_VERIFY_WITH_TIMEOUT((out += p.readAllStandardOutput()).contains('\n'), 10000);
    const QUrl url(QString::fromUtf8(out.trimmed().split(' ').last()));
    QVERIFY2(url.port() > 0, out.constData());
    VERIFY_STATUS(request(quint16(url.port()), "GET", "/agents/some%20one"), 404);
    p.terminate();
    QVERIFY(p.waitForFinished(10000));
    const QList<QByteArray> lines = p.readAllStandardError().split('\n');
    bool access = false;
    bool event = false;
    for (const QByteArray &line : lines) {
        if (line.trimmed().isEmpty())
            continue;
        QJsonParseError error;
        const QJsonObject o = QJsonDocument::fromJson(line, &error).object();
        QVERIFY2(error.error == QJsonParseError::NoError, line.constData());
        QVERIFY(parseIsoTimestamp(o[u"time"].toString()).has_value());
        QVERIFY(!o[u"level"].toString().isEmpty());
        if (o[u"category"].toString() == u"agmem.access") {
            access = true;
            QCOMPARE(o[u"method"].toString(), u"GET"_s);
            QCOMPARE(o[u"path"].toString(), u"/agents/some one"_s);
            QCOMPARE(o[u"status"].toInt(), 404);
            QVERIFY(o[u"bytes"].toInt() > 0);
            QVERIFY(o.contains(u"ms"));
            QCOMPARE(o[u"client"].toString(), u"127.0.0.1"_s);
        } else if (o[u"message"].toString().contains(u"listening on")) {
            event = true;
        }
    }
    QVERIFY(access);
    QVERIFY(event);
}

QTEST_GUILESS_MAIN(TestOperations)
#include "tst_operations.moc"
