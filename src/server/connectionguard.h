#pragma once

#include "requestheadscanner.h"

#include <QByteArray>
#include <QElapsedTimer>
#include <QHash>
#include <QPointer>
#include <QQueue>
#include <QSslConfiguration>
#include <QTcpServer>
#include <QTimer>

#include <optional>

class QTcpSocket;

namespace agmem {

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
    std::optional<QSslConfiguration> m_tls;
};

} // namespace agmem
