#pragma once

#include <QByteArray>
#include <QElapsedTimer>
#include <QHash>
#include <QPointer>
#include <QQueue>
#include <QSslConfiguration>
#include <QTcpServer>
#include <QTimer>

#include <optional>

class QHostAddress;
class QTcpSocket;

namespace agmem {

// Limits the guard enforces. Each has a command-line option (src/app/options.cpp).
struct ConnectionLimits
{
    static constexpr int DefaultMaxConnections = 1024;
    static constexpr int DefaultIdleTimeoutMs = 15000;
    static constexpr int DefaultReadTimeoutMs = 30000;
    static constexpr int DefaultMaxHeadBytes = 16 * 1024;

    int maxConnections = DefaultMaxConnections;
    // A keep-alive connection with no request in progress is closed after this long.
    int idleTimeoutMs = DefaultIdleTimeoutMs;
    // A request must arrive whole (head and body) within this long of its first byte.
    int readTimeoutMs = DefaultReadTimeoutMs;
    // Request line plus headers.
    int maxHeadBytes = DefaultMaxHeadBytes;
    qint64 maxBodyBytes = 16 * 1024 * 1024;
};

// Scans a byte stream of HTTP/1.x requests as it arrives and decides, per request head,
// whether the request may proceed. Pure logic, no sockets: the fuzz target and the unit
// tests drive it directly.
class RequestHeadScanner
{
public:
    struct Verdict
    {
        int status = 0; // 0: fine so far; else the error status to answer and close
        QString detail;
        // A rejected request's first byte, as an offset into the bytes just fed; negative
        // when its head began in an earlier feed.
        qsizetype requestStart = 0;
    };
    struct Head
    {
        bool closeAfterResponse = false;
        bool expectContinue = false;
        qint64 contentLength = 0;
    };

    explicit RequestHeadScanner(const ConnectionLimits &limits)
        : m_limits(limits)
    {}

    // Feeds bytes that have not been fed before. Each complete head is appended to
    // `heads`; a rejected request sets the verdict and the scanner stops.
    Verdict feed(const char *data, qsizetype size, QList<Head> *heads);

    // True between the first byte of a request and the last byte of its body.
    bool inRequest() const { return m_inBody || !m_head.isEmpty(); }
    bool failed() const { return m_failed; }

private:
    Verdict parseHead(Head *head) const;

    ConnectionLimits m_limits;
    QByteArray m_head;
    qint64 m_bodyLeft = 0;
    bool m_inBody = false;
    bool m_failed = false;
};

// The listening socket handed to QHttpServer::bind(). QHttpServer 6.4 has no limits or
// timeouts of its own: this sees every request head before QHttpServer reads the socket,
// and answers 413/431/411/400/408/503 itself before a body is buffered; it answers
// "100 Continue", closes after the response when the client asked for it, drops idle
// and slow connections, caps the number of connections, and stops accepting for a
// moment when the process runs out of file descriptors instead of spinning.
class ConnectionGuard : public QTcpServer
{
    Q_OBJECT

public:
    explicit ConnectionGuard(const ConnectionLimits &limits, QObject *parent = nullptr);
    ~ConnectionGuard() override;

    // Serve HTTPS: every accepted connection starts a TLS handshake with this setup.
    void setTlsConfiguration(const QSslConfiguration &configuration);

    int openConnections() const { return int(m_connections.size()); }
    // Whether the connection should close after the answer to its oldest unanswered
    // request (HTTP/1.0, or "Connection: close"); consumes that request's entry. Called
    // when a request is handed to the API; answered() when its answer is written.
    bool takeCloseAfterResponse(QTcpSocket *socket);
    void answered(QTcpSocket *socket);
    // Closes every connection now (Stop in the window, shutdown).
    void closeAllConnections();

    // For HttpServerAdapter (Qt 6.8, whose QHttpServer names no socket and reconnects its
    // readyRead slot after each request; docs/DESIGN-NOTES.md):
    // the open connection from this peer address and port, or null.
    QTcpSocket *connectionOf(const QHostAddress &peer, quint16 port) const;
    // QHttpServer answers "Expect: 100-continue" itself (6.8): the guard then does not.
    void setSendsContinue(bool sends) { m_sendsContinue = sends; }
    // QHttpServer connected its readyRead slot again (after the guard's): moves the guard's
    // after-read slot behind it.
    void httpServerReconnected(QTcpSocket *socket);

Q_SIGNALS:
    // A request the guard answered itself (never reaches the API).
    void requestRejected(const QString &peer, int status, const QString &detail);

protected:
    void incomingConnection(qintptr descriptor) override;

private:
    struct Connection
    {
        QPointer<QTcpSocket> socket;
        RequestHeadScanner scanner;
        QQueue<bool> closeFlags;
        // Bytes QHttpServer left unread after its last pass; already scanned.
        qint64 scannedUnread = 0;
        QElapsedTimer lastActivity;
        QElapsedTimer requestStarted;
        bool rejecting = false;
        bool hooked = false;
        // Requests handed to the API whose answers are not written yet (group commit).
        int unanswered = 0;
        // A bad request pipelined behind valid ones: answered once they are, in order.
        std::optional<RequestHeadScanner::Verdict> deferred;
    };

    void connectAfterHttpServer();
    void scan(QTcpSocket *socket);
    void afterHttpServerRead(QTcpSocket *socket);
    void reject(Connection &c, int status, const QString &detail);
    void deferReject(Connection &c, qint64 keep, const RequestHeadScanner::Verdict &verdict);
    void rejectWhenAnswered(Connection &c);
    void sweep();
    void forget(QTcpSocket *socket);

    ConnectionLimits m_limits;
    QHash<QTcpSocket *, Connection *> m_connections;
    QTimer m_sweeper;
    QTimer m_resumeAccepting;
    bool m_hookedNewConnection = false;
    bool m_sendsContinue = true;
    // The after-read slot of each connection (httpServerReconnected()).
    QHash<QTcpSocket *, QMetaObject::Connection> m_afterRead;
    std::optional<QSslConfiguration> m_tls;
};

} // namespace agmem
