#include "apiserver.h"

#include "coordinatorapi.h"
#include "operationsapi.h"

#include "core/logging.h"

#include <QElapsedTimer>
#include <QTcpSocket>

namespace agmem {

namespace {

// A key in the URL (/k/KEY/push) never reaches a log or the activity view.
QString redactedPath(const QString &path)
{
    if (!path.startsWith(u"/k/"))
        return path;
    const qsizetype slash = path.indexOf(u'/', 3);
    return QStringLiteral("/k/***") + (slash < 0 ? QString() : path.mid(slash));
}

} // namespace

ApiServer::ApiServer(CoordinatorApi *api, const ConnectionLimits &limits, bool accessLog,
                     QObject *parent)
    : HttpServerAdapter(parent)
    , m_api(api)
    , m_limits(limits)
    , m_accessLog(accessLog)
{
    qRegisterMetaType<agmem::RequestEvent>();
    // GET /metrics counts every answer and every refusal of the ConnectionGuard.
    connect(this, &ApiServer::requestFinished, this,
            [api](const RequestEvent &event) { api->operations().metrics().record(event); });
    api->operations().setOpenConnections(
        [this] { return m_listener ? qint64(m_listener->openConnections()) : 0; });
}

ApiServer::~ApiServer() = default;

bool ApiServer::listen(const QHostAddress &address, quint16 port, QString *error,
                       const std::optional<QSslConfiguration> &tls)
{
    auto *listener = new ConnectionGuard(m_limits, this);
    if (tls)
        listener->setTlsConfiguration(*tls);
    if (!listener->listen(address, port)) {
        *error = QStringLiteral("cannot listen on %1 port %2: %3")
                     .arg(address.toString())
                     .arg(port)
                     .arg(listener->errorString());
        delete listener;
        return false;
    }
    if (!bindGuard(listener)) {
        *error = QStringLiteral("cannot serve on %1 port %2").arg(address.toString()).arg(port);
        delete listener;
        return false;
    }
    m_listener = listener;
    connect(listener, &ConnectionGuard::requestRejected, this,
            [this](const QString &peer, int status, const QString &detail) {
                RequestEvent event;
                event.at = nowInstant();
                event.source = peer;
                event.status = status;
                event.note = detail;
                Q_EMIT requestFinished(event);
            });
    return true;
}

quint16 ApiServer::port() const
{
    return m_listener ? m_listener->serverPort() : 0;
}

void ApiServer::shutdown()
{
    if (!m_listener)
        return;
    m_listener->close();
    m_api->flushPushes();
    m_listener->closeAllConnections();
    delete m_listener;
}

void ApiServer::handleParsed(HttpRequest &&req, QTcpSocket *socket, quint64 ticket)
{
    QElapsedTimer timer;
    timer.start();

    const bool headOnly = req.method == "HEAD";
    // Always take the guard's entry, so it stays in step with the requests.
    const bool close = m_listener->takeCloseAfterResponse(socket) || req.wantsClose();
    QPointer<QTcpSocket> target(socket);
    m_api->handle(req, [this, target, ticket, headOnly, close, timer, method = req.method,
                        path = req.path, peer = req.peer](const HttpReply &reply) {
        const QByteArray bytes = reply.serialize(headOnly, close);
        // (On 6.8 a closed socket lives on until release(); on 6.4 QHttpServer deletes it.)
        const bool connected = target && target->isOpen();
        if (connected) {
            target->write(bytes);
            if (close)
                target->disconnectFromHost();
        }
        // Before answered(): a deferred rejection it may trigger comes after QHttpServer
        // got the connection back (Qt 6.8).
        release(ticket, target);
        if (connected && !close && m_listener)
            m_listener->answered(target);
        RequestEvent event;
        event.at = nowInstant();
        event.method = method;
        event.path = redactedPath(path);
        event.source = reply.client.isEmpty() ? peer.toString() : reply.client;
        event.status = reply.status;
        event.bytes = bytes.size();
        event.milliseconds = timer.nsecsElapsed() / 1e6;
        event.agentId = reply.agentId;
        event.note = reply.note;
        if (m_accessLog) {
            qCInfo(lcAccess).noquote()
                << event.source << event.method << event.path << event.status << event.bytes
                << QString::number(event.milliseconds, 'f', 2) + u"ms"
                << (connected ? QString() : QStringLiteral("(client gone)"));
        }
        Q_EMIT requestFinished(event);
    });
}

} // namespace agmem
