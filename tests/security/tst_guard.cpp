// The connection guard over real sockets: every limit of src/server/connectionguard.h is
// attacked the way a hostile or broken client would, and the answer, the closing of the
// connection, the server's memory and the store are checked. The server runs in this
// process (its own thread), so /proc/self/status shows its memory.
#include "testsupport.h"

#include <QElapsedTimer>
#include <QFile>
#include <QStandardPaths>
#include <QTest>
#include <QThread>
#include <QtTest>

#include <functional>
#include <memory>
#include <vector>

// Linux only: the resident memory from /proc and a raw socket that keeps sending after the
// server half-closed. Every other check runs everywhere.
#ifdef Q_OS_LINUX
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#define AGMEM_TEST_RSS 1
#endif

using namespace Qt::StringLiterals;
using namespace agmem::test;

namespace {

#ifdef AGMEM_TEST_RSS
// Resident memory of this process (server included), in KiB.
qint64 residentKiB()
{
    QFile status(u"/proc/self/status"_s);
    if (!status.open(QIODevice::ReadOnly))
        return -1;
    for (const QByteArray &line : status.readAll().split('\n')) {
        if (line.startsWith("VmRSS:"))
            return line.mid(6).trimmed().split(' ').first().toLongLong();
    }
    return -1;
}
#endif

QByteArray pushBody(const QString &agent = u"agent-1"_s)
{
    return summaryBody(agent, u"2025-01-01T00:00:00+00:00"_s, QJsonObject{{u"t"_s, 1}}, {u"f"_s});
}

struct PullSnapshot
{
    QByteArray body;
    QByteArray etag;
};

PullSnapshot pullSnapshot(quint16 port)
{
    const HttpResponse r = httpGet(port, "/pull");
    return {r.body, r.header("etag")};
}

} // namespace

#define VERIFY_UNCHANGED(port, before)                                                             \
    do {                                                                                           \
        const PullSnapshot after_ = pullSnapshot(port);                                            \
        QCOMPARE(after_.body, (before).body);                                                      \
        QCOMPARE(after_.etag, (before).etag);                                                      \
    } while (false)

class TstGuard : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void hugeUploadRefusedAtOnce();
    void headTooLarge();
    void malformed_data();
    void malformed();
    void badAfterGoodInOneWrite();
    void badAfterGoodInLaterWrite();
    void chunkedRefused();
    void expectContinue();
    void expectContinueTooLarge();
    void closeAfterResponse_data();
    void closeAfterResponse();
    void keepAliveByDefault();
    void idleTimeout();
    void slowloris();
    void connectionCap();
    void pipelining();
    void splitRequest();
    void laterRequestsStillScanned();

private:
    std::unique_ptr<TestServer>
    startServer(const std::function<void(agmem::ServerConfig &)> &setup = {});
};

void TstGuard::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
}

std::unique_ptr<TestServer>
TstGuard::startServer(const std::function<void(agmem::ServerConfig &)> &setup)
{
    auto server = std::make_unique<TestServer>();
    if (setup)
        setup(server->config);
    QString error;
    if (!server->start(&error)) {
        qWarning() << "server did not start:" << error;
        return nullptr;
    }
    return server;
}

// A 200 MB upload: 413 before the body is sent, and the server never buffers it.
void TstGuard::hugeUploadRefusedAtOnce()
{
    auto server = startServer();
    QVERIFY(server);
    const quint16 port = server->port();
    QCOMPARE(httpPostJson(port, "/push", pushBody()).status, 200);
    const PullSnapshot before = pullSnapshot(port);

    const qint64 total = 200LL * 1024 * 1024;
#ifdef AGMEM_TEST_RSS
    const qint64 rssBefore = residentKiB();
    QVERIFY(rssBefore > 0);
#endif

    RawHttpClient client;
    QVERIFY(client.connectTo(port));
    QElapsedTimer timer;
    timer.start();
    QVERIFY(client.send("POST /push HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                        "application/json\r\nContent-Length: " +
                        QByteArray::number(total) + "\r\n\r\n"));
    // Answered from the head alone: no body byte has been sent yet.
    const HttpResponse refused = client.readResponse(false, 5000);
    QVERIFY2(refused.valid, qPrintable(refused.error));
    QCOMPARE(refused.status, 413);
    QVERIFY(timer.elapsed() < 3000);
    QVERIFY(refused.object().value(u"detail"_s).isString());

    client.socket().abort();

#ifdef AGMEM_TEST_RSS
    // A client that streams the whole body without listening: a plain socket, which (unlike
    // QTcpSocket) keeps sending after the server has half-closed. The server drains what
    // arrives without keeping it, and resets the connection after a few seconds at most.
    const qint64 rssBefore2 = residentKiB();
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    QVERIFY(fd >= 0);
    const timeval sendTimeout{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &sendTimeout, sizeof sendTimeout);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    QCOMPARE(::connect(fd, reinterpret_cast<const sockaddr *>(&address), sizeof address), 0);
    const QByteArray head = "POST /push HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                            "application/json\r\nContent-Length: " +
                            QByteArray::number(total) + "\r\n\r\n";
    QCOMPARE(::send(fd, head.constData(), size_t(head.size()), MSG_NOSIGNAL), ssize_t(head.size()));
    const QByteArray chunk(1024 * 1024, '{');
    qint64 sent = 0;
    timer.restart();
    while (sent < total && !timer.hasExpired(30000)) {
        const ssize_t n = ::send(fd, chunk.constData(), size_t(chunk.size()), MSG_NOSIGNAL);
        if (n <= 0)
            break;
        sent += n;
    }
    qInfo() << "body bytes sent before the server closed:" << sent << "of" << total << "in"
            << timer.elapsed() << "ms";
    QVERIFY(sent > 8 * 1024 * 1024); // far beyond what a 413 needs: it was drained
    QByteArray answer(4096, Qt::Uninitialized);
    const ssize_t got = ::recv(fd, answer.data(), size_t(answer.size()), MSG_DONTWAIT);
    if (got > 0)
        QVERIFY(answer.startsWith("HTTP/1.1 413"));
    ::close(fd);
    const qint64 grownKiB = residentKiB() - rssBefore2;
    qInfo() << "RSS grew by" << grownKiB << "KiB (413 at once:" << rssBefore2 - rssBefore << "KiB)";
#if defined(__SANITIZE_ADDRESS__)
    // ASan keeps freed memory in quarantine (256 MB): RSS says nothing about buffering here.
    qInfo() << "AddressSanitizer build: the RSS bound is checked in the normal build only";
#else
    QVERIFY2(grownKiB < 10 * 1024, qPrintable(QString::number(grownKiB)));
#endif
#else
    qInfo() << "the streamed-body and memory part needs Linux (/proc, POSIX sockets)";
#endif
    VERIFY_UNCHANGED(port, before);
}

void TstGuard::headTooLarge()
{
    auto server = startServer();
    QVERIFY(server);
    const quint16 port = server->port();
    const PullSnapshot before = pullSnapshot(port);
    const int limit = agmem::ConnectionLimits::DefaultMaxHeadBytes;

    // At the limit: served.
    QByteArray head = "GET /pull HTTP/1.1\r\nHost: x\r\nX-Pad: ";
    head += QByteArray(limit - head.size(), 'a');
    QCOMPARE(head.size(), limit);
    HttpResponse r = httpExchange(port, head + "\r\n\r\n");
    QVERIFY2(r.valid, qPrintable(r.error));
    QCOMPARE(r.status, 200);

    // One byte over: 431 and closed, even though the client keeps sending header lines.
    RawHttpClient client;
    QVERIFY(client.connectTo(port));
    QVERIFY(client.send(head + "a\r\n\r\n"));
    r = client.readResponse();
    QVERIFY2(r.valid, qPrintable(r.error));
    QCOMPARE(r.status, 431);
    QVERIFY(client.waitForDisconnected(10000));

    // A push whose headers never end.
    RawHttpClient endless;
    QVERIFY(endless.connectTo(port));
    QByteArray lines = "POST /push HTTP/1.1\r\n";
    for (int i = 0; lines.size() < 4 * limit; ++i)
        lines += "X-" + QByteArray::number(i) + ": " + QByteArray(60, 'b') + "\r\n";
    endless.send(lines); // may fail half-way once the server has closed
    r = endless.readResponse();
    QVERIFY2(r.valid, qPrintable(r.error));
    QCOMPARE(r.status, 431);
    VERIFY_UNCHANGED(port, before);
}

void TstGuard::malformed_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<int>("status");
    const QByteArray body = pushBody();
    const QByteArray cl = "Content-Length: " + QByteArray::number(body.size()) + "\r\n";
    QTest::addRow("no version") << QByteArray("POST /push\r\n\r\n") << 400;
    QTest::addRow("HTTP/2.0") << QByteArray("POST /push HTTP/2.0\r\n" + cl + "\r\n" + body) << 400;
    QTest::addRow("garbage") << QByteArrayLiteral(
                                    "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n")
                             << 400;
    QTest::addRow("header without colon")
        << QByteArray("POST /push HTTP/1.1\r\nHost x\r\n" + cl + "\r\n" + body) << 400;
    QTest::addRow("folded header")
        << QByteArray("POST /push HTTP/1.1\r\nX-A: b\r\n c\r\n" + cl + "\r\n" + body) << 400;
    QTest::addRow("conflicting Content-Length")
        << QByteArray("POST /push HTTP/1.1\r\n" + cl + "Content-Length: 3\r\n\r\n" + body) << 400;
    QTest::addRow("negative Content-Length")
        << QByteArray("POST /push HTTP/1.1\r\nContent-Length: -5\r\n\r\n" + body) << 400;
    QTest::addRow("Expect other") << QByteArray("POST /push HTTP/1.1\r\nExpect: 200-ok\r\n" + cl +
                                                "\r\n" + body)
                                  << 417;
    // A bad request after a good one that was answered on the same connection.
    QTest::addRow("after an answered one") << QByteArray("BAD REQUEST\r\n\r\n") << 400;
}

void TstGuard::malformed()
{
    QFETCH(QByteArray, bytes);
    QFETCH(int, status);
    auto server = startServer();
    QVERIFY(server);
    const quint16 port = server->port();

    RawHttpClient client;
    QVERIFY(client.connectTo(port));
    if (QByteArray(QTest::currentDataTag()) == "after an answered one")
        QCOMPARE(client.request(buildJsonPost("/push", pushBody(u"first"_s))).status, 200);
    const PullSnapshot beforeBad = pullSnapshot(port);
    QVERIFY(client.send(bytes));
    HttpResponse r = client.readResponse();
    QVERIFY2(r.valid, qPrintable(r.error));
    QCOMPARE(r.status, status);
    QVERIFY(r.object().value(u"detail"_s).isString());
    QVERIFY(client.waitForDisconnected(10000));
    VERIFY_UNCHANGED(port, beforeBad);
}

// A malformed request pipelined behind a valid push in the same write: the push is
// answered (and stored) first, then the 400, then the connection closes. The guard sees
// the bad head before QHttpServer reads the push; it cuts the read buffer after the push
// and holds its answer until the push's answer is written (after the group commit).
void TstGuard::badAfterGoodInOneWrite()
{
    auto server = startServer();
    QVERIFY(server);
    const quint16 port = server->port();
    RawHttpClient client;
    QVERIFY(client.connectTo(port));
    QVERIFY(client.send(buildJsonPost("/push", pushBody(u"pipelined"_s)) + "BAD\r\n\r\n" +
                        buildRequest("GET", "/health")));
    HttpResponse r = client.readResponse();
    QVERIFY2(r.valid, qPrintable(r.error));
    QCOMPARE(r.status, 200);
    QCOMPARE(r.object().value(u"agent_id"_s).toString(), u"pipelined"_s);
    r = client.readResponse();
    VERIFY_STATUS(r, 400);
    // Nothing after the bad request is answered: the connection closes.
    QVERIFY(client.waitForDisconnected(10000));
    QCOMPARE(httpGet(port, "/pull").object().value(u"contributing_agents"_s).toInt(), 1);
}

// The same when the bad request comes in a later write, while the push before it may
// still wait for its commit: answers keep the order of the requests.
void TstGuard::badAfterGoodInLaterWrite()
{
    auto server = startServer();
    QVERIFY(server);
    const quint16 port = server->port();
    RawHttpClient client;
    QVERIFY(client.connectTo(port));
    QVERIFY(client.send(buildJsonPost("/push", pushBody(u"first"_s))));
    QVERIFY(client.send("GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"));
    HttpResponse r = client.readResponse();
    QVERIFY2(r.valid, qPrintable(r.error));
    QCOMPARE(r.status, 200);
    QCOMPARE(r.object().value(u"agent_id"_s).toString(), u"first"_s);
    r = client.readResponse();
    VERIFY_STATUS(r, 400);
    QVERIFY(client.waitForDisconnected(10000));
    QCOMPARE(httpGet(port, "/pull").object().value(u"contributing_agents"_s).toInt(), 1);
}

// Chunked bodies: 411 (documented choice: no unbounded bodies), nothing stored.
void TstGuard::chunkedRefused()
{
    auto server = startServer();
    QVERIFY(server);
    const quint16 port = server->port();
    const PullSnapshot before = pullSnapshot(port);
    const QByteArray body = pushBody(u"chunked"_s);
    RawHttpClient client;
    QVERIFY(client.connectTo(port));
    QVERIFY(client.send("POST /push HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n" +
                        QByteArray::number(body.size(), 16) + "\r\n" + body + "\r\n0\r\n\r\n"));
    const HttpResponse r = client.readResponse();
    QVERIFY2(r.valid, qPrintable(r.error));
    QCOMPARE(r.status, 411);
    QVERIFY(client.waitForDisconnected(10000));
    VERIFY_UNCHANGED(port, before);
}

void TstGuard::expectContinue()
{
    auto server = startServer();
    QVERIFY(server);
    const quint16 port = server->port();
    const QByteArray body = pushBody(u"patient"_s);
    RawHttpClient client;
    QVERIFY(client.connectTo(port));
    QVERIFY(client.send("POST /push HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        "Expect: 100-continue\r\nContent-Length: " +
                        QByteArray::number(body.size()) + "\r\n\r\n"));
    HttpResponse r = client.readResponse(false, 5000);
    QVERIFY2(r.valid, qPrintable(r.error));
    QCOMPARE(r.status, 100);
    QVERIFY(client.send(body));
    r = client.readResponse();
    QVERIFY2(r.valid, qPrintable(r.error));
    QCOMPARE(r.status, 200);
    QCOMPARE(httpGet(port, "/pull").object().value(u"contributing_agents"_s).toInt(), 1);
    // The connection stays usable.
    r = client.request(buildRequest("GET", "/health"));
    QCOMPARE(r.status, 200);
}

void TstGuard::expectContinueTooLarge()
{
    auto server = startServer([](agmem::ServerConfig &c) { c.limits.maxBodyBytes = 1000; });
    QVERIFY(server);
    const quint16 port = server->port();
    const PullSnapshot before = pullSnapshot(port);
    RawHttpClient client;
    QVERIFY(client.connectTo(port));
    QVERIFY(client.send("POST /push HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        "Expect: 100-continue\r\nContent-Length: 1001\r\n\r\n"));
    const HttpResponse r = client.readResponse(false, 5000);
    QVERIFY2(r.valid, qPrintable(r.error));
    QCOMPARE(r.status, 413); // no "100 Continue" before it
    QVERIFY(client.waitForDisconnected(10000));
    QVERIFY(!client.pending().contains("100 Continue"));
    VERIFY_UNCHANGED(port, before);
}

void TstGuard::closeAfterResponse_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<int>("answers");
    const QByteArray body = pushBody(u"closer"_s);
    QTest::addRow("HTTP/1.0") << QByteArray("GET /health HTTP/1.0\r\n\r\n") << 1;
    QTest::addRow("Connection: close") << buildRequest("GET", "/health", {}, {}, true) << 1;
    QTest::addRow("push with Connection: close") << buildJsonPost("/push", body, true) << 1;
    QTest::addRow("close on the second of three")
        << QByteArray(buildRequest("GET", "/health") + buildRequest("GET", "/pull", {}, {}, true) +
                      buildRequest("GET", "/health"))
        << 2;
}

// The connection closes right after the answer that asked for it; later pipelined
// requests are not answered.
void TstGuard::closeAfterResponse()
{
    QFETCH(QByteArray, bytes);
    QFETCH(int, answers);
    auto server = startServer();
    QVERIFY(server);
    RawHttpClient client;
    QVERIFY(client.connectTo(server->port()));
    QVERIFY(client.send(bytes));
    for (int i = 0; i < answers; ++i) {
        const HttpResponse r = client.readResponse();
        QVERIFY2(r.valid, qPrintable(r.error));
        QCOMPARE(r.status, 200);
    }
    QElapsedTimer timer;
    timer.start();
    QVERIFY(client.waitForDisconnected(5000));
    QVERIFY(timer.elapsed() < 3000); // closed by the server, not by a timeout
    QCOMPARE(client.pending(), QByteArray());
}

void TstGuard::keepAliveByDefault()
{
    auto server = startServer();
    QVERIFY(server);
    RawHttpClient client;
    QVERIFY(client.connectTo(server->port()));
    for (int i = 0; i < 5; ++i)
        QCOMPARE(client.request(buildRequest("GET", "/health")).status, 200);
    QVERIFY(!client.waitForDisconnected(300));
    QCOMPARE(client.request("GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").status, 200);
    QVERIFY(!client.waitForDisconnected(300));
}

// An idle keep-alive connection is closed; a busy one on the same server is not.
void TstGuard::idleTimeout()
{
    auto server = startServer([](agmem::ServerConfig &c) {
        c.connection.idleTimeoutMs = 1500;
        c.connection.readTimeoutMs = 10000;
    });
    QVERIFY(server);
    const quint16 port = server->port();
    RawHttpClient idle, busy;
    QVERIFY(idle.connectTo(port));
    QVERIFY(busy.connectTo(port));
    QCOMPARE(idle.request(buildRequest("GET", "/health")).status, 200);

    QElapsedTimer timer;
    timer.start();
    int served = 0;
    qint64 idleClosedAt = -1;
    while (!timer.hasExpired(4500)) {
        QCOMPARE(busy.request(buildRequest("GET", "/health")).status, 200);
        ++served;
        if (idleClosedAt < 0 && idle.waitForDisconnected(250))
            idleClosedAt = timer.elapsed();
        else if (idleClosedAt >= 0)
            QTest::qWait(250);
    }
    QVERIFY2(idleClosedAt >= 1000 && idleClosedAt < 4000,
             qPrintable(QString::number(idleClosedAt)));
    QCOMPARE(idle.pending(), QByteArray()); // closed without an answer
    QVERIFY(served >= 10);
    QCOMPARE(busy.socket().state(), QAbstractSocket::ConnectedState);
    QCOMPARE(busy.request(buildRequest("GET", "/health")).status, 200);
}

// A client that sends its head one byte at a time is dropped with 408 once the read
// timeout passes; a normal client is served meanwhile.
void TstGuard::slowloris()
{
    auto server = startServer([](agmem::ServerConfig &c) {
        c.connection.readTimeoutMs = 1500;
        c.connection.idleTimeoutMs = 30000;
    });
    QVERIFY(server);
    const quint16 port = server->port();
    const PullSnapshot before = pullSnapshot(port);
    const QByteArray body = pushBody(u"slow"_s);
    const QByteArray request = buildJsonPost("/push", body);

    RawHttpClient slow, normal;
    QVERIFY(slow.connectTo(port));
    QVERIFY(normal.connectTo(port));
    QElapsedTimer timer;
    timer.start();
    qsizetype pos = 0;
    int normalServed = 0;
    while (pos < request.size() - 1 && slow.socket().state() == QAbstractSocket::ConnectedState &&
           !timer.hasExpired(6000)) {
        slow.socket().write(request.mid(pos++, 1));
        slow.socket().waitForBytesWritten(100);
        if (slow.socket().waitForReadyRead(150))
            break;
        if (pos % 4 == 0) {
            QCOMPARE(normal.request(buildRequest("GET", "/health")).status, 200);
            ++normalServed;
        }
    }
    QVERIFY(pos < request.size() - 1); // stopped before the request was complete
    const HttpResponse r = slow.readResponse(false, 5000);
    QVERIFY2(r.valid, qPrintable(r.error));
    QCOMPARE(r.status, 408);
    QVERIFY2(timer.elapsed() >= 1400 && timer.elapsed() < 5000,
             qPrintable(QString::number(timer.elapsed())));
    QVERIFY(slow.waitForDisconnected(5000));
    QVERIFY(normalServed >= 2);
    QCOMPARE(normal.request(buildRequest("GET", "/health")).status, 200);
    VERIFY_UNCHANGED(port, before);
}

// Beyond the cap, new connections get 503 at once; they are served again once others
// close.
void TstGuard::connectionCap()
{
    auto server = startServer([](agmem::ServerConfig &c) { c.connection.maxConnections = 3; });
    QVERIFY(server);
    const quint16 port = server->port();
    std::vector<std::unique_ptr<RawHttpClient>> open;
    for (int i = 0; i < 3; ++i) {
        open.push_back(std::make_unique<RawHttpClient>());
        QVERIFY(open.back()->connectTo(port));
        QCOMPARE(open.back()->request(buildRequest("GET", "/health")).status, 200);
    }
    for (int i = 0; i < 3; ++i) {
        QElapsedTimer timer;
        timer.start();
        RawHttpClient extra;
        QVERIFY(extra.connectTo(port));
        // Refused without being asked anything.
        const HttpResponse r = extra.readResponse(false, 3000);
        QVERIFY2(r.valid, qPrintable(r.error));
        QCOMPARE(r.status, 503);
        QVERIFY(r.hasHeader("retry-after"));
        QVERIFY(timer.elapsed() < 2000);
        QVERIFY(extra.waitForDisconnected(3000));
    }
    // The open ones are unaffected.
    for (auto &c : open)
        QCOMPARE(c->request(buildRequest("GET", "/health")).status, 200);

    open.front()->socket().disconnectFromHost();
    open.erase(open.begin());
    QElapsedTimer timer;
    timer.start();
    int status = 0;
    while (status != 200 && !timer.hasExpired(5000)) {
        status = httpGet(port, "/health").status;
        if (status != 200)
            QTest::qWait(50);
    }
    QCOMPARE(status, 200);
}

// Requests sent together in one write are answered in order through the guard.
void TstGuard::pipelining()
{
    auto server = startServer();
    QVERIFY(server);
    const quint16 port = server->port();
    RawHttpClient client;
    QVERIFY(client.connectTo(port));
    const QByteArray push1 = buildJsonPost("/push", pushBody(u"p1"_s));
    const QByteArray push2 = buildJsonPost("/push", pushBody(u"p2"_s));
    QVERIFY(client.send(push1 + buildRequest("GET", "/health") + push2 +
                        buildRequest("GET", "/pull") + buildRequest("GET", "/nowhere")));
    QCOMPARE(client.readResponse().status, 200);
    QCOMPARE(client.readResponse().status, 200);
    QCOMPARE(client.readResponse().status, 200);
    const HttpResponse pull = client.readResponse();
    QCOMPARE(pull.status, 200);
    QVERIFY(pull.body.contains("metadata"));
    QCOMPARE(client.readResponse().status, 404);
    QVERIFY(!client.waitForDisconnected(200));
}

// A request that arrives (in its own segment) while the one before it waits for its
// answer, on a keep-alive connection that has been answered before: the guard still scans
// its head. (Qt 6.8's QHttpServer connects its readyRead slot again after each request,
// behind the guard's: unless the guard moves its after-read slot back behind it, it takes
// bytes QHttpServer has not read yet for bytes it left unread, and skips the next head.
// Without that, about one trial in three lost its 413 on 6.8.2.)
void TstGuard::laterRequestsStillScanned()
{
    auto server = startServer();
    QVERIFY(server);
    const quint16 port = server->port();
    const QByteArray push = buildJsonPost("/push", pushBody(u"later"_s));
    const QByteArray tooLarge =
        "POST /push HTTP/1.1\r\nHost: a\r\nContent-Length: 999999999999\r\n\r\n";
    QVERIFY(tooLarge.size() < push.size());
    for (int trial = 0; trial < 10; ++trial) {
        RawHttpClient client;
        QVERIFY(client.connectTo(port));
        client.socket().setSocketOption(QAbstractSocket::LowDelayOption, 1);
        QVERIFY(client.send(buildRequest("GET", "/health")));
        QCOMPARE(client.readResponse().status, 200);
        QVERIFY(client.send(push));
        QThread::msleep(1);
        QVERIFY(client.send(tooLarge));
        QCOMPARE(client.readResponse().status, 200);
        const HttpResponse refused = client.readResponse(false, 5000);
        QVERIFY2(refused.valid, qPrintable(u"trial %1: %2"_s.arg(trial).arg(refused.error)));
        QCOMPARE(refused.status, 413);
    }
}

// The real client's request split into tiny writes, with pauses between them.
void TstGuard::splitRequest()
{
    auto server = startServer();
    QVERIFY(server);
    QFile file(QStringLiteral(AGMEM_SOURCE_DIR "/tests/data/client-push.http"));
    QVERIFY(file.open(QIODevice::ReadOnly));
    const QByteArray bytes = file.readAll();
    RawHttpClient client;
    QVERIFY(client.connectTo(server->port()));
    for (qsizetype pos = 0; pos < bytes.size(); pos += 7) {
        QVERIFY(client.send(bytes.mid(pos, 7)));
        if (pos % 70 == 0)
            QThread::msleep(5);
    }
    const HttpResponse r = client.readResponse();
    QVERIFY2(r.valid, qPrintable(r.error));
    QCOMPARE(r.status, 200);
    QVERIFY(client.waitForDisconnected(3000)); // the client asked for Connection: close
    QVERIFY(httpGet(server->port(), "/pull").body.contains("databases"));
}

QTEST_GUILESS_MAIN(TstGuard)

#include "tst_guard.moc"
