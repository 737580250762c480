#include "connectionguard.h"

#include "httpmessage.h"
#include "platform.h"

#include "core/logging.h"

#include <QEvent>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSocketNotifier>
#include <QSslSocket>
#include <QTcpSocket>
#include <QThread>
#include <QUrl>
#include <QUrlQuery>
#include <QVarLengthArray>

namespace agmem {

namespace {

// How long to stop accepting after the process ran out of file descriptors.
constexpr int AcceptPauseMs = 200;
constexpr int SweepIntervalMs = 1000;
// How often a connection whose reading waits for its answer to leave is looked at.
constexpr int DrainPollMs = 10;
// What a refused TLS connection reads from the system at a time while it is drained.
constexpr qint64 RejectedReadChunk = 64 * 1024;

// A request target of letters, digits and "-._~/" only, starting with one "/" and without
// dot segments (every route the API has, /k/KEY/... included): its path is itself, and it
// has no query. Anything else goes through QUrl.
bool isPlainPath(const QByteArray &target)
{
    if (target.isEmpty() || target.front() != '/' || target.startsWith("//") ||
        target.contains("/."))
        return false;
    for (const char c : target) {
        const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                           (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~' ||
                           c == '/';
        if (!plain)
            return false;
    }
    return true;
}

// What the guard reads from a connection it frames itself at a time: between two reads
// it hands over the requests that are whole, so its buffer holds at most one unfinished head
// and the bodies admitted within the budget, plus this much.
constexpr qint64 DirectReadChunk = 64 * 1024;

// Any name QHttpServer does not know (knownHttpMethod()) reaches the API as "UNKNOWN".
QByteArray qtMethodName(const QByteArray &method)
{
    if (const QByteArray *known = knownHttpMethod(method))
        return *known;
    return QByteArrayLiteral("UNKNOWN");
}

// Empties a connection's read buffer. A small one keeps its memory for the next read (one
// allocation less per request); a large one (a big body) gives it back.
constexpr qsizetype KeptBufferCapacity = 16 * 1024;
void emptyBuffer(QByteArray &buffer)
{
    if (buffer.capacity() <= KeptBufferCapacity)
        buffer.resize(0);
    else
        buffer.clear();
}

// The CR and LF bytes at the start of `buffer`.
qsizetype leadingBlankBytes(const QByteArray &buffer)
{
    qsizetype n = 0;
    while (n < buffer.size() && (buffer[n] == '\r' || buffer[n] == '\n'))
        ++n;
    return n;
}

} // namespace

ConnectionGuard::ConnectionGuard(const ConnectionLimits &limits, QObject *parent)
    : QTcpServer(parent)
    , m_limits(limits)
{
    m_sweeper.setInterval(SweepIntervalMs);
    connect(&m_sweeper, &QTimer::timeout, this, &ConnectionGuard::sweep);
    m_sweeper.start();

    m_drainPoll.setInterval(DrainPollMs);
    connect(&m_drainPoll, &QTimer::timeout, this, &ConnectionGuard::drainHeldOutput);

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
    const QHostAddress peer = socket->peerAddress();
    QString refusal;
    if (m_limits.maxConnectionsPerAddress > 0 &&
        connectionsFrom(peer) >= m_limits.maxConnectionsPerAddress &&
        !(m_capExempt && m_capExempt(peer))) {
        refusal = QStringLiteral("Too many open connections from your address (%1); try again "
                                 "later")
                      .arg(m_limits.maxConnectionsPerAddress);
    } else if (m_connections.size() >= m_limits.maxConnections && !evictIdlest()) {
        refusal = QStringLiteral("Too many open connections (%1); try again later")
                      .arg(m_limits.maxConnections);
    }
    if (!refusal.isEmpty()) {
        const QByteArray answer =
            HttpReply::error(503, refusal).withHeader("Retry-After", "1").serialize(false, true);
        connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
        auto *ssl = qobject_cast<QSslSocket *>(socket);
        if (ssl && !ssl->isEncrypted()) {
            // Over TLS the answer can only go out once the handshake is done; a client that
            // never finishes it is dropped after the read timeout.
            connect(ssl, &QSslSocket::encrypted, ssl, [ssl, answer] {
                ssl->write(answer);
                ssl->disconnectFromHost();
            });
            QTimer::singleShot(m_limits.readTimeoutMs, ssl, &QSslSocket::abort);
        } else {
            socket->write(answer);
            socket->disconnectFromHost();
        }
        Q_EMIT requestRejected(peer.toString(), 503, refusal);
        return;
    }

    auto *c = new Connection{socket, peer, RequestHeadScanner(m_limits)};
    c->scanner.setAdmission(
        [this, socket](const RequestHeadScanner::Head &head) { return admit(socket, head); });
    c->lastActivity.start();
    m_connections.insert(socket, c);
    if (!m_tls) {
        // QAbstractSocket reads the system only when its read notifier (a child of its
        // socket engine) fires: watching it, the hold can wait until it is needed.
        for (QSocketNotifier *n : socket->findChildren<QSocketNotifier *>()) {
            if (n->type() == QSocketNotifier::Read) {
                n->installEventFilter(this);
                c->readNotifier = n;
                m_readNotifiers.insert(n, socket);
                break;
            }
        }
    }

    if (m_direct && !m_tls) {
        // Read and framed here; QHttpServer never gets the socket.
        c->direct = true;
        c->hooked = true;
        c->scanner.setFraming(true);
        connect(socket, &QTcpSocket::readyRead, this, [this, socket] { directRead(socket); });
        connect(socket, &QTcpSocket::disconnected, this, [this, socket] {
            forget(socket);
            socket->deleteLater();
        });
        connect(socket, &QObject::destroyed, this, [this, socket] { forget(socket); });
        return;
    }
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
    c->inRead = true;
    if (c->rejecting) {
        // Drain and drop whatever the client still sends, without buffering it.
        char scratch[16384];
        while (socket->read(scratch, sizeof scratch) > 0) {
        }
        return;
    }
    const qint64 available = socket->bytesAvailable();
    if (available <= c->scannedUnread)
        return;
    if (c->deferred) {
        // Whatever follows the bad request is dropped; QHttpServer still has valid requests
        // (scannedUnread bytes) to read.
        deferReject(*c, c->scannedUnread, *c->deferred);
        return;
    }
    if (c->discarding) {
        cutReadBuffer(*c, c->scannedUnread);
        return;
    }
    // Only the bytes not scanned yet, peeked into one buffer (no copy of a copy).
    QVarLengthArray<char, 2048> peeked(available);
    const qint64 got = socket->peek(peeked.data(), available);
    const QByteArrayView fresh =
        QByteArrayView(peeked.constData(), std::max<qint64>(0, got))
            .sliced(std::min<qint64>(c->scannedUnread, std::max<qint64>(0, got)));
    c->scannedUnread = available;
    const bool wasInRequest = c->scanner.inRequest();
    m_scanned.clear(); // keeps its capacity
    const RequestHeadScanner::Verdict verdict =
        c->scanner.feed(fresh.constData(), fresh.size(), &m_scanned);
    queueHeads(*c, m_scanned, wasInRequest, verdict);
    if (verdict.discardFrom >= 0) {
        // A request that closes the connection is complete: what follows is never read.
        c->discarding = true;
        cutReadBuffer(*c, available - fresh.size() + verdict.discardFrom);
        return;
    }
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
            reject(*c, verdict.status, verdict.detail, verdict.headers);
    }
}

void ConnectionGuard::queueHeads(Connection &c, QList<RequestHeadScanner::Head> &heads,
                                 bool wasInRequest, const RequestHeadScanner::Verdict &verdict)
{
    const bool any = !heads.isEmpty();
    for (RequestHeadScanner::Head &head : heads) {
        Connection::PendingHead pending =
            c.admitted.isEmpty() ? Connection::PendingHead() : c.admitted.dequeue();
        pending.closeAfterResponse = head.closeAfterResponse;
        // As QHttpServer 6.8 does: only for a body (and never to HTTP/1.0: the scanner).
        pending.expectContinue = head.expectContinue && head.contentLength > 0 && !verdict.status;
        std::optional<HttpRequest> request = std::exchange(pending.request, std::nullopt);
        c.heads.enqueue(std::move(pending));
        if (c.direct)
            c.framed.enqueue({std::move(head), std::move(request)});
    }
    continueIfNext(c);
    if (!wasInRequest && (c.scanner.inRequest() || any))
        c.requestStarted.start();
    // Idle time counts from the end of the last request (blank lines are not activity).
    if (any && !c.scanner.inRequest())
        c.lastActivity.start();
}

void ConnectionGuard::directRead(QTcpSocket *socket)
{
    Connection *c = m_connections.value(socket);
    while (c && !c->holding && socket->bytesAvailable() > 0) {
        if (c->rejecting || c->deferred || c->discarding) {
            // Nothing after a bad request, or after one that closes the connection, is a
            // request: drained without being kept.
            char scratch[16384];
            while (socket->read(scratch, sizeof scratch) > 0) {
            }
            return;
        }
        const qsizetype old = c->buffer.size();
        const qint64 want = std::min(socket->bytesAvailable(), DirectReadChunk);
        c->buffer.resize(old + qsizetype(want));
        const qint64 got = socket->read(c->buffer.data() + old, want);
        c->buffer.resize(old + qsizetype(std::max<qint64>(0, got)));
        if (got <= 0)
            return;
        const bool wasInRequest = c->scanner.inRequest();
        m_scanned.clear(); // keeps its capacity
        const RequestHeadScanner::Verdict verdict =
            c->scanner.feed(c->buffer.constData() + old, qsizetype(got), &m_scanned);
        queueHeads(*c, m_scanned, wasInRequest, verdict);
        // The requests before a bad one, or up to one that closes the connection, are whole
        // in the buffer (the scanner reads what follows a request only after its body):
        // they are handed over, what follows is dropped.
        if (verdict.status) {
            c->buffer.truncate(std::max<qsizetype>(0, old + verdict.requestStart));
        } else if (verdict.discardFrom >= 0) {
            c->buffer.truncate(old + verdict.discardFrom);
            c->discarding = true;
        }
        if (!handOver(socket))
            return;
        c = m_connections.value(socket);
        if (verdict.status) {
            // Answered once the requests before it are, in order.
            if (c->unanswered > 0 || !c->heads.isEmpty())
                deferReject(*c, 0, verdict);
            else
                reject(*c, verdict.status, verdict.detail, verdict.headers);
            return;
        }
    }
}

bool ConnectionGuard::handOver(QTcpSocket *socket)
{
    Connection *c = m_connections.value(socket);
    while (c && !c->framed.isEmpty()) {
        QByteArray &buffer = c->buffer;
        // Blank lines before a request (RFC 9112 2.2; the scanner skips them too).
        const qsizetype start = leadingBlankBytes(buffer);
        const RequestHeadScanner::Head &next = c->framed.head().head;
        const qsizetype bodyStart = start + next.headBytes;
        const qsizetype length = qsizetype(next.contentLength);
        if (buffer.size() - bodyStart < length)
            break; // the body is still arriving
        Connection::Framed framed = c->framed.dequeue();
        // The head check built this request already (a request with a body): taken over.
        HttpRequest request = framed.request ? std::move(*framed.request)
                                             : requestFromHead(std::move(framed.head), c->peer);
        if (length > 0)
            request.body = buffer.mid(bodyStart, length);
        if (bodyStart + length == buffer.size())
            emptyBuffer(buffer); // the usual case: the read ended with the request
        else
            buffer.remove(0, bodyStart + length);
        m_direct(std::move(request), socket);
        c = m_connections.value(socket); // the answer may have closed the connection
    }
    if (!c)
        return false;
    if (c->framed.isEmpty()) {
        // Only blank lines or the start of the next head are left: blank lines are not kept.
        const qsizetype start = leadingBlankBytes(c->buffer);
        if (start == c->buffer.size())
            emptyBuffer(c->buffer);
        else if (start > 0)
            c->buffer.remove(0, start);
    }
    return true;
}

HttpRequest ConnectionGuard::requestFromHead(RequestHeadScanner::Head head,
                                             const QHostAddress &peer)
{
    // The peer given at construction: a default QHostAddress would allocate first.
    HttpRequest request{.method = qtMethodName(head.method), .peer = peer};
    request.headers = std::move(head.fields);
    // The last plain path's text, shared by the next request to the same target (a client
    // pushes to the same route again and again).
    thread_local struct
    {
        QByteArray target;
        QString path;
    } last;
    if (!last.target.isEmpty() && head.target == last.target) {
        request.path = last.path;
    } else if (isPlainPath(head.target)) {
        request.path = QString::fromLatin1(head.target); // what QUrl would make of it
        last.target = head.target;
        last.path = request.path;
    } else {
        // As QHttpServerRequest: the target through QUrl, the Host header its authority.
        QUrl url = QUrl::fromEncoded(head.target);
        const QByteArray host = request.header("host");
        if (!host.isEmpty())
            url.setAuthority(QString::fromUtf8(host));
        request.path = url.path();
        request.query = QUrlQuery(url.query()); // QHttpServerRequest::query(): pretty-decoded
    }
    return request;
}

qint64 ConnectionGuard::bufferedRequestBytes() const
{
    qint64 bytes = 0;
    for (const Connection *c : m_connections)
        bytes += c->buffer.size();
    return bytes;
}

void ConnectionGuard::deferReject(Connection &c, qint64 keep,
                                  const RequestHeadScanner::Verdict &verdict)
{
    if (!c.deferred) {
        c.deferred = verdict;
        c.requestStarted.start(); // the wait is bounded by the read timeout (sweep)
    }
    // A connection the guard frames keeps nothing unread for QHttpServer: what follows is
    // drained by directRead().
    if (!c.direct)
        cutReadBuffer(c, keep);
    rejectWhenAnswered(c);
}

void ConnectionGuard::cutReadBuffer(Connection &c, qint64 keep)
{
    QTcpSocket *socket = c.socket;
    c.scannedUnread = keep;
    if (socket->isTransactionStarted()) {
        // QHttpServer is in the middle of a request (its bytes are in `keep`): cut once it
        // has read it whole and committed (afterHttpServerRead).
        c.cutPending = true;
        c.availableAtCut = socket->bytesAvailable();
        return;
    }
    c.cutPending = false;
    // Read everything, put back the start.
    const QByteArray buffered = socket->readAll();
    keep = std::min<qint64>(keep, buffered.size());
    for (qint64 i = keep - 1; i >= 0; --i)
        socket->ungetChar(buffered.at(i));
    c.scannedUnread = keep;
}

RequestHeadScanner::Verdict ConnectionGuard::admit(QTcpSocket *socket,
                                                   const RequestHeadScanner::Head &head)
{
    Connection *c = m_connections.value(socket);
    if (!c || head.contentLength == 0) {
        if (c)
            c->admitted.enqueue({});
        return {};
    }
    Connection::PendingHead pending;
    if (m_headCheck) {
        // The request as the API will see it, without its body.
        HttpRequest request = requestFromHead(head, c->peer);
        if (const std::optional<HttpReply> refused = m_headCheck(request, &pending.authorized)) {
            RequestHeadScanner::Verdict verdict;
            verdict.status = refused->status;
            verdict.detail = QString::fromUtf8(refused->body);
            const QJsonObject object = QJsonDocument::fromJson(refused->body).object();
            if (object.value(u"detail").isString())
                verdict.detail = object.value(u"detail").toString();
            verdict.headers = refused->headers;
            return verdict;
        }
        if (c->direct)
            pending.request = std::move(request); // handOver() takes it
    }
    if (m_limits.maxBufferedBodyBytes > 0 &&
        m_bufferedBody + head.contentLength > m_limits.maxBufferedBodyBytes) {
        RequestHeadScanner::Verdict verdict;
        verdict.status = 503;
        verdict.detail = QStringLiteral("The server is receiving too many request bodies at "
                                        "once (%1 bytes); try again")
                             .arg(m_limits.maxBufferedBodyBytes);
        verdict.headers.append(qMakePair(QByteArray("Retry-After"), QByteArray("1")));
        return verdict;
    }
    pending.reservedBody = head.contentLength;
    m_bufferedBody += head.contentLength;
    c->reservedBody += head.contentLength;
    c->admitted.enqueue(std::move(pending));
    return {};
}

void ConnectionGuard::releaseBody(Connection &c, qint64 bytes)
{
    bytes = std::min(bytes, c.reservedBody);
    c.reservedBody -= bytes;
    m_bufferedBody -= bytes;
}

void ConnectionGuard::continueIfNext(Connection &c)
{
    // "100 Continue" goes out only for the request that is next to be answered: before
    // an earlier answer it would be read as that answer's status line.
    if ((!m_sendsContinue && !c.direct) || c.unanswered > 0 || c.heads.isEmpty() ||
        !c.heads.head().expectContinue || !c.socket)
        return;
    c.heads.head().expectContinue = false;
    c.socket->write("HTTP/1.1 100 Continue\r\n\r\n");
}

bool ConnectionGuard::evictIdlest()
{
    Connection *idlest = nullptr;
    for (Connection *c : std::as_const(m_connections)) {
        if (!c->socket || !c->idle() || outputPending(c->socket))
            continue;
        if (!idlest || c->lastActivity.elapsed() > idlest->lastActivity.elapsed())
            idlest = c;
    }
    if (!idlest)
        return false;
    QTcpSocket *socket = idlest->socket;
    qCDebug(lcServer) << "closing the connection idle longest, from" << idlest->peer
                      << "to admit a new one";
    socket->abort();
    forget(socket);
    return true;
}

int ConnectionGuard::connectionsFrom(const QHostAddress &peer) const
{
    int n = 0;
    for (const Connection *c : std::as_const(m_connections)) {
        if (c->peer == peer)
            ++n;
    }
    return n;
}

void ConnectionGuard::rejectWhenAnswered(Connection &c)
{
    if (!c.deferred || c.rejecting || c.scannedUnread > 0 || c.unanswered > 0 || !c.heads.isEmpty())
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
            reject(*c, verdict.status, verdict.detail, verdict.headers);
        },
        Qt::QueuedConnection);
}

void ConnectionGuard::afterHttpServerRead(QTcpSocket *socket)
{
    if (Connection *c = m_connections.value(socket)) {
        c->inRead = false;
        if (c->cutPending) {
            const qint64 consumed = c->availableAtCut - socket->bytesAvailable();
            cutReadBuffer(*c, std::max<qint64>(0, c->scannedUnread - consumed));
        } else {
            c->scannedUnread = socket->bytesAvailable();
        }
        if (c->holdAfterRead) {
            c->holdAfterRead = false;
            if (c->unanswered > 0)
                holdReading(*c, false);
        }
        rejectWhenAnswered(*c);
    }
}

void ConnectionGuard::reject(Connection &c, int status, const QString &detail,
                             const HeaderList &headers)
{
    QTcpSocket *socket = c.socket;
    c.rejecting = true;
    c.buffer.clear();
    c.framed.clear();
    // QHttpServer must not read this socket again.
    disconnect(socket, &QTcpSocket::readyRead, nullptr, nullptr);
    connect(socket, &QTcpSocket::readyRead, this, [this, socket] { scan(socket); });
    if (tlsTransport(socket)) {
        // QSslSocket's TCP socket would take all the system has (megabytes) and hold it
        // three times over while decrypting: drained in small steps instead.
        socket->setReadBufferSize(RejectedReadChunk);
    }
    char scratch[16384];
    while (socket->read(scratch, sizeof scratch) > 0) {
    }
    // Lingering close: the answer, then end-of-stream for the client; what it still sends
    // is drained (never buffered) until it closes, for a few seconds at most. Closing at
    // once with unread bytes would reset the connection and could destroy the answer.
    HttpReply reply = HttpReply::error(status, detail);
    reply.headers += headers;
    socket->write(reply.serialize(false, true));
    socket->flush();
    if (!outputPending(socket))
        platform::shutdownWrite(socket->socketDescriptor());
    else
        socket->disconnectFromHost();
    c.requestStarted.start();
    qCInfo(lcAccess).noquote() << socket->peerAddress().toString() << "-" << status << detail;
    Q_EMIT requestRejected(socket->peerAddress().toString(), status, detail);
}

bool ConnectionGuard::takeCloseAfterResponse(QTcpSocket *socket, bool *authorizedFromHead)
{
    Connection *c = m_connections.value(socket);
    if (!c)
        return false;
    ++c->unanswered;
    if (c->heads.isEmpty())
        return false;
    const Connection::PendingHead head = c->heads.dequeue();
    releaseBody(*c, head.reservedBody);
    if (authorizedFromHead)
        *authorizedFromHead = head.authorized;
    return head.closeAfterResponse;
}

void ConnectionGuard::awaitAnswer(QTcpSocket *socket)
{
    Connection *c = m_connections.value(socket);
    // Plain TCP: the read notifier is watched, and the hold starts only when it fires
    // before the answer (eventFilter()). TLS: held at once.
    if (c && c->unanswered > 0 && !c->readNotifier)
        holdReading(*c, true);
}

bool ConnectionGuard::eventFilter(QObject *watched, QEvent *event)
{
    if (event->type() != QEvent::SockAct)
        return false;
    QTcpSocket *socket = m_readNotifiers.value(watched);
    Connection *c = socket ? m_connections.value(socket) : nullptr;
    if (!c || c->readNotifier != watched || c->holding)
        return false;
    if (c->unanswered == 0) {
        // An answer still in Qt's write buffer goes out first: reading an end-of-stream
        // now would close the socket and drop it.
        if (c->socket && c->socket->bytesToWrite() > 0)
            c->socket->flush();
        return false;
    }
    // Readable while an answer is pending: Qt would read now, and close the connection on
    // an end-of-stream before the answer is written. Held instead; the notifier fires
    // again once reading resumes.
    holdReading(*c, false);
    return c->holding;
}

void ConnectionGuard::holdReading(Connection &c, bool mayDefer)
{
    QTcpSocket *socket = c.socket;
    if (c.holding || !socket || socket->isTransactionStarted() ||
        socket->state() != QAbstractSocket::ConnectedState)
        return;
    if (mayDefer && c.inRead && m_afterRead.contains(socket)) {
        // QHttpServer (6.4) queues another readyRead when it sees unread bytes after a
        // request: a hostage byte put in now would cost a posted event and a wake-up per
        // request. afterHttpServerRead() runs next, in the same signal.
        c.holdAfterRead = true;
        return;
    }
    // QAbstractSocket stops reading from the system (and so cannot see end-of-stream)
    // while its buffer is full. An empty buffer gets one byte, taken out again on release;
    // signals are blocked so that nobody reads meanwhile.
    if (socket->bytesAvailable() == 0) {
        socket->ungetChar('\n');
        ++c.scannedUnread;
        c.hostageByte = true;
    }
    // On a QSslSocket this also limits the TCP socket beneath it, and QSslSocket takes no
    // more encrypted bytes from that socket while its own buffer is full. That socket's
    // buffer is usually empty (everything received was decrypted): it gets a byte too, or
    // it would read the client's end-of-stream and close the connection.
    socket->setReadBufferSize(1);
    if (QTcpSocket *transport = tlsTransport(socket);
        transport && transport->bytesAvailable() == 0) {
        transport->ungetChar('\0');
        c.transportHostageByte = true;
    }
    socket->blockSignals(true);
    c.holding = true;
}

bool ConnectionGuard::outputPending(QTcpSocket *socket)
{
    if (socket->bytesToWrite() > 0)
        return true;
    // A QSslSocket counts only what it has not encrypted yet.
    const QTcpSocket *transport = tlsTransport(socket);
    return transport && transport->bytesToWrite() > 0;
}

void ConnectionGuard::drainHeldOutput()
{
    const QList<QTcpSocket *> draining = m_draining.values();
    for (QTcpSocket *socket : draining) {
        Connection *c = m_connections.value(socket);
        if (!c || !c->holding || c->unanswered > 0) {
            m_draining.remove(socket);
            continue;
        }
        if (socket->state() == QAbstractSocket::ConnectedState && outputPending(socket)) {
            socket->flush();
            if (outputPending(socket))
                continue;
        }
        m_draining.remove(socket);
        releaseHold(*c);
        if ((c = m_connections.value(socket)))
            rejectWhenAnswered(*c);
    }
    if (m_draining.isEmpty())
        m_drainPoll.stop();
}

QTcpSocket *ConnectionGuard::tlsTransport(QTcpSocket *socket)
{
    // QSslSocket reads and writes the connection through a plain QTcpSocket, its child.
    if (!qobject_cast<QSslSocket *>(socket))
        return nullptr;
    return socket->findChild<QTcpSocket *>(QString(), Qt::FindDirectChildrenOnly);
}

void ConnectionGuard::releaseHold(Connection &c)
{
    if (!c.holding)
        return;
    QTcpSocket *socket = c.socket;
    QTcpSocket *transport = tlsTransport(socket);
    if (transport) {
        // Encrypt the answer and hand it to the system now (still held: nothing is read),
        // before reading resumes and may find the client's end-of-stream.
        socket->flush();
    }
    c.holding = false;
    socket->blockSignals(false);
    if (c.hostageByte) {
        c.hostageByte = false;
        char byte = 0;
        if (socket->read(&byte, 1) == 1)
            --c.scannedUnread;
    }
    if (c.transportHostageByte) {
        c.transportHostageByte = false;
        char byte = 0;
        if (transport)
            transport->read(&byte, 1);
    }
    // Reading from the system resumes (Qt enables its read notifier again).
    socket->setReadBufferSize(0);
    if (socket->state() == QAbstractSocket::UnconnectedState) {
        // It failed while held (its signal was blocked): QHttpServer and the guard let go.
        Q_EMIT socket->disconnected();
        return;
    }
    if (transport && transport->bytesAvailable() > 0) {
        // Encrypted bytes that waited beneath QSslSocket: it decrypts them when its
        // transport signals them.
        QMetaObject::invokeMethod(transport, &QTcpSocket::readyRead, Qt::QueuedConnection);
    }
    if (socket->bytesAvailable() > 0)
        QMetaObject::invokeMethod(socket, &QTcpSocket::readyRead, Qt::QueuedConnection);
}

void ConnectionGuard::answered(QTcpSocket *socket)
{
    Connection *c = m_connections.value(socket);
    if (!c)
        return;
    c->unanswered = std::max(0, c->unanswered - 1);
    // The answer goes to the system now: Qt reads on from the connection after this, and
    // if it finds the client's end-of-stream it closes the connection at once, dropping
    // whatever it had not sent yet (a half-close after a request answered at once).
    socket->flush();
    if (c->unanswered == 0 && socket->state() == QAbstractSocket::ConnectedState &&
        outputPending(socket)) {
        // More than the system takes now (a large answer, a slow reader): reading waits
        // until it has all left.
        holdReading(*c, false);
        if (c->holding) {
            m_draining.insert(socket);
            if (!m_drainPoll.isActive())
                m_drainPoll.start();
        }
    } else if (c->unanswered == 0) {
        releaseHold(*c);
    }
    c = m_connections.value(socket);
    if (!c)
        return;
    c->lastActivity.start();
    continueIfNext(*c);
    rejectWhenAnswered(*c);
}

void ConnectionGuard::markStreaming(QTcpSocket *socket)
{
    Connection *c = m_connections.value(socket);
    if (!c)
        return;
    c->streaming = true;
    c->unanswered = 0;
    disconnect(socket, &QTcpSocket::readyRead, nullptr, nullptr);
    connect(socket, &QTcpSocket::readyRead, socket, [socket] {
        char scratch[4096];
        while (socket->read(scratch, sizeof scratch) > 0) {
        }
    });
}

void ConnectionGuard::sweep()
{
    const QList<Connection *> connections = m_connections.values();
    for (Connection *c : connections) {
        QTcpSocket *socket = c->socket;
        if (!socket)
            continue;
        if (c->streaming)
            continue;
        if (c->rejecting) {
            if (c->requestStarted.hasExpired(std::min(m_limits.readTimeoutMs, 5000)))
                socket->abort();
        } else if (c->deferred) {
            // The requests before the bad one were never all answered: answer it now.
            if (c->requestStarted.hasExpired(m_limits.readTimeoutMs))
                reject(*c, c->deferred->status, c->deferred->detail, c->deferred->headers);
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
        } else if (c->idle() && c->lastActivity.hasExpired(m_limits.idleTimeoutMs) &&
                   !outputPending(socket)) {
            socket->disconnectFromHost();
        }
    }
}

void ConnectionGuard::stopReading()
{
    m_draining.clear();
    m_drainPoll.stop();
    for (Connection *c : std::as_const(m_connections)) {
        if (QTcpSocket *socket = c->socket) {
            disconnect(socket, &QTcpSocket::readyRead, nullptr, nullptr);
            c->holding = false;
            c->hostageByte = false;
            c->transportHostageByte = false;
            socket->blockSignals(false);
            m_readNotifiers.remove(c->readNotifier);
            c->readNotifier = nullptr; // no hold starts any more
        }
    }
}

void ConnectionGuard::closeAllConnections(int graceMs)
{
    // Nothing is read while answers leave: a pipelined request must not start now (its
    // answer would outlive the API). No waitFor*(): it would read, and wait per socket.
    stopReading();
    QElapsedTimer waited;
    waited.start();
    for (;;) {
        bool pending = false;
        // A copy: a socket that fails while flushing is forgotten at once.
        const QList<Connection *> connections = m_connections.values();
        for (Connection *c : connections) {
            QTcpSocket *socket = c->socket;
            if (socket && outputPending(socket)) {
                socket->flush();
                pending = pending || outputPending(socket);
            }
        }
        if (!pending || waited.hasExpired(graceMs))
            break;
        QThread::msleep(10);
    }
    const QList<Connection *> connections = m_connections.values();
    for (Connection *c : connections) {
        if (QTcpSocket *socket = c->socket)
            socket->abort();
    }
}

void ConnectionGuard::forget(QTcpSocket *socket)
{
    // QHttpServer deletes its sockets when they disconnect; only the bookkeeping goes here.
    if (Connection *c = m_connections.take(socket)) {
        releaseBody(*c, c->reservedBody);
        if (c->readNotifier)
            m_readNotifiers.remove(c->readNotifier);
        delete c;
    }
    m_afterRead.remove(socket);
    m_draining.remove(socket);
}

} // namespace agmem
