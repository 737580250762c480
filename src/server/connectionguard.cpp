#include "connectionguard.h"

#include "httpmessage.h"
#include "platform.h"

#include "core/logging.h"

#include <QSslSocket>
#include <QTcpSocket>

namespace agmem {

namespace {

bool isTokenChar(char c)
{
    // RFC 9110 tchar
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
        return true;
    default:
        return false;
    }
}

bool isToken(QByteArrayView s)
{
    if (s.isEmpty())
        return false;
    for (char c : s) {
        if (!isTokenChar(c))
            return false;
    }
    return true;
}

bool hasToken(QByteArrayView list, QByteArrayView token)
{
    for (const QByteArray &part : list.toByteArray().split(',')) {
        if (part.trimmed().compare(token, Qt::CaseInsensitive) == 0)
            return true;
    }
    return false;
}

// How long to stop accepting after the process ran out of file descriptors.
constexpr int AcceptPauseMs = 200;
constexpr int SweepIntervalMs = 1000;

} // namespace

RequestHeadScanner::Verdict RequestHeadScanner::feed(const char *data, qsizetype size,
                                                     QList<Head> *heads)
{
    qsizetype pos = 0;
    while (pos < size && !m_failed) {
        if (m_inBody) {
            const qsizetype take = qsizetype(std::min<qint64>(m_bodyLeft, size - pos));
            m_bodyLeft -= take;
            pos += take;
            if (m_bodyLeft == 0)
                m_inBody = false;
            continue;
        }
        // Blank lines before a request line are allowed (RFC 9112 2.2).
        if (m_head.isEmpty() && (data[pos] == '\r' || data[pos] == '\n')) {
            ++pos;
            continue;
        }
        // Collect the head up to the blank line.
        const qsizetype before = m_head.size();
        const qsizetype headStart = pos - before;
        const qsizetype room = m_limits.maxHeadBytes + 4 - before;
        const qsizetype take = std::min(size - pos, room);
        m_head.append(data + pos, take);
        // The head ends at the first empty line: the first LF followed by LF or CRLF
        // (QHttpServer's parser accepts bare LF line ends too, so the guard must see the
        // same boundary; searching for CRLFCRLF first would skip an earlier LFLF).
        qsizetype end = -1;
        qsizetype endLength = 0;
        for (qsizetype i = std::max<qsizetype>(0, before - 2); i + 1 < m_head.size(); ++i) {
            if (m_head.at(i) != '\n')
                continue;
            qsizetype after = 0;
            if (m_head.at(i + 1) == '\n')
                after = 1;
            else if (m_head.at(i + 1) == '\r' && i + 2 < m_head.size() && m_head.at(i + 2) == '\n')
                after = 2;
            else
                continue;
            end = (i > 0 && m_head.at(i - 1) == '\r') ? i - 1 : i;
            endLength = i + 1 + after - end;
            break;
        }
        if (end < 0) {
            pos += take;
            // A terminator (at most 4 bytes) that starts within the limit would have been
            // found by now; before that, a later read may still complete a head that fits.
            if (m_head.size() >= m_limits.maxHeadBytes + 4) {
                m_failed = true;
                return {431,
                        QStringLiteral("Request head is larger than %1 bytes")
                            .arg(m_limits.maxHeadBytes),
                        headStart};
            }
            continue;
        }
        if (end > m_limits.maxHeadBytes) {
            m_failed = true;
            return {
                431,
                QStringLiteral("Request head is larger than %1 bytes").arg(m_limits.maxHeadBytes),
                headStart};
        }
        // Bytes of this chunk that belong after the head.
        const qsizetype used = end + endLength - before;
        pos += used;
        m_head.truncate(end);
        Head head;
        Verdict verdict = parseHead(&head);
        m_head.clear();
        if (verdict.status) {
            m_failed = true;
            verdict.requestStart = headStart;
            return verdict;
        }
        heads->append(head);
        m_bodyLeft = head.contentLength;
        m_inBody = m_bodyLeft > 0;
    }
    return {};
}

RequestHeadScanner::Verdict RequestHeadScanner::parseHead(Head *head) const
{
    QList<QByteArray> lines = m_head.split('\n');
    for (QByteArray &line : lines) {
        if (line.endsWith('\r'))
            line.chop(1);
    }
    const QList<QByteArray> requestLine = lines.first().split(' ');
    if (requestLine.size() != 3 || !isToken(requestLine[0]) || requestLine[1].isEmpty() ||
        !requestLine[2].startsWith("HTTP/1.") || requestLine[2].size() != 8 ||
        (requestLine[2][7] != '0' && requestLine[2][7] != '1')) {
        return {400, QStringLiteral("Malformed request line")};
    }
    const bool http10 = requestLine[2][7] == '0';
    head->closeAfterResponse = http10;

    std::optional<qint64> contentLength;
    for (qsizetype i = 1; i < lines.size(); ++i) {
        const QByteArray &line = lines.at(i);
        if (line.startsWith(' ') || line.startsWith('\t'))
            return {400, QStringLiteral("Obsolete header line folding is not accepted")};
        const qsizetype colon = line.indexOf(':');
        if (colon <= 0 || !isToken(QByteArrayView(line).first(colon)))
            return {400, QStringLiteral("Malformed header line")};
        const QByteArrayView name = QByteArrayView(line).first(colon);
        const QByteArray value = line.mid(colon + 1).trimmed();
        if (name.compare("content-length", Qt::CaseInsensitive) == 0) {
            bool ok = false;
            const qint64 n = value.toLongLong(&ok);
            if (!ok || n < 0 || value.startsWith('+') || value.startsWith('-'))
                return {400, QStringLiteral("Malformed Content-Length")};
            if (contentLength && *contentLength != n)
                return {400, QStringLiteral("Conflicting Content-Length headers")};
            contentLength = n;
        } else if (name.compare("transfer-encoding", Qt::CaseInsensitive) == 0) {
            return {411, QStringLiteral("Chunked request bodies are not accepted; send "
                                        "Content-Length")};
        } else if (name.compare("connection", Qt::CaseInsensitive) == 0) {
            if (hasToken(value, "close"))
                head->closeAfterResponse = true;
            else if (http10 && hasToken(value, "keep-alive"))
                head->closeAfterResponse = false;
        } else if (name.compare("expect", Qt::CaseInsensitive) == 0) {
            if (value.compare("100-continue", Qt::CaseInsensitive) != 0)
                return {417, QStringLiteral("Only Expect: 100-continue is supported")};
            head->expectContinue = !http10;
        }
    }
    head->contentLength = contentLength.value_or(0);
    if (head->contentLength > m_limits.maxBodyBytes) {
        return {413,
                QStringLiteral("Request body is larger than %1 bytes").arg(m_limits.maxBodyBytes)};
    }
    return {};
}

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
        m_afterRead.insert(socket, connect(socket, &QTcpSocket::readyRead, this,
                                           [this, socket] { afterHttpServerRead(socket); }));
    }
}

void ConnectionGuard::httpServerReconnected(QTcpSocket *socket)
{
    Connection *c = m_connections.value(socket);
    if (!c || c->rejecting || !m_afterRead.contains(socket))
        return;
    disconnect(m_afterRead.value(socket));
    m_afterRead.insert(socket, connect(socket, &QTcpSocket::readyRead, this,
                                       [this, socket] { afterHttpServerRead(socket); }));
}

QTcpSocket *ConnectionGuard::connectionOf(const QHostAddress &peer, quint16 port) const
{
    for (const Connection *c : m_connections) {
        QTcpSocket *socket = c->socket;
        if (socket && socket->peerPort() == port && socket->peerAddress() == peer)
            return socket;
    }
    return nullptr;
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
        if (m_sendsContinue && head.expectContinue && !verdict.status)
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
        // A transaction opened when no request was in progress holds nothing QHttpServer
        // has read (it commits each complete request): undoing it is safe. Qt 6.8 leaves
        // one open after every answer (its re-emitted readyRead finds no bytes).
        if (socket->isTransactionStarted() && !wasInRequest)
            socket->rollbackTransaction();
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
        platform::shutdownWrite(socket->socketDescriptor());
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
    m_afterRead.remove(socket);
}

} // namespace agmem
