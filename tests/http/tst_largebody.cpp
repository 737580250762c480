// Large answers (a /pull of ~20 MB) written a slice at a time beside the other connections
// (src/server/bodywriter.h), over plain HTTP and again over HTTPS: the body arrives whole and
// identical (plain and gzip, several pulls at once, a reader that takes its time), the next
// answer on the same connection waits for it, another connection is served meanwhile, and a
// client that leaves in the middle of a body leaves the server serving.
#include "gzipsupport.h"
#include "testsupport.h"

#include "server/bodywriter.h"

#include <QCoreApplication>
#include <QJsonArray>
#include <QStandardPaths>
#include <QTcpServer>
#include <QTest>

#include <memory>

using namespace agmem;
using namespace agmem::test;
using namespace Qt::StringLiterals;

namespace {

// Two agents with 100,000 facts of 100 characters each: a /pull answer of about 20.6 MB.
constexpr int Agents = 2;
constexpr int FactsPerAgent = 100000;

QString fact(int agent, int index)
{
    return u"%1-%2-"_s.arg(agent).arg(index, 6, 10, QChar(u'0')).leftJustified(100, u'x');
}

// A connected pair of sockets in this thread: `client` and the listener's `server` end.
struct SocketPair
{
    QTcpServer listener;
    QTcpSocket client;
    QTcpSocket *server = nullptr;

    bool connect()
    {
        if (!listener.listen(QHostAddress::LocalHost))
            return false;
        client.connectToHost(QHostAddress::LocalHost, listener.serverPort());
        if (!listener.waitForNewConnection(10000))
            return false;
        server = listener.nextPendingConnection();
        return server && client.waitForConnected(10000);
    }
};

} // namespace

class tst_LargeBody : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase_data();
    void initTestCase();
    void init();
    void cleanupTestCase();

    void wholeAndIdentical();
    void nextAnswerWaitsForTheBody();
    void otherConnectionsServedMeanwhile();
    void clientLeavesInTheMiddle();
    void writerHandsOverInSlices();
    void writerReportsAGoneSocket();

private:
    // The seeded server of each row (http, https) and its answer, read once.
    std::unique_ptr<TestServer> m_servers[2];
    QByteArray m_answers[2];
    TestServer *m_server = nullptr;
    QByteArray *m_plainOf = nullptr;
    QByteArray &plain() { return *m_plainOf; }
};

void tst_LargeBody::initTestCase_data()
{
    QTest::addColumn<bool>("tls");
    QTest::addRow("http") << false;
    QTest::addRow("https") << true;
}

void tst_LargeBody::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
}

void tst_LargeBody::init()
{
    QFETCH_GLOBAL(bool, tls);
    testClientsUseTls() = tls;
    m_server = m_servers[tls].get();
    m_plainOf = &m_answers[tls];
    if (m_server)
        return;
    m_servers[tls] = std::make_unique<TestServer>();
    m_server = m_servers[tls].get();
    if (tls) {
        m_server->config.tlsCertificate = testTlsCertificate();
        m_server->config.tlsKey = testTlsKey();
    }
    QString error;
    QVERIFY2(m_server->start(&error), qPrintable(error));
    for (int agent = 0; agent < Agents; ++agent) {
        QStringList facts;
        facts.reserve(FactsPerAgent);
        for (int i = 0; i < FactsPerAgent; ++i)
            facts.append(fact(agent, i));
        const QByteArray body =
            summaryBody(u"agent-%1"_s.arg(agent), u"2026-01-01T00:00:0%1Z"_s.arg(agent),
                        {{u"topic-%1"_s.arg(agent), agent + 1}}, facts);
        RawHttpClient client;
        QVERIFY(client.connectTo(m_server->port()));
        QVERIFY(client.send(buildJsonPost("/push", body)));
        const HttpResponse r = client.readResponse(false, 120000);
        VERIFY_STATUS(r, 200);
    }
    RawHttpClient client;
    QVERIFY(client.connectTo(m_server->port()));
    QVERIFY(client.send(buildRequest("GET", "/pull")));
    const HttpResponse r = client.readResponse(false, 120000);
    VERIFY_STATUS(r, 200);
    plain() = r.body;
}

void tst_LargeBody::cleanupTestCase()
{
    m_servers[0].reset();
    m_servers[1].reset();
}

// The answer is what was pushed, in order, and every way of reading it gives the same bytes.
void tst_LargeBody::wholeAndIdentical()
{
    QVERIFY(plain().size() > 20'000'000);
    bool ok = false;
    const QJsonDocument doc = QJsonDocument::fromJson(plain());
    QVERIFY(doc.isObject());
    const QJsonArray facts = doc.object().value(u"unique_fact_hashes").toArray();
    QCOMPARE(facts.size(), Agents * FactsPerAgent);
    for (int agent = 0; agent < Agents; ++agent) {
        for (int n = 0; n < FactsPerAgent; n += 997)
            QCOMPARE(facts.at(agent * FactsPerAgent + n).toString(), fact(agent, n));
    }

    // Four pulls at once on four connections (plain, gzip, plain, gzip), read in turns.
    const quint16 port = m_server->port();
    RawHttpClient clients[4];
    for (int i = 0; i < 4; ++i) {
        QVERIFY(clients[i].connectTo(port));
        const RawHeaders headers =
            i % 2 ? RawHeaders{{"Accept-Encoding"_ba, "gzip"_ba}} : RawHeaders{};
        QVERIFY(clients[i].send(buildRequest("GET", "/pull", {}, headers)));
    }
    for (int i = 0; i < 4; ++i) {
        const HttpResponse r = clients[i].readResponse(false, 120000);
        VERIFY_STATUS(r, 200);
        QCOMPARE(r.header("content-length").toLongLong(), r.body.size());
        if (i % 2) {
            QCOMPARE(r.header("content-encoding"), "gzip"_ba);
            const QByteArray decoded = gunzip(r.body, &ok);
            QVERIFY(ok);
            QVERIFY(decoded == plain());
        } else {
            QVERIFY(r.body == plain());
        }
    }
}

// Pipelined behind a pull on one connection, a request is answered after the whole body.
void tst_LargeBody::nextAnswerWaitsForTheBody()
{
    RawHttpClient client;
    QVERIFY(client.connectTo(m_server->port()));
    QVERIFY(client.send(buildRequest("GET", "/pull") + buildRequest("GET", "/health") +
                        buildRequest("GET", "/pull")));
    // Nothing read for a while: the server's buffers fill up while the body is not out.
    QTest::qWait(300);
    HttpResponse r = client.readResponse(false, 120000);
    VERIFY_STATUS(r, 200);
    QVERIFY(r.body == plain());
    r = client.readResponse(false, 120000);
    VERIFY_STATUS(r, 200);
    QCOMPARE(r.object().value(u"status").toString(), u"healthy"_s);
    r = client.readResponse(false, 120000);
    VERIFY_STATUS(r, 200);
    QVERIFY(r.body == plain());
    QVERIFY(client.pending().isEmpty());
}

// A pull whose reader does not read stays in the middle of its body; pushes and a /health on
// other connections are answered meanwhile, and the body then arrives whole.
void tst_LargeBody::otherConnectionsServedMeanwhile()
{
    const quint16 port = m_server->port();
    RawHttpClient puller;
    QVERIFY(puller.connectTo(port));
    QVERIFY(puller.send(buildRequest("GET", "/pull")));
    QTest::qWait(200);
    for (int i = 0; i < 5; ++i) {
        const HttpResponse push = httpPostJson(
            port, "/push",
            summaryBody(u"pusher"_s, u"2026-01-02T00:00:0%1Z"_s.arg(i), {{u"t"_s, i}}, {}));
        VERIFY_STATUS(push, 200);
    }
    VERIFY_STATUS(httpGet(port, "/health"), 200);
    const HttpResponse r = puller.readResponse(false, 120000);
    VERIFY_STATUS(r, 200);
    // The state the pull asked for, not the pushes after it.
    QVERIFY(r.body == plain());
    // The pushes count from now on; the seeded answer is read again for the next test.
    const HttpResponse after = httpGet(port, "/pull");
    VERIFY_STATUS(after, 200);
    QCOMPARE(after.object().value(u"contributing_agents").toInteger(), Agents + 1);
    QVERIFY(after.body != plain());
    plain() = after.body;
}

// Clients that close while their body is being written: the server goes on serving, and
// the next pulls are whole.
void tst_LargeBody::clientLeavesInTheMiddle()
{
    const quint16 port = m_server->port();
    for (int i = 0; i < 3; ++i) {
        RawHttpClient client;
        QVERIFY(client.connectTo(port));
        QVERIFY(client.send(buildRequest("GET", "/pull")));
        QVERIFY(client.socket().waitForReadyRead(10000));
        if (i == 1)
            client.socket().abort(); // a reset
        else
            client.socket().disconnectFromHost();
    }
    VERIFY_STATUS(httpGet(port, "/health"), 200);
    const HttpResponse r = httpGet(port, "/pull");
    VERIFY_STATUS(r, 200);
    QVERIFY(r.body == plain());
}

// BodyWriter alone, on a socket pair in this thread: the socket never holds more than about
// a slice (instead of the whole body at once), `done` comes from the event loop, and the
// reader gets every byte in order.
void tst_LargeBody::writerHandsOverInSlices()
{
    SocketPair pair;
    QVERIFY(pair.connect());
    QTcpSocket &client = pair.client;
    QTcpSocket *socket = pair.server;

    QList<QByteArray> pieces;
    QByteArray expected;
    qsizetype largest = 0;
    for (int i = 0; i < 300; ++i) {
        const QByteArray piece(70000 + i, char('a' + i % 26));
        pieces.append(piece);
        expected += piece;
        largest = std::max(largest, piece.size());
    }
    BodyWriter writer;
    qint64 most = 0;
    connect(socket, &QIODevice::bytesWritten, socket,
            [&] { most = std::max(most, socket->bytesToWrite()); });
    bool finished = false;
    bool written = false;
    writer.write(socket, pieces, [&](bool ok) {
        finished = true;
        written = ok;
    });
    QVERIFY(!finished);
    QCOMPARE(writer.pending(), 1);
    QByteArray received;
    QElapsedTimer timer;
    timer.start();
    while ((received.size() < expected.size() || !finished) && !timer.hasExpired(60000)) {
        QCoreApplication::processEvents(QEventLoop::AllEvents, 50);
        most = std::max(most, socket->bytesToWrite());
        received += client.readAll();
    }
    QVERIFY(finished);
    QVERIFY(written);
    QCOMPARE(writer.pending(), 0);
    QCOMPARE(received.size(), expected.size());
    QVERIFY(received == expected);
    // A slice is whole pieces up to SliceBytes: at most that and one piece more.
    QVERIFY2(most <= BodyWriter::SliceBytes + largest, QByteArray::number(most).constData());
    QVERIFY(writer.counters().slices >= expected.size() / (BodyWriter::SliceBytes + largest));
}

// A socket that closes before its body is out: `done(false)`, and nothing is written after.
void tst_LargeBody::writerReportsAGoneSocket()
{
    SocketPair pair;
    QVERIFY(pair.connect());
    QTcpSocket &client = pair.client;
    QTcpSocket *socket = pair.server;

    // Far more than the system buffers take while the client reads nothing (its socket
    // stops reading from the system once it holds 4 kB).
    client.setReadBufferSize(4096);
    const QList<QByteArray> pieces(1000, QByteArray(100000, 'x'));
    BodyWriter writer;
    int calls = 0;
    bool written = true;
    writer.write(socket, pieces, [&](bool ok) {
        ++calls;
        written = ok;
    });
    QTest::qWait(100);
    QCOMPARE(calls, 0);
    socket->abort();
    QTRY_COMPARE_WITH_TIMEOUT(calls, 1, 10000);
    QVERIFY(!written);
    QCOMPARE(writer.pending(), 0);
    QTest::qWait(50);
    QCOMPARE(calls, 1);
}

QTEST_GUILESS_MAIN(tst_LargeBody)
#include "tst_largebody.moc"
