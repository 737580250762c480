#pragma once

#include "connectionguard.h"
#include "httpmessage.h"
#include "httpserveradapter.h"

#include "core/timestamp.h"

#include <QHash>
#include <QHostAddress>
#include <QPointer>
#include <QTcpServer>

#include <functional>
#include <map>
#include <memory>

namespace agmem {

class AccessLogWriter;
class BodyWriter;
class CoordinatorApi;
class EventStreams;

// What happened to one request: for the access log, the activity view and metrics.
struct RequestEvent
{
    Instant at = 0;
    QByteArray method;
    QString path;
    QString source;
    int status = 0;
    qint64 bytes = 0;
    double milliseconds = 0;
    QString agentId;
    QString note;
};

// The transport: the ConnectionGuard frames plain-TCP requests and QHttpServer parses
// those over TLS; CoordinatorApi answers them. What differs between Qt 6.4 and 6.8 is in
// HttpServerAdapter.
class ApiServer : public HttpServerAdapter
{
    Q_OBJECT

public:
    ApiServer(CoordinatorApi *api, const ConnectionLimits &limits, bool accessLog,
              QObject *parent = nullptr);
    ~ApiServer() override;

    bool listen(const QHostAddress &address, quint16 port, QString *error,
                const std::optional<QSslConfiguration> &tls = std::nullopt);
    quint16 port() const;
    // Stops accepting, answers what is pending, closes every connection.
    void shutdown();
    // Connections with an entry (its request queue): one per open socket that sent a
    // request, none once a socket is gone and its answers are out. This object's thread.
    qsizetype connectionEntries() const { return m_connections.size(); }

Q_SIGNALS:
    void requestFinished(const agmem::RequestEvent &event);

protected:
    void handleParsed(HttpRequest &&req, QTcpSocket *socket, quint64 ticket) override;

private:
    // A connection's requests in order. Answers may complete out of order (a push waits
    // for its commit, a GET does not); they are written in request order. A request runs
    // when every request before it is answered, except that consecutive pushes run
    // together (they commit in order in the writer), so a pipelined pull sees the pushes
    // before it.
    struct Slot;
    struct Queued;
    struct Connection;
    void start(const std::shared_ptr<Connection> &connection, Queued queued);
    void flush(const std::shared_ptr<Connection> &connection);
    // Writes one answer (or starts an event stream), logs and reports it.
    void write(const std::shared_ptr<Connection> &connection, Slot &slot);
    // After an answer was handed to the socket: the close, QHttpServer's responder and the
    // guard's bookkeeping.
    void finishAnswer(quint64 ticket, bool close, bool connected, QTcpSocket *target);

    CoordinatorApi *m_api;
    QHash<QTcpSocket *, std::shared_ptr<Connection>> m_connections;
    ConnectionLimits m_limits;
    QPointer<ConnectionGuard> m_listener;
    // Open GET /events streams (the sockets stay with this transport).
    EventStreams *m_streams;
    bool m_accessLog;
    // Writes large answers a slice at a time beside the other connections.
    BodyWriter *m_bodies;
    std::unique_ptr<AccessLogWriter> m_log;
    // Per connection with an answer outstanding: answers leave in request order.
    struct Order
    {
        quint64 issued = 0;
        quint64 written = 0;
        std::map<quint64, std::function<void()>> parked;
        bool watched = false;
    };
    QHash<QTcpSocket *, Order> m_order;
};

} // namespace agmem

Q_DECLARE_METATYPE(agmem::RequestEvent)
