#pragma once

#include "httpmessage.h"
#include "requestheadscanner.h"

#include <QByteArray>
#include <QElapsedTimer>
#include <QHash>
#include <QHostAddress>
#include <QPointer>
#include <QQueue>
#include <QSet>
#include <QSslConfiguration>
#include <QTcpServer>
#include <QTimer>

#include <functional>
#include <optional>

class QHostAddress;
class QTcpSocket;

namespace agmem {

// The listening socket handed to QHttpServer::bind(). QHttpServer 6.4 has no limits or
// timeouts of its own. On plain TCP this reads and frames every request itself and hands
// it to the API (setDirectHandler()); over TLS it sees every request head before
// QHttpServer reads the socket. Either way it refuses any head QHttpServer would frame
// differently, and answers 413/431/411/400/408/503
// (and, through the head check, 401/403/429) itself before a body is buffered, keeping
// all bodies in flight within one budget; it answers
// "100 Continue" when the request is next to be answered, closes after the response when
// the client asked for it (and never reads a request pipelined behind that), drops idle
// and slow connections, caps the number of connections (making room by closing the one
// idle longest) and those from one address, and stops accepting for a moment when the
// process runs out of file descriptors instead of spinning.
class ConnectionGuard : public QTcpServer
{
    Q_OBJECT

public:
    explicit ConnectionGuard(const ConnectionLimits &limits, QObject *parent = nullptr);
    ~ConnectionGuard() override;

    // Serve HTTPS: every accepted connection starts a TLS handshake with this setup.
    void setTlsConfiguration(const QSslConfiguration &configuration);
    // Addresses exempt from the per-address connection cap (trusted proxies: nginx's
    // keep-alive pool all comes from one address).
    void setCapExempt(std::function<bool(const QHostAddress &)> exempt)
    {
        m_capExempt = std::move(exempt);
    }
    // Access control from the head alone, asked for every request with a body before the
    // body is read: the refusal to answer (401/403/429), or none. `*authorized`: the full
    // check ran and passed, so the API need not check (and count) the request again.
    using HeadCheck =
        std::function<std::optional<HttpReply>(const HttpRequest &head, bool *authorized)>;
    void setHeadCheck(HeadCheck check) { m_headCheck = std::move(check); }
    // Plain TCP: the guard reads each connection itself, frames its requests (heads as
    // scanned, bodies by Content-Length) and hands each whole request here, in order, with
    // its socket; QHttpServer never sees the connection, and the guard deletes the socket
    // when it disconnects. Without a handler, and always over TLS, QHttpServer reads the
    // connection after the guard has scanned it.
    using DirectHandler = std::function<void(HttpRequest &&request, QTcpSocket *socket)>;
    void setDirectHandler(DirectHandler handler) { m_direct = std::move(handler); }
    // The request QHttpServer (6.4 and 6.8) would make of a scanned head: a method outside
    // its list (GET, PUT, DELETE, POST, HEAD, OPTIONS, PATCH, CONNECT, case-sensitive) is
    // "UNKNOWN"; the path and query are those of QUrl::fromEncoded(target) with the Host
    // header as authority; the fields as sent (names not folded). The body is not set.
    static HttpRequest requestFromHead(RequestHeadScanner::Head head, const QHostAddress &peer);
    // Bytes of requests read by the guard (setDirectHandler()) and not handed over yet, over
    // every connection: at most the bodies admitted within the buffered-body budget plus
    // one unfinished head per connection.
    qint64 bufferedRequestBytes() const;

    int openConnections() const { return int(m_connections.size()); }
    // Whether the connection should close after the answer to its oldest unanswered
    // request (HTTP/1.0, or "Connection: close"); consumes that request's entry. Called
    // when a request is handed to the API; answered() when its answer is written.
    // `authorizedFromHead`: the request passed the head check (setHeadCheck()).
    bool takeCloseAfterResponse(QTcpSocket *socket, bool *authorizedFromHead = nullptr);
    // The API did not answer at once (a push waits for its group commit): nothing more is
    // read from the connection until answered(), so a client's end-of-stream (a half-close
    // after its request, with or without a TLS close_notify) cannot make Qt close the
    // connection before the answer is out.
    void awaitAnswer(QTcpSocket *socket);
    // An answer was written: it is sent at once, and what the system does not take yet
    // holds reading again until it has (for the same reason).
    void answered(QTcpSocket *socket);
    // No request is read from any connection any more (the start of a stop).
    void stopReading();
    // Closes every connection (Stop in the window, shutdown): answers already written get
    // at most `graceMs` in all to leave, however many slow readers there are.
    void closeAllConnections(int graceMs = DefaultCloseGraceMs);
    static constexpr int DefaultCloseGraceMs = 2000;
    // The connection now carries a long-lived response (GET /events): it stays counted but
    // is exempt from the idle timeout, and QHttpServer no longer reads it (what the client
    // still sends is dropped).
    void markStreaming(QTcpSocket *socket);

    // For HttpServerAdapter (Qt 6.8, whose QHttpServer names no socket and reconnects its
    // readyRead slot after each request; docs/DESIGN-NOTES.md):
    // the open connection from this peer address and port, or null.
    QTcpSocket *connectionOf(const QHostAddress &peer, quint16 port) const;
    // QHttpServer answers "Expect: 100-continue" itself (6.8): the guard then does not on
    // the connections QHttpServer reads (TLS); it always does on those it frames itself.
    void setSendsContinue(bool sends) { m_sendsContinue = sends; }
    // QHttpServer connected its readyRead slot again (after the guard's): moves the guard's
    // after-read slot behind it.
    void httpServerReconnected(QTcpSocket *socket);

Q_SIGNALS:
    // A request the guard answered itself (never reaches the API).
    void requestRejected(const QString &peer, int status, const QString &detail);

protected:
    void incomingConnection(qintptr descriptor) override;
    // Starts a connection's read hold when its socket becomes readable while an answer is
    // pending (see Connection::readNotifier).
    bool eventFilter(QObject *watched, QEvent *event) override;

private:
    struct Connection
    {
        struct PendingHead
        {
            bool closeAfterResponse = false;
            bool expectContinue = false;
            bool authorized = false;
            qint64 reservedBody = 0;
            // The request the head check was asked about (a request with a body, guard
            // framing): handed over with its body, not built a second time.
            std::optional<HttpRequest> request = {};
        };
        struct Framed
        {
            RequestHeadScanner::Head head;
            std::optional<HttpRequest> request; // see PendingHead::request
        };
        QPointer<QTcpSocket> socket;
        QHostAddress peer;
        RequestHeadScanner scanner;
        // Heads scanned whose requests are not handed to the API yet, oldest first.
        QQueue<PendingHead> heads = {};
        // What the admission check decided for heads the scanner is still returning.
        QQueue<PendingHead> admitted = {};
        // Body bytes of this connection counted in the guard's budget.
        qint64 reservedBody = 0;
        // Bytes QHttpServer left unread after its last pass; already scanned.
        qint64 scannedUnread = 0;
        QElapsedTimer lastActivity = {};
        QElapsedTimer requestStarted = {};
        bool rejecting = false;
        bool hooked = false;
        // Requests handed to the API whose answers are not written yet (group commit).
        int unanswered = 0;
        // A bad request pipelined behind valid ones: answered once they are, in order.
        std::optional<RequestHeadScanner::Verdict> deferred = {};
        // After a request that closes the connection: nothing more is read.
        bool discarding = false;
        // The read buffer is to be cut to scannedUnread bytes once QHttpServer has no read
        // transaction open; bytesAvailable() when that was decided.
        bool cutPending = false;
        qint64 availableAtCut = 0;
        // Reading is held until the pending answer is written (awaitAnswer()) and has left
        // (answered()).
        bool holding = false;
        // The guard put one byte at the front of the read buffer for the hold.
        bool hostageByte = false;
        // Likewise in the read buffer of the TCP socket beneath a QSslSocket.
        bool transportHostageByte = false;
        // Inside this socket's readyRead (from the guard's first slot to its last): a hold
        // asked for meanwhile starts in afterHttpServerRead(), once QHttpServer has looked
        // at the buffer (a hostage byte seen there would make it queue a readyRead).
        bool inRead = false;
        bool holdAfterRead = false;
        // The socket's read notifier, watched by the guard (plain TCP): the hold then starts
        // only when the socket becomes readable (bytes or end-of-stream) before the answer
        // is out, which a client waiting for its answer never does. Holding at once costs
        // two event-loop wake-ups per request (Qt disables, then enables the notifier).
        QObject *readNotifier = nullptr;
        // An event stream: never idle (see markStreaming).
        bool streaming = false;
        // Read and framed by the guard (setDirectHandler()): the bytes read and not handed
        // over yet (from the start of the next request on) and the heads scanned in them.
        bool direct = false;
        QByteArray buffer = {};
        QQueue<Framed> framed = {};

        bool idle() const
        {
            return !rejecting && !deferred && !scanner.inRequest() && unanswered == 0 &&
                   heads.isEmpty() && !streaming;
        }
    };

    void connectAfterHttpServer();
    void scan(QTcpSocket *socket);
    // Queues what the connection needs of heads just scanned (answer order, close,
    // "100 Continue"; the heads themselves when the guard frames the connection) and starts
    // its read and idle timers, for scan() and directRead() alike.
    // The heads are moved out of `heads`.
    void queueHeads(Connection &c, QList<RequestHeadScanner::Head> &heads, bool wasInRequest,
                    const RequestHeadScanner::Verdict &verdict);
    void directRead(QTcpSocket *socket);
    // Hands over the requests whose bodies are whole in the connection's buffer. False if
    // the connection went meanwhile.
    bool handOver(QTcpSocket *socket);
    void afterHttpServerRead(QTcpSocket *socket);
    void reject(Connection &c, int status, const QString &detail, const HeaderList &headers = {});
    RequestHeadScanner::Verdict admit(QTcpSocket *socket, const RequestHeadScanner::Head &head);
    void releaseBody(Connection &c, qint64 bytes);
    void deferReject(Connection &c, qint64 keep, const RequestHeadScanner::Verdict &verdict);
    void rejectWhenAnswered(Connection &c);
    void cutReadBuffer(Connection &c, qint64 keep);
    void continueIfNext(Connection &c);
    // Stops reading from the socket until the pending answer is written. `mayDefer`: from
    // inside the socket's readyRead, the hold starts in afterHttpServerRead().
    void holdReading(Connection &c, bool mayDefer);
    void releaseHold(Connection &c);
    void drainHeldOutput();
    static QTcpSocket *tlsTransport(QTcpSocket *socket);
    static bool outputPending(QTcpSocket *socket);
    bool evictIdlest();
    int connectionsFrom(const QHostAddress &peer) const;
    void sweep();
    void forget(QTcpSocket *socket);

    ConnectionLimits m_limits;
    QHash<QTcpSocket *, Connection *> m_connections;
    QTimer m_sweeper;
    QTimer m_resumeAccepting;
    // Connections held until their answers have left (answered()), looked at by m_drainPoll.
    QSet<QTcpSocket *> m_draining;
    QTimer m_drainPoll;
    bool m_hookedNewConnection = false;
    bool m_sendsContinue = true;
    // The after-read slot of each connection (httpServerReconnected()).
    QHash<QTcpSocket *, QMetaObject::Connection> m_afterRead;
    QHash<QObject *, QTcpSocket *> m_readNotifiers;
    std::optional<QSslConfiguration> m_tls;
    std::function<bool(const QHostAddress &)> m_capExempt;
    HeadCheck m_headCheck;
    DirectHandler m_direct;
    qint64 m_bufferedBody = 0;
    // The heads of one read, reused from read to read (scan(), directRead()).
    QList<RequestHeadScanner::Head> m_scanned;
};

} // namespace agmem
