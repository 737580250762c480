// The connection guard on its own (no API, no QHttpServer) as the server uses it on plain
// TCP: it reads each connection, frames requests itself (ConnectionGuard::setDirectHandler)
// and owns the sockets. Checked here over real sockets: what it holds in memory stays within
// the buffered-body budget plus one unfinished head per connection whatever clients send,
// and every socket it accepted is deleted once its connection is gone (no leak; under the
// sanitizer build of scripts/qt68-check.sh, no use after free).
#include "server/connectionguard.h"

#include <QElapsedTimer>
#include <QPointer>
#include <QTcpSocket>
#include <QTest>

#include <algorithm>
#include <memory>
#include <vector>

using namespace Qt::StringLiterals;

namespace {

// A guard whose handler answers every request at once, as ApiServer does (the guard's
// bookkeeping, the answer, close when asked).
struct AnsweringGuard
{
    explicit AnsweringGuard(const agmem::ConnectionLimits &limits)
        : guard(limits)
    {
        guard.setDirectHandler([this](agmem::HttpRequest &&request, QTcpSocket *socket) {
            const bool close = guard.takeCloseAfterResponse(socket) || request.wantsClose();
            ++handled;
            bodyBytes += request.body.size();
            if (holdAnswers) {
                held.append(socket);
                return;
            }
            socket->write("HTTP/1.1 204 No Content\r\n\r\n");
            guard.answered(socket);
            if (close)
                socket->disconnectFromHost();
        });
    }
    void answerHeld()
    {
        for (const QPointer<QTcpSocket> &socket : std::as_const(held)) {
            if (!socket)
                continue;
            socket->write("HTTP/1.1 204 No Content\r\n\r\n");
            guard.answered(socket);
        }
        held.clear();
    }
    int sockets() const { return int(guard.findChildren<QTcpSocket *>().size()); }

    agmem::ConnectionGuard guard;
    int handled = 0;
    qint64 bodyBytes = 0;
    bool holdAnswers = false;
    QList<QPointer<QTcpSocket>> held;
};

QByteArray request(const QByteArray &path, const QByteArray &body = {}, bool close = false)
{
    QByteArray out = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " +
                     QByteArray::number(body.size()) + "\r\n";
    if (close)
        out += "Connection: close\r\n";
    return out + "\r\n" + body;
}

} // namespace

class TstConnectionGuard : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void socketsDeletedWhenConnectionsGo();
    void bufferBoundedByTheBudget();
};

// Many connections, ended every way a client can: counts and sockets return to zero.
void TstConnectionGuard::socketsDeletedWhenConnectionsGo()
{
    AnsweringGuard g{agmem::ConnectionLimits()};
    g.guard.setListenBacklogSize(agmem::ConnectionLimits::DefaultListenBacklog);
    QVERIFY(g.guard.listen(QHostAddress::LocalHost, 0));
    const quint16 port = g.guard.serverPort();
    constexpr int Rounds = 4;
    constexpr int PerKind = 25;
    int expected = 0;
    for (int round = 0; round < Rounds; ++round) {
        std::vector<std::unique_ptr<QTcpSocket>> clients;
        auto open = [&] {
            auto client = std::make_unique<QTcpSocket>();
            client->connectToHost(QHostAddress::LocalHost, port);
            QTcpSocket *raw = client.get();
            clients.push_back(std::move(client));
            return raw;
        };
        for (int i = 0; i < PerKind; ++i) {
            // Answered, then closed by the client.
            open()->write(request("/a", "x"));
            // Closed by the server after its answer (Connection: close, with a request
            // pipelined behind it that is never read).
            open()->write(request("/b", "yy", true) + request("/never"));
            // Pipelined, the client gone before reading the answers.
            open()->write(request("/c") + request("/d", "z") + request("/e"));
            // Half a head, then gone.
            open()->write("POST /f HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le");
            // Half a body, then gone.
            open()->write(request("/g", QByteArray(1000, 'b')).chopped(400));
            // Nothing at all.
            open();
            // A bad request behind a good one.
            open()->write(request("/h") + "BAD\r\n\r\n");
        }
        expected += PerKind * (1 + 1 + 3 + 1);
        QVERIFY(QTest::qWaitFor(
            [&] {
                return std::all_of(clients.cbegin(), clients.cend(), [](const auto &client) {
                    return client->state() == QAbstractSocket::ConnectedState;
                });
            },
            10000));
        QVERIFY2(QTest::qWaitFor([&] { return g.handled >= expected; }, 10000),
                 qPrintable(QStringLiteral("%1 of %2 requests").arg(g.handled).arg(expected)));
        QVERIFY(g.guard.openConnections() > 0);
        for (std::size_t i = 0; i < clients.size(); ++i) {
            if (i % 2)
                clients[i]->abort(); // a reset
            else
                clients[i]->disconnectFromHost();
        }
        clients.clear();
        QVERIFY2(QTest::qWaitFor([&] { return g.guard.openConnections() == 0 && g.sockets() == 0; },
                                 10000),
                 qPrintable(QStringLiteral("%1 connections, %2 sockets left")
                                .arg(g.guard.openConnections())
                                .arg(g.sockets())));
        QCOMPARE(g.guard.bufferedRequestBytes(), 0);
    }
    QCOMPARE(g.handled, expected); // "/never" was not
}

// Whatever the clients send, the guard holds at most the bodies admitted within the budget
// plus one unfinished head per connection: blank lines are not kept, a body beyond the
// budget is refused from its head, a head beyond the limit is refused, and whole requests
// are handed over as they arrive.
void TstConnectionGuard::bufferBoundedByTheBudget()
{
    agmem::ConnectionLimits limits;
    limits.maxBufferedBodyBytes = 64 * 1024;
    limits.maxHeadBytes = 4096;
    AnsweringGuard g{limits};
    QVERIFY(g.guard.listen(QHostAddress::LocalHost, 0));
    const quint16 port = g.guard.serverPort();
    constexpr int Clients = 5;
    const qint64 bound = limits.maxBufferedBodyBytes + Clients * (limits.maxHeadBytes + 4);
    qint64 most = 0;
    auto watch = [&](int ms) {
        QElapsedTimer timer;
        timer.start();
        while (!timer.hasExpired(ms)) {
            QTest::qWait(5);
            most = std::max(most, g.guard.bufferedRequestBytes());
        }
    };
    QTcpSocket blank, body, overBudget, bigHead, pipelined;
    for (QTcpSocket *s : {&blank, &body, &overBudget, &bigHead, &pipelined}) {
        s->connectToHost(QHostAddress::LocalHost, port);
        QVERIFY(s->waitForConnected(5000));
    }
    // 4 MB of blank lines (allowed before a request line), in pieces.
    const QByteArray blanks = QByteArray("\r\n").repeated(32 * 1024);
    for (int i = 0; i < 64; ++i) {
        blank.write(blanks);
        watch(2);
    }
    // Most of a body that fits the budget; it waits for the rest.
    const QByteArray fits(60 * 1024, 'f');
    body.write(request("/fits", fits).chopped(20 * 1024));
    watch(200);
    QVERIFY(g.guard.bufferedRequestBytes() >= 40 * 1024);
    // A second body would exceed the budget: refused from its head (503), its bytes dropped.
    overBudget.write(request("/over", QByteArray(60 * 1024, 'o')));
    QVERIFY(QTest::qWaitFor(
        [&] {
            overBudget.waitForReadyRead(10);
            return overBudget.peek(12).startsWith("HTTP/1.1 503");
        },
        5000));
    // A head that never ends: refused at the limit (431).
    bigHead.write("GET /x HTTP/1.1\r\nX-Long: " + QByteArray(64 * 1024, 'h'));
    QVERIFY(QTest::qWaitFor(
        [&] {
            bigHead.waitForReadyRead(10);
            return bigHead.peek(12).startsWith("HTTP/1.1 431");
        },
        5000));
    // 2,000 small pipelined requests, their answers held: handed over as they arrive.
    g.holdAnswers = true;
    QByteArray many;
    for (int i = 0; i < 2000; ++i)
        many += request("/p", QByteArray(100, 'p'));
    pipelined.write(many);
    watch(500);
    QVERIFY2(most <= bound,
             qPrintable(QStringLiteral("held %1 bytes, bound %2").arg(most).arg(bound)));

    // The rest of the body: handed over, nothing held any more.
    body.write(request("/fits", fits).right(20 * 1024));
    QVERIFY(QTest::qWaitFor([&] { return g.bodyBytes >= fits.size(); }, 5000));
    g.holdAnswers = false;
    g.answerHeld();
    QVERIFY(QTest::qWaitFor([&] { return g.guard.bufferedRequestBytes() == 0; }, 5000));
    for (QTcpSocket *s : {&blank, &body, &overBudget, &bigHead, &pipelined})
        s->abort();
    QVERIFY(QTest::qWaitFor([&] { return g.sockets() == 0; }, 10000));
    QVERIFY2(most <= bound,
             qPrintable(QStringLiteral("held %1 bytes, bound %2").arg(most).arg(bound)));
}

QTEST_GUILESS_MAIN(TstConnectionGuard)
#include "tst_connectionguard.moc"
