#include "connectionguard.h"

#include "httpmessage.h"

#include "core/logging.h"

#include <QSslSocket>
#include <QTcpSocket>

#ifdef Q_OS_WIN
#include <winsock2.h>
constexpr int ShutWrite = SD_SEND;
#else
#include <sys/socket.h>
constexpr int ShutWrite = SHUT_WR;
#endif

namespace agmem {

namespace {

// How long to stop accepting after the process ran out of file descriptors.
constexpr int AcceptPauseMs = 200;
constexpr int SweepIntervalMs = 1000;

} // namespace

ConnectionGuard::ConnectionGuard(const ConnectionLimits &limits, QObject *parent)
    : QTcpServer(parent)
    , m_limits(limits)
{
    m_sweeper.setInterval(SweepIntervalMs);
    connect(&m_sweeper, &QTimer::timeout, this, &ConnectionGuard::sweep);
    m_sweeper.start();

    m_resumeAccepting.setSingleShot(true);
    m_resumeAccepting.setInterval(AcceptPauseMs);
    connect(&m_resumeAccepting, &QTimer::timeout, this, &QTcpServer::resumeAccepting);
    connect(this, &QTcpServer::acceptError, this, [this](QAbstractSocket::SocketError error) {
        // Out of descriptors: the listening socket stays readable, and accepting again at
        // once would spin a core. Wait, then try again.
        qCWarning(lcServer) << "accept failed:" << error << errorString() << "- pausing"
                            << AcceptPauseMs << "ms";
        pauseAccepting();
        m_resumeAccepting.start();
    });
}

ConnectionGuard::~ConnectionGuard()
{
    qDeleteAll(m_connections);
}

void ConnectionGuard::setTlsConfiguration(const QSslConfiguration &configuration)
{
    m_tls = configuration;
}

void ConnectionGuard::incomingConnection(qintptr descriptor)
{
    QTcpSocket *socket = nullptr;
    if (m_tls) {
        auto *ssl = new QSslSocket(this);
        if (!ssl->setSocketDescriptor(descriptor)) {
            delete ssl;
            return;
        }
        ssl->setSslConfiguration(*m_tls);
        connect(ssl, &QSslSocket::sslErrors, ssl, [ssl](const QList<QSslError> &errors) {
            qCDebug(lcServer) << "TLS handshake failed with" << ssl->peerAddress() << errors;
        });
        // QHttpServer's own sslSetup() only applies to its listen(): the handshake starts
        // here, and readyRead (which the guard and QHttpServer see) carries plain text.
        ssl->startServerEncryption();
        socket = ssl;
    } else {
        socket = new QTcpSocket(this);
        if (!socket->setSocketDescriptor(descriptor)) {
            delete socket;
            return;
        }
    }
    if (m_connections.size() >= m_limits.maxConnections) {
        const QString detail = QStringLiteral("Too many open connections (%1); try again later")
                                   .arg(m_limits.maxConnections);
        socket->write(
            HttpReply::error(503, detail).withHeader("Retry-After", "1").serialize(false, true));
        socket->disconnectFromHost();
        connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
        Q_EMIT requestRejected(socket->peerAddress().toString(), 503, detail);
        return;
    }

    auto *c = new Connection{
        socket, RequestHeadScanner(m_limits), {}, 0, {}, {}, false, false, 0, std::nullopt};
    c->lastActivity.start();
    m_connections.insert(socket, c);

    // Connected before QHttpServer connects its own slot (it does so when newConnection
    // is emitted, after this function returns), so the guard sees each byte first.
    connect(socket, &QTcpSocket::readyRead, this, [this, socket] { scan(socket); });
    connect(socket, &QTcpSocket::disconnected, this, [this, socket] { forget(socket); });
    connect(socket, &QObject::destroyed, this, [this, socket] { forget(socket); });
    if (!m_hookedNewConnection) {
        // bind() connected QHttpServer to newConnection before this: ours runs after it.
        m_hookedNewConnection = true;
        connect(this, &QTcpServer::newConnection, this, &ConnectionGuard::connectAfterHttpServer);
    }
    addPendingConnection(socket);
}

void ConnectionGuard::connectAfterHttpServer()
{
    for (Connection *c : std::as_const(m_connections)) {
        if (c->hooked || !c->socket)
            continue;
        c->hooked = true;
        QTcpSocket *socket = c->socket;
        connect(socket, &QTcpSocket::readyRead, this,
                [this, socket] { afterHttpServerRead(socket); });
    }
}

void ConnectionGuard::scan(QTcpSocket *socket)
{
    Connection *c = m_connections.value(socket);
    if (!c)
        return;
    if (c->rejecting) {
        // Drain and drop whatever the client still sends, without buffering it.
        char scratch[16384];
        while (socket->read(scratch, sizeof scratch) > 0) {
        }
        return;
    }
    c->lastActivity.start();
    const qint64 available = socket->bytesAvailable();
    if (available <= c->scannedUnread)
        return;
    if (c->deferred) {
        // Whatever follows the bad request is dropped; QHttpServer still has valid requests
        // (scannedUnread bytes) to read.
        deferReject(*c, c->scannedUnread, *c->deferred);
        return;
    }
    const QByteArray fresh = socket->peek(available).mid(c->scannedUnread);
    c->scannedUnread = available;
    const bool wasInRequest = c->scanner.inRequest();
    QList<RequestHeadScanner::Head> heads;
    const RequestHeadScanner::Verdict verdict =
        c->scanner.feed(fresh.constData(), fresh.size(), &heads);
    for (const RequestHeadScanner::Head &head : heads) {
        c->closeFlags.enqueue(head.closeAfterResponse);
        if (head.expectContinue && !verdict.status)
            socket->write("HTTP/1.1 100 Continue\r\n\r\n");
    }
    if (!wasInRequest && (c->scanner.inRequest() || !heads.isEmpty()))
        c->requestStarted.start();
    if (verdict.status) {
        // Requests before the bad one, still unread by QHttpServer or not answered yet, are
        // answered first (pipelining): only the bytes from the bad request on are dropped.
        // While QHttpServer holds a read transaction (a request split across reads) the
        // buffer cannot be cut safely; the error is then answered at once.
        const qint64 keep = available - fresh.size() + verdict.requestStart;
        if ((keep > 0 || c->unanswered > 0) && !socket->isTransactionStarted())
            deferReject(*c, keep, verdict);
        else
            reject(*c, verdict.status, verdict.detail);
    }
}

void ConnectionGuard::deferReject(Connection &c, qint64 keep,
                                  const RequestHeadScanner::Verdict &verdict)
{
    QTcpSocket *socket = c.socket;
    if (!c.deferred) {
        c.deferred = verdict;
        c.requestStarted.start(); // the wait is bounded by the read timeout (sweep)
    }
    // Cut the read buffer after the valid requests: read everything, put back the start.
    const QByteArray buffered = socket->readAll();
    keep = std::min<qint64>(keep, buffered.size());
    for (qint64 i = keep - 1; i >= 0; --i)
        socket->ungetChar(buffered.at(i));
    c.scannedUnread = keep;
    rejectWhenAnswered(c);
}

void ConnectionGuard::rejectWhenAnswered(Connection &c)
{
    if (!c.deferred || c.rejecting || c.scannedUnread > 0 || c.unanswered > 0 ||
        !c.closeFlags.isEmpty())
        return;
    // After the current signal (QHttpServer may still be in its readyRead slot).
    QMetaObject::invokeMethod(
        this,
        [this, socket = c.socket] {
            Connection *c = socket ? m_connections.value(socket) : nullptr;
            if (!c || c->rejecting || !c->deferred ||
                socket->state() != QAbstractSocket::ConnectedState)
                return;
            const RequestHeadScanner::Verdict verdict = *c->deferred;
            reject(*c, verdict.status, verdict.detail);
        },
        Qt::QueuedConnection);
}

void ConnectionGuard::afterHttpServerRead(QTcpSocket *socket)
{
    if (Connection *c = m_connections.value(socket)) {
        c->scannedUnread = socket->bytesAvailable();
        rejectWhenAnswered(*c);
    }
}

void ConnectionGuard::reject(Connection &c, int status, const QString &detail)
{
    QTcpSocket *socket = c.socket;
    c.rejecting = true;
    // QHttpServer must not read this socket again.
    disconnect(socket, &QTcpSocket::readyRead, nullptr, nullptr);
    connect(socket, &QTcpSocket::readyRead, this, [this, socket] { scan(socket); });
    char scratch[16384];
    while (socket->read(scratch, sizeof scratch) > 0) {
    }
    // Lingering close: the answer, then end-of-stream for the client; what it still sends
    // is drained (never buffered) until it closes, for a few seconds at most. Closing at
    // once with unread bytes would reset the connection and could destroy the answer.
    socket->write(HttpReply::error(status, detail).serialize(false, true));
    socket->flush();
    if (socket->bytesToWrite() == 0)
        ::shutdown(socket->socketDescriptor(), ShutWrite);
    else
        socket->disconnectFromHost();
    c.requestStarted.start();
    qCInfo(lcAccess).noquote() << socket->peerAddress().toString() << "-" << status << detail;
    Q_EMIT requestRejected(socket->peerAddress().toString(), status, detail);
}

bool ConnectionGuard::takeCloseAfterResponse(QTcpSocket *socket)
{
    Connection *c = m_connections.value(socket);
    if (!c)
        return false;
    ++c->unanswered;
    return c->closeFlags.isEmpty() ? false : c->closeFlags.dequeue();
}

void ConnectionGuard::answered(QTcpSocket *socket)
{
    Connection *c = m_connections.value(socket);
    if (!c)
        return;
    c->unanswered = std::max(0, c->unanswered - 1);
    rejectWhenAnswered(*c);
}

void ConnectionGuard::sweep()
{
    const QList<Connection *> connections = m_connections.values();
    for (Connection *c : connections) {
        QTcpSocket *socket = c->socket;
        if (!socket)
            continue;
        if (c->rejecting) {
            if (c->requestStarted.hasExpired(std::min(m_limits.readTimeoutMs, 5000)))
                socket->abort();
        } else if (c->deferred) {
            // The requests before the bad one were never all answered: answer it now.
            if (c->requestStarted.hasExpired(m_limits.readTimeoutMs))
                reject(*c, c->deferred->status, c->deferred->detail);
        } else if (c->scanner.inRequest()) {
            if (c->requestStarted.hasExpired(m_limits.readTimeoutMs)) {
                const QString detail = QStringLiteral("The request did not arrive within %1 ms")
                                           .arg(m_limits.readTimeoutMs);
                c->rejecting = true;
                disconnect(socket, &QTcpSocket::readyRead, nullptr, nullptr);
                socket->write(HttpReply::error(408, detail).serialize(false, true));
                socket->disconnectFromHost();
                Q_EMIT requestRejected(socket->peerAddress().toString(), 408, detail);
            }
        } else if (c->lastActivity.hasExpired(m_limits.idleTimeoutMs) &&
                   socket->bytesToWrite() == 0) {
            socket->disconnectFromHost();
        }
    }
}

void ConnectionGuard::closeAllConnections()
{
    const QList<Connection *> connections = m_connections.values();
    for (Connection *c : connections) {
        if (QTcpSocket *socket = c->socket) {
            if (socket->bytesToWrite() > 0)
                socket->waitForBytesWritten(1000);
            socket->abort();
        }
    }
}

void ConnectionGuard::forget(QTcpSocket *socket)
{
    // QHttpServer deletes its sockets when they disconnect; only the bookkeeping goes here.
    delete m_connections.take(socket);
}

} // namespace agmem
