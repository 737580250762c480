#include "apiserver.h"

#include "accesslog.h"
#include "coordinatorapi.h"
#include "operationsapi.h"

#include "core/logging.h"

#include <QElapsedTimer>
#include <QHttpServerRequest>
#include <QTcpSocket>

namespace agmem {

namespace {

QByteArray methodName(QHttpServerRequest::Method method)
{
    switch (method) {
    case QHttpServerRequest::Method::Get:
        return QByteArrayLiteral("GET");
    case QHttpServerRequest::Method::Put:
        return QByteArrayLiteral("PUT");
    case QHttpServerRequest::Method::Delete:
        return QByteArrayLiteral("DELETE");
    case QHttpServerRequest::Method::Post:
        return QByteArrayLiteral("POST");
    case QHttpServerRequest::Method::Head:
        return QByteArrayLiteral("HEAD");
    case QHttpServerRequest::Method::Options:
        return QByteArrayLiteral("OPTIONS");
    case QHttpServerRequest::Method::Patch:
        return QByteArrayLiteral("PATCH");
    case QHttpServerRequest::Method::Connect:
        return QByteArrayLiteral("CONNECT");
    case QHttpServerRequest::Method::Trace:
        return QByteArrayLiteral("TRACE");
    default:
        return QByteArrayLiteral("UNKNOWN");
    }
}

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
    : QAbstractHttpServer(parent)
    , m_api(api)
    , m_limits(limits)
    , m_accessLog(accessLog)
{
    if (m_accessLog)
        m_log = std::make_unique<AccessLogWriter>();
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
    bind(listener);
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

bool ApiServer::handleRequest(const QHttpServerRequest &request, QTcpSocket *socket)
{
    QElapsedTimer timer;
    timer.start();

    HttpRequest req;
    req.method = methodName(request.method());
    req.path = request.url().path();
    req.query = request.query();
    req.headers = request.headers();
    req.body = request.body();
    req.peer = request.remoteAddress();

    const bool headOnly = req.method == "HEAD";
    // Always take the guard's entry, so it stays in step with the requests.
    const bool close = m_listener->takeCloseAfterResponse(socket) || req.wantsClose();
    QPointer<QTcpSocket> target(socket);
    m_api->handle(req, [this, target, headOnly, close, timer, method = req.method, path = req.path,
                        peer = req.peer](const HttpReply &reply) {
        const bool apart = reply.writesBodyApart(headOnly);
        const QByteArray bytes =
            apart ? reply.serializeHead(close) : reply.serialize(headOnly, close);
        if (target) {
            target->write(bytes);
            if (apart)
                target->write(reply.body); // a large /pull answer: shared, not copied
            if (close)
                target->disconnectFromHost();
            else if (m_listener)
                m_listener->answered(target);
        }
        RequestEvent event;
        event.at = nowInstant();
        event.method = method;
        event.path = redactedPath(path);
        event.source = reply.client.isEmpty() ? peer.toString() : reply.client;
        event.status = reply.status;
        event.bytes = bytes.size() + (apart ? reply.body.size() : 0);
        event.milliseconds = timer.nsecsElapsed() / 1e6;
        event.agentId = reply.agentId;
        event.note = reply.note;
        if (m_accessLog && lcAccess().isInfoEnabled())
            m_log->write(accessLogLine(event, !target)); // written on the log's own thread
        Q_EMIT requestFinished(event);
    });
    return true;
}

void ApiServer::missingHandler(const QHttpServerRequest &request, QTcpSocket *socket)
{
    // handleRequest() answers every request; this only runs if that ever changes.
    Q_UNUSED(request);
    socket->write(HttpReply::error(404, QStringLiteral("Not Found")).serialize(false, false));
}

} // namespace agmem
