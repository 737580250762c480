// The connection guard over real sockets: every limit of src/server/connectionguard.h is
// attacked the way a hostile or broken client would, and the answer, the closing of the
// connection, the server's memory and the store are checked. The server runs in this
// process (its own thread), so /proc/self/status shows its memory.
#include "testsupport.h"

#include "server/connectionguard.h"
#include "server/httpserveradapter.h"
#include "server/platform.h"

#include <QAbstractHttpServer>
#include <QElapsedTimer>
#include <QFile>
#include <QHttpServerRequest>
#include <QHttpServerResponder>
#include <QLibrary>
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
#include <signal.h>
#include <sys/resource.h>
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

// A push of agent "big" with `count` facts of ~50 characters (a large /pull answer).
QByteArray bigPushBody(int count)
{
    QStringList facts;
    for (int i = 0; i < count; ++i)
        facts << u"fact-%1-"_s.arg(i) + QString(40, u'x');
    return summaryBody(u"big"_s, u"2025-01-01T00:00:00+00:00"_s, QJsonObject{{u"t"_s, 1}}, facts);
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

// A bare QHttpServer (the real parser of the Qt in use) that records what it parsed.
class RecordingHttpServer : public QAbstractHttpServer
{
public:
    struct Parsed
    {
        QByteArray path;
        qsizetype headers = 0;
        qsizetype bodySize = 0;
    };
    QList<Parsed> parsed;
    // Each request as the server's adapter hands it to the API when QHttpServer parses it.
    QList<agmem::HttpRequest> requests;

protected:
#if QT_VERSION < QT_VERSION_CHECK(6, 5, 0)
    bool handleRequest(const QHttpServerRequest &request, QTcpSocket *socket) override
    {
        parsed.append(
            {request.url().path().toUtf8(), request.headers().size(), request.body().size()});
        requests.append(agmem::HttpServerAdapter::toHttpRequest(request));
        socket->write("HTTP/1.1 204 No Content\r\n\r\n");
        return true;
    }
    void missingHandler(const QHttpServerRequest &, QTcpSocket *) override {}
#else
    bool handleRequest(const QHttpServerRequest &request, QHttpServerResponder &responder) override
    {
        parsed.append(
            {request.url().path().toUtf8(), request.headers().size(), request.body().size()});
        requests.append(agmem::HttpServerAdapter::toHttpRequest(request));
        responder.write(QHttpServerResponder::StatusCode::NoContent);
        return true;
    }
    void missingHandler(const QHttpServerRequest &, QHttpServerResponder &) override {}
#endif
};

#ifdef AGMEM_TEST_RSS
// A plain socket whose receive window stays tiny: a client that does not read.
int slowReader(quint16 port)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    const int small = 4096;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<const sockaddr *>(&address), sizeof address) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

bool sendAll(int fd, const QByteArray &bytes)
{
    qsizetype sent = 0;
    while (sent < bytes.size()) {
        const ssize_t n =
            ::send(fd, bytes.constData() + sent, size_t(bytes.size() - sent), MSG_NOSIGNAL);
        if (n <= 0)
            return false;
        sent += n;
    }
    return true;
}

// A TLS client on a raw socket, from the OpenSSL library Qt itself loads (libssl.so.3,
// resolved at run time like Qt does): unlike QSslSocket it can end its sending side with or
// without a close_notify and still read the answer.
class OpenSslClient
{
public:
    OpenSslClient()
        : m_ssl(u"ssl"_s, 3)
    {
        if (!m_ssl.load()) {
            m_error = m_ssl.errorString();
            return;
        }
        const bool resolved = resolve(m_clientMethod, "TLS_client_method") &&
                              resolve(m_ctxNew, "SSL_CTX_new") &&
                              resolve(m_ctxFree, "SSL_CTX_free") && resolve(m_new, "SSL_new") &&
                              resolve(m_free, "SSL_free") && resolve(m_setFd, "SSL_set_fd") &&
                              resolve(m_connect, "SSL_connect") && resolve(m_write, "SSL_write") &&
                              resolve(m_read, "SSL_read") && resolve(m_shutdown, "SSL_shutdown");
        if (resolved)
            m_ctx = m_ctxNew(m_clientMethod()); // verifies nothing: the test certificate
        if (!m_ctx)
            m_error = u"libssl: no SSL_CTX"_s;
    }
    ~OpenSslClient()
    {
        if (m_conn)
            m_free(m_conn);
        if (m_ctx)
            m_ctxFree(m_ctx);
    }
    OpenSslClient(const OpenSslClient &) = delete;
    OpenSslClient &operator=(const OpenSslClient &) = delete;

    QString error() const { return m_error; }

    // The TLS handshake over a connected socket `fd` (blocking).
    bool handshake(int fd)
    {
        if (!m_ctx)
            return false;
        m_conn = m_new(m_ctx);
        if (!m_conn || m_setFd(m_conn, fd) != 1 || m_connect(m_conn) != 1) {
            m_error = u"TLS handshake failed"_s;
            return false;
        }
        return true;
    }
    bool write(const QByteArray &bytes) { return writeSome(bytes) == bytes.size(); }
    // SSL_write: the bytes written, or <= 0 once the connection failed.
    qint64 writeSome(const QByteArray &bytes)
    {
        return m_write(m_conn, bytes.constData(), int(bytes.size()));
    }
    // Sends close_notify (the TLS end of the data) without waiting for the server's.
    bool sendCloseNotify() { return m_shutdown(m_conn) >= 0; }
    // Everything the server sends until it closes (or the socket's receive timeout).
    QByteArray readToEnd()
    {
        QByteArray all;
        char chunk[4096];
        int n = 0;
        while ((n = m_read(m_conn, chunk, int(sizeof chunk))) > 0)
            all.append(chunk, n);
        return all;
    }

private:
    template <typename F>
    bool resolve(F &function, const char *name)
    {
        function = reinterpret_cast<F>(m_ssl.resolve(name));
        if (!function)
            m_error = u"libssl has no "_s + QLatin1StringView(name);
        return function != nullptr;
    }

    QLibrary m_ssl;
    QString m_error;
    const void *(*m_clientMethod)() = nullptr;
    void *(*m_ctxNew)(const void *) = nullptr;
    void (*m_ctxFree)(void *) = nullptr;
    void *(*m_new)(void *) = nullptr;
    void (*m_free)(void *) = nullptr;
    int (*m_setFd)(void *, int) = nullptr;
    int (*m_connect)(void *) = nullptr;
    int (*m_write)(void *, const void *, int) = nullptr;
    int (*m_read)(void *, void *, int) = nullptr;
    int (*m_shutdown)(void *) = nullptr;
    void *m_ctx = nullptr;
    void *m_conn = nullptr;
};
#endif

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
    void initTestCase_data();
    void initTestCase();
    void init();
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
    void sameFramingAsQt_data();
    void sameFramingAsQt();
    void blankLinesStartTheReadTimeout();
    void idlestClosedAtTheCap();
    void perAddressCap();
    void nothingRunsAfterClose_data();
    void nothingRunsAfterClose();
    void webSocketUpgradeAnsweredOnce();
    void continueOnlyWhenNext();
    void stopIsBoundedWithSlowReaders();
    void halfCloseStillAnswered();
    void halfCloseAnsweredAtOnce();
    void bufferedBodyBudget();
    void unauthorizedBeforeTheBody();
    void openFileLimitRaised();
    void laterRequestsStillScanned();
    void sameRequestAsQt_data();
    void sameRequestAsQt();
    void unknownMethods_data();
    void unknownMethods();
    void expectContinueOnce_data();
    void expectContinueOnce();

private:
    std::unique_ptr<TestServer>
    startServer(const std::function<void(agmem::ServerConfig &)> &setup = {});
};

// Every test runs over plain HTTP and again over HTTPS (the guard wraps each accepted
// socket in TLS itself), with the checked-in test certificate.
void TstGuard::initTestCase_data()
{
    QTest::addColumn<bool>("tls");
    QTest::addRow("http") << false;
    QTest::addRow("https") << true;
}

void TstGuard::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
}

void TstGuard::init()
{
    QFETCH_GLOBAL(bool, tls);
    testClientsUseTls() = tls;
}

std::unique_ptr<TestServer>
TstGuard::startServer(const std::function<void(agmem::ServerConfig &)> &setup)
{
    auto server = std::make_unique<TestServer>();
    if (testClientsUseTls()) {
        server->config.tlsCertificate = testTlsCertificate();
        server->config.tlsKey = testTlsKey();
    }
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
    // Over TLS the same socket carries the TLS client (a write after the reset must not
    // raise SIGPIPE: OpenSSL writes without MSG_NOSIGNAL).
    ::signal(SIGPIPE, SIG_IGN);
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
    OpenSslClient tls;
    if (testClientsUseTls())
        QVERIFY2(tls.handshake(fd), qPrintable(tls.error()));
    const auto sendSome = [&](const QByteArray &bytes) -> qint64 {
        if (testClientsUseTls())
            return tls.writeSome(bytes);
        return ::send(fd, bytes.constData(), size_t(bytes.size()), MSG_NOSIGNAL);
    };
    const QByteArray head = "POST /push HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                            "application/json\r\nContent-Length: " +
                            QByteArray::number(total) + "\r\n\r\n";
    QCOMPARE(sendSome(head), qint64(head.size()));
    const QByteArray chunk(1024 * 1024, '{');
    qint64 sent = 0;
    timer.restart();
    while (sent < total && !timer.hasExpired(30000)) {
        const qint64 n = sendSome(chunk);
        if (n <= 0)
            break;
        sent += n;
    }
    qInfo() << "body bytes sent before the server closed:" << sent << "of" << total << "in"
            << timer.elapsed() << "ms";
    QVERIFY(sent > 8 * 1024 * 1024); // far beyond what a 413 needs: it was drained
    if (!testClientsUseTls()) {
        QByteArray answer(4096, Qt::Uninitialized);
        const ssize_t got = ::recv(fd, answer.data(), size_t(answer.size()), MSG_DONTWAIT);
        if (got > 0)
            QVERIFY(answer.startsWith("HTTP/1.1 413"));
    }
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

    // At the limit: served (fields of 4 KiB: QHttpServer takes at most 8 KiB per field).
    QByteArray head = "GET /pull HTTP/1.1\r\nHost: 127.0.0.1";
    while (limit - head.size() > 4100)
        head += "\r\nX-Pad: " + QByteArray(4000, 'a');
    head += "\r\nX-Pad: ";
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
    QVERIFY(client.send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -1\r\n\r\n"));
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
    QVERIFY(
        client.send("POST /push HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
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
    QVERIFY(
        client.send("POST /push HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
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
    QVERIFY(
        client.send("POST /push HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
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

// Beyond the cap, with every connection busy (a request in progress, so none can be
// closed to make room), new connections get 503 at once; they are served again once
// others close.
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
        QVERIFY(open.back()->send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
    }
    // The server has read the unfinished heads (a request in progress is never closed to
    // make room) before anyone else connects.
    QTest::qWait(500);
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
        QCOMPARE(c->request("\r\n").status, 200);

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

// Issue 11: every head the guard lets through is framed by QHttpServer exactly as the
// guard framed it (same requests, same bodies, no header dropped); what Qt would frame
// differently the guard refuses. Each accepted row runs through the real QHttpServer.
void TstGuard::sameFramingAsQt_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<int>("status");

    const QByteArray host = "Host: 127.0.0.1\r\n";
    auto fields = [](int n) {
        QByteArray extra;
        for (int i = 0; i < n; ++i)
            extra += "X-F" + QByteArray::number(i) + ": v\r\n";
        return extra;
    };
    // A body that is itself a request the guard would refuse (chunked push).
    const QByteArray inner =
        "POST /push HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    auto withBody = [&](const QByteArray &headers, const QByteArray &body) -> QByteArray {
        return "POST /push HTTP/1.1\r\n" + host + headers +
               "Content-Length: " + QByteArray::number(body.size()) + "\r\n\r\n" + body;
    };
    const QByteArray longName = "X-Long: ";

    QTest::addRow("GET") << QByteArray("GET /a HTTP/1.1\r\n" + host + "\r\n") << 0;
    QTest::addRow("POST with a body") << withBody({}, "hello") << 0;
    QTest::addRow("pipelined") << QByteArray(withBody({}, "{}") + "GET /b HTTP/1.1\r\n" + host +
                                             "\r\n")
                               << 0;
    QTest::addRow("bare LF line ends") << QByteArray("GET /a HTTP/1.1\nHost: 127.0.0.1\n\n") << 0;
    QTest::addRow("CRLF LF ends the head")
        << QByteArray(
               "GET /a HTTP/1.1\r\nHost: 127.0.0.1\r\n\nGET /b HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        << 0;
    QTest::addRow("LF CRLF ends the head")
        << QByteArray(
               "GET /a HTTP/1.1\nHost: 127.0.0.1\n\r\nGET /b HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        << 0;
    QTest::addRow("blank lines first")
        << QByteArray("\r\n\r\nGET /a HTTP/1.1\r\n" + host + "\r\n") << 0;
    QTest::addRow("100 fields") << withBody(fields(98), inner) << 0;
    QTest::addRow("101 fields") << withBody(fields(99), inner) << 431;
    QTest::addRow("150 fields") << withBody(fields(148), inner) << 431;
    QTest::addRow("field of 8 KiB")
        << withBody(longName + QByteArray(8192 - longName.size(), 'a') + "\r\n", inner) << 0;
    QTest::addRow("field of 8 KiB + 1")
        << withBody(longName + QByteArray(8193 - longName.size(), 'a') + "\r\n", inner) << 431;
    QTest::addRow("obs-fold") << withBody("X-A: b\r\n  c\r\n", inner) << 400;
    QTest::addRow("obs-fold first")
        << QByteArray("POST /push HTTP/1.1\r\n folded: x\r\nContent-Length: 3\r\n\r\nabc") << 400;
    QTest::addRow("equal Content-Length twice") << withBody("Content-Length: 2\r\n", "{}") << 0;
    QTest::addRow("conflicting Content-Length")
        << withBody("Content-Length: 200000000\r\n", inner) << 400;
    QTest::addRow("Content-Length and Transfer-Encoding")
        << withBody("Transfer-Encoding: chunked\r\n", "0\r\n\r\n") << 411;
    QTest::addRow("Transfer-Encoding identity")
        << QByteArray(
               "POST /push HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: identity\r\n\r\n")
        << 411;
    QTest::addRow("Content-Length +5")
        << QByteArray("POST /p HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: +5\r\n\r\nhello")
        << 400;
    QTest::addRow("Content-Length 0x5")
        << QByteArray("POST /p HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0x5\r\n\r\nhello")
        << 400;
    QTest::addRow("Content-Length beyond 64 bits")
        << QByteArray(
               "POST /p HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 18446744073709551621\r\n"
               "\r\nhello")
        << 400;
    QTest::addRow("Content-Length with tabs")
        << QByteArray("POST /p HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length:\t5\t\r\n\r\nhello")
        << 0;
    QTest::addRow("space before the colon")
        << QByteArray("POST /p HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length : 5\r\n\r\nhello")
        << 400;
    QTest::addRow("line without a colon") << withBody("no colon\r\n", inner) << 400;
    QTest::addRow("NUL in a value") << withBody(QByteArray("X-N: a\0b\r\n", 10), "{}") << 0;
    QTest::addRow("WebSocket upgrade")
        << QByteArray(
               "GET /a HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
               "\r\n")
        << 400;
}

void TstGuard::sameFramingAsQt()
{
    QFETCH(QByteArray, bytes);
    QFETCH(int, status);
    if (testClientsUseTls())
        QSKIP("compares the scanner with QHttpServer's parser; no transport involved");

    // The guard's view, with the server's default limits.
    agmem::ConnectionLimits limits;
    agmem::RequestHeadScanner scanner(limits);
    QList<agmem::RequestHeadScanner::Head> heads;
    const auto verdict = scanner.feed(bytes.constData(), bytes.size(), &heads);
    QCOMPARE(verdict.status, status);
    if (status != 0)
        return; // refused before QHttpServer reads a byte

    // QHttpServer's view of the same bytes, followed by a marker request.
    RecordingHttpServer qt;
    auto *tcp = new QTcpServer;
    QVERIFY(tcp->listen(QHostAddress::LocalHost, 0));
    qt.bind(tcp);
    QTcpSocket client;
    client.connectToHost(QHostAddress::LocalHost, tcp->serverPort());
    QVERIFY(client.waitForConnected(5000));
    client.write(bytes + "GET /marker HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    QElapsedTimer timer;
    timer.start();
    auto markerSeen = [&] {
        for (const auto &p : std::as_const(qt.parsed)) {
            if (p.path == "/marker")
                return true;
        }
        return false;
    };
    while (!markerSeen() && !timer.hasExpired(5000))
        QTest::qWait(20);
    QStringList seen;
    for (const auto &p : std::as_const(qt.parsed)) {
        seen << QStringLiteral("%1 (%2 headers, %3 body bytes)")
                    .arg(QString::fromLatin1(p.path))
                    .arg(p.headers)
                    .arg(p.bodySize);
    }
    QVERIFY2(markerSeen(), qPrintable(seen.join(u"; ")));
    QCOMPARE(qt.parsed.size(), heads.size() + 1);
    for (qsizetype i = 0; i < heads.size(); ++i) {
        QVERIFY2(qt.parsed[i].headers > 0, qPrintable(seen.join(u"; "))); // none dropped
        QCOMPARE(qt.parsed[i].bodySize, heads[i].contentLength);
    }
}

// Issue 11: blank lines are not activity: a client that sends CRLF every few hundred
// milliseconds is closed by the read timeout (it used to hold its slot forever).
void TstGuard::blankLinesStartTheReadTimeout()
{
    auto server = startServer([](agmem::ServerConfig &c) {
        c.connection.idleTimeoutMs = 1000;
        c.connection.readTimeoutMs = 2000;
    });
    QVERIFY(server);
    RawHttpClient client;
    QVERIFY(client.connectTo(server->port()));
    QElapsedTimer timer;
    timer.start();
    bool closed = false;
    while (!closed && !timer.hasExpired(12000)) {
        client.socket().write("\r\n");
        closed = client.waitForDisconnected(300);
    }
    QVERIFY2(closed, "CRLF kept the connection open");
    QVERIFY2(client.pending().startsWith("HTTP/1.1 408"), client.pending().constData());
}

// Issue 11: at the cap, the connection idle longest is closed to admit a new one.
void TstGuard::idlestClosedAtTheCap()
{
    auto server = startServer([](agmem::ServerConfig &c) { c.connection.maxConnections = 3; });
    QVERIFY(server);
    const quint16 port = server->port();
    std::vector<std::unique_ptr<RawHttpClient>> open;
    for (int i = 0; i < 3; ++i) {
        open.push_back(std::make_unique<RawHttpClient>());
        QVERIFY(open.back()->connectTo(port));
        QCOMPARE(open.back()->request(buildRequest("GET", "/health")).status, 200);
        QTest::qWait(50);
    }
    RawHttpClient newcomer;
    QVERIFY(newcomer.connectTo(port));
    QCOMPARE(newcomer.request(buildRequest("GET", "/health")).status, 200);
    QVERIFY(open[0]->waitForDisconnected(5000)); // the oldest idle one
    QCOMPARE(open[0]->pending(), QByteArray());
    QCOMPARE(open[1]->request(buildRequest("GET", "/health")).status, 200);
    QCOMPARE(open[2]->request(buildRequest("GET", "/health")).status, 200);
}

// Issue 11: --max-connections-per-address; a trusted proxy is exempt.
void TstGuard::perAddressCap()
{
    for (const bool trusted : {false, true}) {
        auto server = startServer([trusted](agmem::ServerConfig &c) {
            c.connection.maxConnectionsPerAddress = 2;
            if (trusted)
                c.access.trustedProxies = {{QHostAddress(u"127.0.0.1"_s), 32}};
        });
        QVERIFY(server);
        const quint16 port = server->port();
        RawHttpClient a, b, c;
        QVERIFY(a.connectTo(port));
        QCOMPARE(a.request(buildRequest("GET", "/health")).status, 200);
        QVERIFY(b.connectTo(port));
        QCOMPARE(b.request(buildRequest("GET", "/health")).status, 200);
        QVERIFY(c.connectTo(port));
        if (trusted) {
            QCOMPARE(c.request(buildRequest("GET", "/health")).status, 200);
        } else {
            const HttpResponse r = c.readResponse(false, 5000);
            QVERIFY2(r.valid, qPrintable(r.error));
            QCOMPARE(r.status, 503);
            QVERIFY(r.object().value(u"detail"_s).toString().contains(u"address"_s));
            // The others were not closed to make room.
            QCOMPARE(a.request(buildRequest("GET", "/health")).status, 200);
        }
    }
}

void TstGuard::nothingRunsAfterClose_data()
{
    QTest::addColumn<QByteArray>("first");
    QTest::addRow("Connection: close") << buildRequest("GET", "/health", {}, {}, true);
    QTest::addRow("HTTP/1.0") << QByteArray("GET /health HTTP/1.0\r\n\r\n");
    QTest::addRow("push with Connection: close")
        << buildJsonPost("/push", pushBody(u"first"_s), true);
}

// Issue 11: a request pipelined after one that closes the connection never runs.
void TstGuard::nothingRunsAfterClose()
{
    QFETCH(QByteArray, first);
    auto server = startServer();
    QVERIFY(server);
    const quint16 port = server->port();
    QCOMPARE(httpPostJson(port, "/push", pushBody(u"first"_s)).status, 200);
    const PullSnapshot before = pullSnapshot(port);
    RawHttpClient client;
    QVERIFY(client.connectTo(port));
    QVERIFY(client.send(first + buildJsonPost("/push", pushBody(u"smuggled"_s)) +
                        buildRequest("DELETE", "/agents/first")));
    const HttpResponse r = client.readResponse();
    QVERIFY2(r.valid, qPrintable(r.error));
    QCOMPARE(r.status, 200);
    QVERIFY(client.waitForDisconnected(5000));
    QCOMPARE(client.pending(), QByteArray());
    QTest::qWait(300); // a request run anyway would have reached the store by now
    VERIFY_UNCHANGED(port, before);
}

// Issue 11: "Upgrade: websocket" gets exactly one answer, and the request does not run.
void TstGuard::webSocketUpgradeAnsweredOnce()
{
    auto server = startServer();
    QVERIFY(server);
    const quint16 port = server->port();
    const PullSnapshot before = pullSnapshot(port);
    const QByteArray body = pushBody(u"upgrader"_s);
    RawHttpClient client;
    QVERIFY(client.connectTo(port));
    QVERIFY(client.send("POST /push HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: "
                        "websocket\r\nContent-Type: application/json\r\nContent-Length: " +
                        QByteArray::number(body.size()) + "\r\n\r\n" + body));
    const HttpResponse r = client.readResponse();
    QVERIFY2(r.valid, qPrintable(r.error));
    QCOMPARE(r.status, 400);
    QVERIFY(r.object().value(u"detail"_s).toString().contains(u"WebSocket"_s));
    QVERIFY(client.waitForDisconnected(5000));
    QCOMPARE(client.pending(), QByteArray()); // no second answer
    VERIFY_UNCHANGED(port, before);
}

// Issue 11: "100 Continue" for a pipelined request waits for the answer before it.
void TstGuard::continueOnlyWhenNext()
{
    auto server = startServer();
    QVERIFY(server);
    const quint16 port = server->port();
    const QByteArray body = pushBody(u"patient"_s);
    RawHttpClient client;
    QVERIFY(client.connectTo(port));
    QVERIFY(
        client.send(buildRequest("GET", "/pull") +
                    "POST /push HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    "Expect: 100-continue\r\nContent-Length: " +
                    QByteArray::number(body.size()) + "\r\n\r\n"));
    HttpResponse r = client.readResponse(false, 5000);
    QVERIFY2(r.valid, qPrintable(r.error));
    QCOMPARE(r.status, 200); // the /pull answer, not "100 Continue"
    QVERIFY(r.body.contains("metadata"));
    r = client.readResponse(false, 5000);
    QVERIFY2(r.valid, qPrintable(r.error));
    QCOMPARE(r.status, 100);
    QVERIFY(client.send(body));
    r = client.readResponse();
    QCOMPARE(r.status, 200);
    QCOMPARE(httpGet(port, "/pull").object().value(u"contributing_agents"_s).toInt(), 1);
}

// Issue 11: stop finishes in bounded time with many clients that never read their
// answers (it used to wait up to a second for each), and with pipelined pushes arriving.
void TstGuard::stopIsBoundedWithSlowReaders()
{
#ifndef AGMEM_TEST_RSS
    QSKIP("Linux only: raw slow-reader sockets");
#else
    auto server = startServer();
    QVERIFY(server);
    const quint16 port = server->port();
    QCOMPARE(httpPostJson(port, "/push", bigPushBody(2000)).status, 200);
    const int pullBytes = int(httpGet(port, "/pull").body.size());
    QVERIFY(pullBytes > 50000);

    constexpr int SlowReaders = 20;
    std::vector<int> fds;
    // Over TLS each slow reader completes the handshake, sends its requests encrypted and
    // then never reads either.
    std::vector<std::unique_ptr<OpenSslClient>> tlsClients;
    const auto sendOn = [&](int fd, const QByteArray &bytes) {
        if (!testClientsUseTls())
            return sendAll(fd, bytes);
        auto tls = std::make_unique<OpenSslClient>();
        const bool sent = tls->handshake(fd) && tls->write(bytes);
        if (!sent)
            qWarning() << "TLS slow reader:" << tls->error();
        tlsClients.push_back(std::move(tls));
        return sent;
    };
    QByteArray pulls;
    for (int i = 0; i < 40; ++i)
        pulls += buildRequest("GET", "/pull");
    for (int i = 0; i < SlowReaders; ++i) {
        const int fd = slowReader(port);
        QVERIFY(fd >= 0);
        fds.push_back(fd);
        QVERIFY(sendOn(fd, pulls));
    }
    QByteArray pushes;
    for (int i = 0; i < 50; ++i)
        pushes += buildJsonPost("/push", pushBody(u"late-%1"_s.arg(i)));
    for (int i = 0; i < 2; ++i) {
        const int fd = slowReader(port);
        QVERIFY(fd >= 0);
        fds.push_back(fd);
        QVERIFY(sendOn(fd, pushes));
    }
    QTest::qWait(1000); // the server answers into full socket buffers

    QElapsedTimer timer;
    timer.start();
    server->stop();
    const qint64 elapsed = timer.elapsed();
    qInfo() << "stop with" << SlowReaders << "slow readers took" << elapsed << "ms";
    tlsClients.clear();
    for (int fd : fds)
        ::close(fd);
    // The old stop waited up to 1 s per slow reader (20 s here); the grace is 2 s in all.
    QVERIFY2(elapsed < 10000, qPrintable(QString::number(elapsed)));
    // The server starts again on the same store.
    QVERIFY(server->start());
    QCOMPARE(httpGet(server->port(), "/health").status, 200);
#endif
}

// Issue 11: a client that shuts down its sending side after its request (end-of-stream)
// still gets the answer; a push's answer waits for its group commit, and Qt 6.4 closed
// the connection as soon as it read the end-of-stream. Over TLS the client ends its side
// with a bare TCP end-of-stream, or with a close_notify first (what `openssl s_client`
// sends at the end of its input); QSslSocket reads the TCP stream beneath the guard.
void TstGuard::halfCloseStillAnswered()
{
#ifndef AGMEM_TEST_RSS
    QSKIP("Linux only: a raw socket that half-closes");
#else
    auto server = startServer();
    QVERIFY(server);
    const quint16 port = server->port();
    constexpr int Rounds = 6;
    for (int round = 0; round < Rounds; ++round) {
        const bool closeNotify = testClientsUseTls() && round % 2 == 1;
        const int fd = slowReader(port);
        QVERIFY(fd >= 0);
        const timeval receiveTimeout{10, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &receiveTimeout, sizeof receiveTimeout);
        const QByteArray request = buildJsonPost("/push", pushBody(u"half-%1"_s.arg(round)));
        QByteArray answer;
        if (testClientsUseTls()) {
            OpenSslClient tls;
            QVERIFY2(tls.handshake(fd), qPrintable(tls.error()));
            QVERIFY(tls.write(request));
            if (closeNotify)
                QVERIFY(tls.sendCloseNotify());
            QCOMPARE(::shutdown(fd, SHUT_WR), 0);
            answer = tls.readToEnd();
        } else {
            QVERIFY(sendAll(fd, request));
            QCOMPARE(::shutdown(fd, SHUT_WR), 0);
            char chunk[4096];
            ssize_t n = 0;
            while ((n = ::recv(fd, chunk, sizeof chunk, 0)) > 0)
                answer.append(chunk, n);
        }
        ::close(fd);
        QVERIFY2(answer.startsWith("HTTP/1.1 200"),
                 qPrintable(u"round %1%2: %3"_s.arg(round)
                                .arg(closeNotify ? u" (close_notify)"_s : QString())
                                .arg(QString::fromLatin1(answer.left(200)))));
    }
    QCOMPARE(httpGet(port, "/pull").object().value(u"contributing_agents"_s).toInt(), Rounds);
#endif
}

// Issue 11: the same for requests answered at once, small and large: Qt read the
// end-of-stream right after the request and closed before the answer had left (a large
// one leaves while reading waits). The client reads nothing until it has half-closed and
// the server has had time to see that.
void TstGuard::halfCloseAnsweredAtOnce()
{
#ifndef AGMEM_TEST_RSS
    QSKIP("Linux only: a raw socket that half-closes");
#else
    auto server = startServer();
    QVERIFY(server);
    const quint16 port = server->port();
    QCOMPARE(httpPostJson(port, "/push", bigPushBody(10000)).status, 200);
    const QByteArray pull = httpGet(port, "/pull").body;
    QVERIFY(pull.size() > 400000); // far more than the slow reader's socket buffers take
    for (const QByteArray &path : {QByteArray("/health"), QByteArray("/pull")}) {
        for (int round = 0; round < 4; ++round) {
            const bool closeNotify = testClientsUseTls() && round % 2 == 1;
            const int fd = slowReader(port);
            QVERIFY(fd >= 0);
            const timeval receiveTimeout{10, 0};
            ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &receiveTimeout, sizeof receiveTimeout);
            const QByteArray request = buildRequest("GET", path);
            QByteArray answer;
            if (testClientsUseTls()) {
                OpenSslClient tls;
                QVERIFY2(tls.handshake(fd), qPrintable(tls.error()));
                QVERIFY(tls.write(request));
                if (closeNotify)
                    QVERIFY(tls.sendCloseNotify());
                QCOMPARE(::shutdown(fd, SHUT_WR), 0);
                QThread::msleep(200);
                answer = tls.readToEnd();
            } else {
                QVERIFY(sendAll(fd, request));
                QCOMPARE(::shutdown(fd, SHUT_WR), 0);
                QThread::msleep(200);
                char chunk[16384];
                ssize_t n = 0;
                while ((n = ::recv(fd, chunk, sizeof chunk, 0)) > 0)
                    answer.append(chunk, n);
            }
            ::close(fd);
            const QString what = u"%1 round %2%3: %4 bytes"_s.arg(QString::fromLatin1(path))
                                     .arg(round)
                                     .arg(closeNotify ? u" (close_notify)"_s : QString())
                                     .arg(answer.size());
            QVERIFY2(answer.startsWith("HTTP/1.1 200"), qPrintable(what));
            const qsizetype headEnd = answer.indexOf("\r\n\r\n");
            QVERIFY2(headEnd > 0, qPrintable(what));
            if (path == "/pull")
                QVERIFY2(answer.mid(headEnd + 4) == pull, qPrintable(what));
        }
    }
#endif
}

// Issue 11: request bodies in flight share one budget (--max-buffered-body); past it a
// request with a body gets 503 from its head, before any of its body is read.
void TstGuard::bufferedBodyBudget()
{
    auto server = startServer(
        [](agmem::ServerConfig &c) { c.connection.maxBufferedBodyBytes = 1024 * 1024; });
    QVERIFY(server);
    const quint16 port = server->port();
    const PullSnapshot before = pullSnapshot(port);
    const QByteArray body = pushBody(u"budget"_s).leftJustified(700 * 1024, ' ');
    const QByteArray head =
        "POST /push HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Content-Length: " +
        QByteArray::number(body.size()) + "\r\n\r\n";
    RawHttpClient first, second;
    QVERIFY(first.connectTo(port));
    QVERIFY(first.send(head + body.left(1000)));
    QTest::qWait(200);
    QVERIFY(second.connectTo(port));
    QVERIFY(second.send(head));
    const HttpResponse refused = second.readResponse(false, 5000);
    QVERIFY2(refused.valid, qPrintable(refused.error));
    QCOMPARE(refused.status, 503);
    QVERIFY(refused.hasHeader("retry-after"));
    QVERIFY(refused.object().value(u"detail"_s).isString());
    VERIFY_UNCHANGED(port, before);
    // The first one completes; then the budget is free again.
    QVERIFY(first.send(body.mid(1000)));
    QCOMPARE(first.readResponse().status, 200);
    RawHttpClient third;
    QVERIFY(third.connectTo(port));
    QCOMPARE(third.request(head + body).status, 200);
}

// Issue 11: 401 and 403 come from the head alone: an unauthorized push with a large body
// is refused before the body is sent, and nothing is buffered or stored.
void TstGuard::unauthorizedBeforeTheBody()
{
    const QString key = u"agmem_test_guard_key_0123456789abcdef"_s;
    auto server = startServer([&](agmem::ServerConfig &c) {
        c.access.mode = agmem::AccessConfig::AuthMode::Required;
        c.access.environmentKey = key;
    });
    QVERIFY(server);
    const quint16 port = server->port();
    const QByteArray bigHead =
        "POST /push HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Content-Length: 10000000\r\n";
    for (const QByteArray &credentials :
         {QByteArray(), QByteArray("Authorization: Bearer wrong-key\r\n")}) {
        RawHttpClient client;
        QVERIFY(client.connectTo(port));
        QVERIFY(client.send(bigHead + credentials + "\r\n"));
        const HttpResponse r = client.readResponse(false, 5000);
        QVERIFY2(r.valid, qPrintable(r.error));
        QCOMPARE(r.status, 401);
        QVERIFY(r.hasHeader("www-authenticate"));
        QVERIFY(r.object().value(u"detail"_s).isString());
    }
    // With the key, the same route works, the access check counted once.
    const QByteArray body = pushBody(u"keyed"_s);
    const HttpResponse ok =
        httpExchange(port, buildRequest("POST", "/push", body,
                                        {{"Content-Type", "application/json"},
                                         {"Authorization", "Bearer " + key.toUtf8()}}));
    QCOMPARE(ok.status, 200);
    const HttpResponse pull = httpExchange(
        port, buildRequest("GET", "/pull", {}, {{"Authorization", "Bearer " + key.toUtf8()}}));
    QCOMPARE(pull.object().value(u"contributing_agents"_s).toInt(), 1);
}

// Issue 11: the soft limit on open files is raised to the hard one at start (systemd's
// soft 1024 equals the default connection cap, so accept() failed before eviction ran).
void TstGuard::openFileLimitRaised()
{
#ifndef AGMEM_TEST_RSS
    QSKIP("Linux only: RLIMIT_NOFILE");
#else
    rlimit limit{};
    QCOMPARE(getrlimit(RLIMIT_NOFILE, &limit), 0);
    const rlimit original = limit;
    if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max > 256) {
        limit.rlim_cur = 256;
        QCOMPARE(setrlimit(RLIMIT_NOFILE, &limit), 0);
    }
    const qint64 soft = agmem::platform::raiseOpenFileLimit();
    QCOMPARE(getrlimit(RLIMIT_NOFILE, &limit), 0);
    QCOMPARE(limit.rlim_cur, original.rlim_max);
    if (limit.rlim_cur == RLIM_INFINITY)
        QCOMPARE(soft, qint64(0));
    else
        QCOMPARE(soft, qint64(limit.rlim_cur));
    QCOMPARE(setrlimit(RLIMIT_NOFILE, &original), 0);
#endif
}

// Plain TCP is read and framed by the guard (ConnectionGuard::setDirectHandler()), not by
// QHttpServer: every request must reach the API exactly as QHttpServer (the Qt in use) made
// it - method name (UNKNOWN for any name outside its list), path and query decoding, header
// fields, body, peer. The same bytes go to a bare QHttpServer and to a guard that frames
// them; the requests are compared field by field.
void TstGuard::sameRequestAsQt_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<int>("requests");

    const QByteArray host = "Host: 127.0.0.1\r\n";
    auto get = [&](const QByteArray &method, const QByteArray &target,
                   const QByteArray &headers = "Host: 127.0.0.1\r\n") -> QByteArray {
        return method + ' ' + target + " HTTP/1.1\r\n" + headers + "\r\n";
    };
    auto post = [&](const QByteArray &method, const QByteArray &target,
                    const QByteArray &body) -> QByteArray {
        return method + ' ' + target + " HTTP/1.1\r\n" + host +
               "Content-Length: " + QByteArray::number(body.size()) + "\r\n\r\n" + body;
    };
    QTest::addRow("plain") << get("GET", "/pull") << 1;
    QTest::addRow("key in the path") << post("POST", "/k/abc_DEF-1.2~x/push", "{}") << 1;
    QTest::addRow("query") << get("GET", "/pull?since=12&x=a+b%20c") << 1;
    QTest::addRow("escaped slash and space") << get("GET", "/k/a%2Fb%20c/pull") << 1;
    QTest::addRow("plus in the path") << get("GET", "/a+b/pull") << 1;
    QTest::addRow("escaped UTF-8") << get("GET", "/%C3%A9t%C3%A9?q=%C3%A9&r=%E2%82%AC") << 1;
    QTest::addRow("raw UTF-8") << get("GET", "/\xC3\xA9t\xC3\xA9?q=\xE2\x82\xAC") << 1;
    QTest::addRow("raw Latin-1 byte") << get("GET", "/caf\xE9?x=\xFF") << 1;
    QTest::addRow("invalid escapes") << get("GET", "/a%zz/%?x=%G1&y=%") << 1;
    QTest::addRow("escaped NUL") << get("GET", "/a%00b?x=%00") << 1;
    QTest::addRow("double slash") << get("GET", "//push") << 1;
    QTest::addRow("double slash, authority-like") << get("GET", "//evil.example/pull?x=1") << 1;
    QTest::addRow("triple slash") << get("GET", "///pull") << 1;
    QTest::addRow("dot segments") << get("GET", "/a/../pull") << 1;
    QTest::addRow("leading dot segment") << get("GET", "/./pull") << 1;
    QTest::addRow("escaped dot segment") << get("GET", "/a/%2e%2e/pull") << 1;
    QTest::addRow("absolute form") << get("GET", "http://example.com:8000/pull?x=1") << 1;
    QTest::addRow("absolute form, other scheme") << get("GET", "ftp://other/push") << 1;
    QTest::addRow("absolute form, no path") << get("GET", "http://example.com") << 1;
    QTest::addRow("scheme-like") << get("GET", "a:b/pull") << 1;
    QTest::addRow("asterisk") << get("OPTIONS", "*") << 1;
    QTest::addRow("no leading slash") << get("GET", "pull") << 1;
    QTest::addRow("fragment") << get("GET", "/pull#frag?x=1") << 1;
    QTest::addRow("empty query") << get("GET", "/pull?") << 1;
    QTest::addRow("repeated keys") << get("GET", "/pull?a=1&a=2&b&=c&d=") << 1;
    QTest::addRow("semicolon") << get("GET", "/pull;v=1?x=1;y=2") << 1;
    QTest::addRow("no Host") << get("GET", "/pull?x=1", "X-A: b\r\n") << 1;
    QTest::addRow("Host with a space") << get("GET", "/pull?x=1", "Host: a b\r\n") << 1;
    QTest::addRow("Host with user info") << get("GET", "//x/pull?q", "Host: u@evil:99\r\n") << 1;
    QTest::addRow("IPv6 Host") << get("GET", "/pull?q=1", "Host: [::1]:8000\r\n") << 1;
    QTest::addRow("bad IPv6 Host") << get("GET", "/pull?q=1", "Host: [::1\r\n") << 1;
    QTest::addRow("Host and relative target") << get("GET", "pull?q=1", "Host: h\r\n") << 1;
    QTest::addRow("TRACE") << get("TRACE", "/health") << 1;
    QTest::addRow("lower-case method") << get("get", "/health") << 1;
    QTest::addRow("mixed-case method") << get("Post", "/push") << 1;
    QTest::addRow("extension method") << get("PURGE", "/pull") << 1;
    QTest::addRow("extension method with a body") << post("M-SEARCH", "/push", "hello") << 1;
    QTest::addRow("every known method")
        << QByteArray(get("GET", "/a") + get("HEAD", "/b") + get("OPTIONS", "/c") +
                      get("DELETE", "/d") + get("CONNECT", "/e") + post("POST", "/f", "1") +
                      post("PUT", "/g", "22") + post("PATCH", "/h", "333"))
        << 8;
    QTest::addRow("fields as sent")
        << get("GET", "/pull",
               "hOsT:   127.0.0.1  \r\nX-Empty:\r\nX-Tab:\tv\t w\t\r\nX-Dup: 1\r\nx-dup: 2\r\n")
        << 1;
    QTest::addRow("bare LF") << QByteArray("GET /a?x=1 HTTP/1.1\nHost: h\n\n") << 1;
    QTest::addRow("pipelined with blank lines")
        << QByteArray("\r\n" + post("POST", "/push", "{\"a\":1}") + "\r\n\r\n" +
                      get("GET", "/pull?x=%41") + "\n" + post("PUT", "/x", ""))
        << 3;
}

void TstGuard::sameRequestAsQt()
{
    QFETCH(QByteArray, bytes);
    QFETCH(int, requests);
    if (testClientsUseTls())
        QSKIP("compares the guard's framing with QHttpServer's parser over plain TCP");

    const QByteArray marker = "GET /marker HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    auto sendTo = [&](quint16 port, QTcpSocket &client) {
        client.connectToHost(QHostAddress::LocalHost, port);
        QVERIFY(client.waitForConnected(5000));
        client.write(bytes + marker);
        QVERIFY(client.waitForBytesWritten(5000));
    };

    // QHttpServer's view.
    RecordingHttpServer qt;
    auto *tcp = new QTcpServer;
    QVERIFY(tcp->listen(QHostAddress::LocalHost, 0));
    qt.bind(tcp);
    QTcpSocket qtClient;
    sendTo(tcp->serverPort(), qtClient);
    QVERIFY(QTest::qWaitFor([&] { return qt.requests.size() == requests + 1; }, 5000));

    // The guard's own framing, as the server uses it on plain TCP.
    agmem::ConnectionGuard guard{agmem::ConnectionLimits()};
    QList<agmem::HttpRequest> framed;
    guard.setDirectHandler([&](agmem::HttpRequest &&request, QTcpSocket *socket) {
        guard.takeCloseAfterResponse(socket);
        framed.append(std::move(request));
        socket->write("HTTP/1.1 204 No Content\r\n\r\n");
        guard.answered(socket);
    });
    QVERIFY(guard.listen(QHostAddress::LocalHost, 0));
    QTcpSocket guardClient;
    sendTo(guard.serverPort(), guardClient);
    QVERIFY(QTest::qWaitFor([&] { return framed.size() == requests + 1; }, 5000));
    QTest::qWait(50); // nothing more arrives
    QCOMPARE(framed.size(), qt.requests.size());

    auto fieldsOf = [](const agmem::HttpRequest &r) {
        // Qt 6.8 hands names over in lower case; the API looks them up case-insensitively.
        QStringList out;
        for (const auto &[name, value] : r.headers)
            out << QString::fromLatin1(name.toLower()) + u": " + QString::fromLatin1(value.toHex());
        return out;
    };
    for (qsizetype i = 0; i < framed.size(); ++i) {
        const agmem::HttpRequest &a = framed[i];
        const agmem::HttpRequest &b = qt.requests[i];
        QCOMPARE(a.method, b.method);
        QCOMPARE(a.path, b.path);
        QCOMPARE(a.query.toString(QUrl::FullyEncoded), b.query.toString(QUrl::FullyEncoded));
        QCOMPARE(a.query.queryItems(QUrl::FullyDecoded), b.query.queryItems(QUrl::FullyDecoded));
        QVERIFY(a.query == b.query);
        QCOMPARE(fieldsOf(a), fieldsOf(b));
        QCOMPARE(a.body, b.body);
        QCOMPARE(a.peer, b.peer);
    }
    QCOMPARE(framed.constLast().path, u"/marker"_s);
}

// A method outside QHttpServer's list (TRACE, lower-case names, extensions) reaches the
// API as UNKNOWN over both transports: 405 with the route's Allow, and one metrics label
// (a client cannot add label values with made-up method names).
void TstGuard::unknownMethods_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QByteArray>("body");
    QTest::addRow("TRACE") << QByteArray("TRACE") << QByteArray();
    QTest::addRow("get") << QByteArray("get") << QByteArray();
    QTest::addRow("PURGE") << QByteArray("PURGE") << QByteArray();
    QTest::addRow("M-SEARCH with a body") << QByteArray("M-SEARCH") << QByteArray("{}");
}

void TstGuard::unknownMethods()
{
    QFETCH(QByteArray, method);
    QFETCH(QByteArray, body);
    auto server = startServer();
    QVERIFY(server);
    const quint16 port = server->port();
    const PullSnapshot before = pullSnapshot(port);
    const HttpResponse reference = httpExchange(port, buildRequest("DELETE", "/pull"));
    QCOMPARE(reference.status, 405);
    QVERIFY(reference.hasHeader("allow"));

    RawHttpClient client;
    QVERIFY(client.connectTo(port));
    QByteArray request = method + " /pull HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    if (!body.isEmpty())
        request +=
            "Content-Type: application/json\r\nContent-Length: " + QByteArray::number(body.size()) +
            "\r\n";
    const HttpResponse r = client.request(request + "\r\n" + body);
    QVERIFY2(r.valid, qPrintable(r.error));
    QCOMPARE(r.status, 405);
    QCOMPARE(r.header("allow"), reference.header("allow"));
    QCOMPARE(r.object().value(u"detail"_s).toString(), u"Method Not Allowed"_s);
    // The connection stays usable.
    QCOMPARE(client.request(buildRequest("GET", "/health")).status, 200);

    const QByteArray metrics = httpGet(port, "/metrics").body;
    QVERIFY2(metrics.contains("route=\"/pull\",method=\"UNKNOWN\",status=\"405\"} 1"),
             metrics.constData());
    const QByteArray label = "method=\"" + method + '"';
    QVERIFY(!metrics.contains(label));
    VERIFY_UNCHANGED(port, before);
}

// Exactly one "100 Continue", only for a request with a body, over both transports and on
// both Qt lines (the guard sends it on the connections it frames; QHttpServer 6.8 its own
// on those it reads).
void TstGuard::expectContinueOnce_data()
{
    QTest::addColumn<bool>("bodyWithHead");
    QTest::addColumn<bool>("withBody");
    QTest::addRow("body after the 100") << false << true;
    QTest::addRow("body with the head") << true << true;
    QTest::addRow("no body") << true << false;
}

void TstGuard::expectContinueOnce()
{
    QFETCH(bool, bodyWithHead);
    QFETCH(bool, withBody);
    auto server = startServer();
    QVERIFY(server);
    const quint16 port = server->port();
    const QByteArray body = withBody ? pushBody(u"once"_s) : QByteArray();
    const QByteArray head =
        (withBody ? "POST /push" : "GET /health") +
        QByteArray(" HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                   "application/json\r\nExpect: 100-continue\r\n") +
        (withBody ? "Content-Length: " + QByteArray::number(body.size()) + "\r\n" : QByteArray()) +
        "\r\n";
    RawHttpClient client;
    QVERIFY(client.connectTo(port));
    QVERIFY(client.send(bodyWithHead ? head + body : head));
    HttpResponse r = client.readResponse(false, 5000);
    QVERIFY2(r.valid, qPrintable(r.error));
    if (withBody) {
        QCOMPARE(r.status, 100);
        if (!bodyWithHead)
            QVERIFY(client.send(body));
        r = client.readResponse();
        QVERIFY2(r.valid, qPrintable(r.error));
    }
    QCOMPARE(r.status, 200);
    // Nothing else arrives: no second "100 Continue" (before or after the answer).
    QVERIFY(!client.waitForDisconnected(300));
    QCOMPARE(client.pending(), QByteArray());
    QCOMPARE(client.request(buildRequest("GET", "/health")).status, 200);
    if (withBody)
        QCOMPARE(httpGet(port, "/pull").object().value(u"contributing_agents"_s).toInt(), 1);
}

QTEST_GUILESS_MAIN(TstGuard)

#include "tst_guard.moc"
