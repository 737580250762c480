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

// The transport: QHttpServer parses requests, CoordinatorApi answers them. What differs
// between Qt 6.4 and 6.8 is in HttpServerAdapter.
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

Q_SIGNALS:
    void requestFinished(const agmem::RequestEvent &event);

protected:
    void handleParsed(HttpRequest &&req, QTcpSocket *socket, quint64 ticket) override;

private:
    CoordinatorApi *m_api;
    ConnectionLimits m_limits;
    QPointer<ConnectionGuard> m_listener;
    // Open GET /events streams (the sockets stay with this transport).
    EventStreams *m_streams;
    bool m_accessLog;
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
