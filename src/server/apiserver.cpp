#include "apiserver.h"

#include "accesslog.h"
#include "coordinatorapi.h"
#include "eventhub.h"
#include "operationsapi.h"

#include "core/logging.h"

#include <QElapsedTimer>
#include <QTcpSocket>

#include <memory>

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
    , m_streams(new EventStreams(&api->events(), api->config().maxEventStreams,
                                 api->config().eventHeartbeatMs, this))
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
    listener->setListenBacklogSize(m_limits.listenBacklog);
    listener->setHeadCheck([api = m_api](const HttpRequest &head, bool *authorized) {
        return api->authorizeHead(head, authorized);
    });
    listener->setCapExempt(
        [proxies = m_api->access().config().trustedProxies](const QHostAddress &peer) {
            for (const auto &subnet : proxies) {
                if (peer.isInSubnet(subnet))
                    return true;
            }
            return false;
        });
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
    // No new request from here on; the pushes already taken are committed and answered.
    m_listener->stopReading();
    m_api->flushPushes();
    m_streams->closeAll();
    m_listener->closeAllConnections();
    delete m_listener;
}

void ApiServer::handleParsed(HttpRequest &&req, QTcpSocket *socket, quint64 ticket)
{
    QElapsedTimer timer;
    timer.start();

    const bool headOnly = req.method == "HEAD";
    // Always take the guard's entry, so it stays in step with the requests.
    const bool close =
        m_listener->takeCloseAfterResponse(socket, &req.authorizedFromHead) || req.wantsClose();
    QPointer<QTcpSocket> target(socket);
    const QPointer<ApiServer> self(this);
    const auto answeredAtOnce = std::make_shared<bool>(false);
    // This request's place among its connection's answers (Qt 6.4 hands over pipelined
    // requests at once; one answered later, a /pull built on the worker thread, holds back
    // the answers after it).
    quint64 place = 0;
    if (socket)
        place = m_order[socket].issued++;
    const auto write = [this, answeredAtOnce, target, ticket, headOnly, close, timer,
                        method = req.method, path = req.path, peer = req.peer,
                        lastEventId = req.header("last-event-id")](const HttpReply &granted) {
        *answeredAtOnce = true;
        HttpReply reply = granted;
        if (reply.eventStream && m_streams->full()) {
            reply = HttpReply::error(503, QStringLiteral("Too many open event streams (%1); try "
                                                         "again later")
                                              .arg(m_streams->maxStreams()))
                        .withHeader("Retry-After", "5");
            reply.client = granted.client;
        }
        // (On 6.8 a closed socket lives on until release(); on 6.4 QHttpServer deletes it.)
        const bool connected = target && target->isOpen();
        QByteArray bytes;
        const bool apart = !reply.eventStream && reply.writesBodyApart(headOnly);
        if (reply.eventStream) {
            // The head now, the events as they happen: the connection stays with the stream,
            // and QHttpServer gets it back only when it closes.
            bytes = EventStreams::responseHead(reply.headers);
            if (connected && m_listener) {
                target->write(bytes);
                m_listener->markStreaming(target);
                m_streams->open(target, lastEventId);
                connect(target, &QAbstractSocket::disconnected, this,
                        [this, ticket, target] { release(ticket, target); });
            } else {
                release(ticket, target);
            }
        } else {
            bytes = apart ? reply.serializeHead(close) : reply.serialize(headOnly, close);
            if (connected) {
                target->write(bytes);
                // A large answer: shared with the socket's buffer, not copied; a /pull
                // answer in pieces, never joined.
                if (apart && reply.bodyPieces.isEmpty())
                    target->write(reply.body);
                else if (apart) {
                    for (const QByteArray &piece : reply.bodyPieces)
                        target->write(piece);
                }
            }
            if (close) {
                // The guard's bookkeeping first, then the close; release() sees the socket
                // closing and waits until the answer is out (Qt 6.8).
                if (connected && m_listener)
                    m_listener->answered(target);
                if (target)
                    target->disconnectFromHost();
                release(ticket, target);
            } else {
                // Before answered(): a deferred rejection it may trigger comes after
                // QHttpServer got the connection back (Qt 6.8).
                release(ticket, target);
                if (connected && m_listener)
                    m_listener->answered(target);
            }
        }
        RequestEvent event;
        event.at = nowInstant();
        event.method = method;
        event.path = redactedPath(path);
        event.source = reply.client.isEmpty() ? peer.toString() : reply.client;
        event.status = reply.status;
        event.bytes = bytes.size() + (apart ? reply.bodySize() : 0);
        event.milliseconds = timer.nsecsElapsed() / 1e6;
        event.agentId = reply.agentId;
        event.note = reply.note;
        if (m_accessLog && lcAccess().isInfoEnabled())
            m_log->write(accessLogLine(event, !connected)); // written on the log's own thread
        Q_EMIT requestFinished(event);
    };
    const auto respond = [this, self, write, socket, target, place](const HttpReply &granted) {
        if (!self)
            return; // stopped: the connection went with the server
        // A connection that is gone has no order to keep (and a new one may have its address).
        const auto it = target ? m_order.find(socket) : m_order.end();
        if (it == m_order.end()) {
            write(granted); // (the connection is gone)
            return;
        }
        if (place != it->written) {
            it->parked.emplace(place, [write, granted] { write(granted); });
            return;
        }
        write(granted);
        // Writing may have closed the connection (and so ended its entry).
        for (auto next = m_order.find(socket); next != m_order.end(); next = m_order.find(socket)) {
            Order &order = *next;
            ++order.written;
            const auto parked = order.parked.find(order.written);
            if (parked == order.parked.end()) {
                if (order.written == order.issued && !order.watched)
                    m_order.erase(next); // (a watched one stays until its socket goes)
                break;
            }
            const std::function<void()> held = std::move(parked->second);
            order.parked.erase(parked);
            held();
        }
    };
    m_api->handle(req, respond);
    if (!*answeredAtOnce && socket) {
        m_listener->awaitAnswer(socket);
        Order &order = m_order[socket];
        if (!order.watched) {
            // An answer still to come: forget the connection's order when it goes.
            order.watched = true;
            connect(socket, &QObject::destroyed, this, [this, socket] { m_order.remove(socket); });
        }
    }
}

} // namespace agmem
