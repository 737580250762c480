#include "apiserver.h"

#include "accesscontrol.h"
#include "accesslog.h"
#include "bodywriter.h"
#include "coordinatorapi.h"
#include "eventhub.h"
#include "operationsapi.h"

#include "core/logging.h"

#include <QElapsedTimer>
#include <QTcpSocket>

#include <algorithm>
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
    , m_bodies(new BodyWriter(this))
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
    // Plain TCP: the guard frames the requests and hands them here; QHttpServer reads only
    // TLS connections (docs/DESIGN-NOTES.md, "The guard frames plain-TCP requests").
    listener->setDirectHandler([this](HttpRequest &&request, QTcpSocket *socket) {
        handleParsed(std::move(request), socket, 0);
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

struct ApiServer::Slot
{
    quint64 ticket = 0; // for release() once written (HttpServerAdapter)
    bool done = false;
    bool close = false;
    bool push = false;
    bool headOnly = false;
    QByteArray lastEventId = {};
    HttpReply reply = {};
    QElapsedTimer timer = {};
    QHostAddress peer = {};
    RequestEvent event = {};
};

struct ApiServer::Queued
{
    HttpRequest request;
    quint64 ticket = 0;
    bool close = false;
    QElapsedTimer timer = {};
};

struct ApiServer::Connection
{
    QTcpSocket *key = nullptr; // in m_connections (the socket may be gone)
    QPointer<QTcpSocket> socket;
    QList<std::shared_ptr<Slot>> running; // running, in request order
    QList<Queued> waiting;                // not started yet
    bool flushing = false;
    bool again = false;
    // The connection carries an event stream now: nothing else is written to it.
    bool streaming = false;
    // A large body is still being handed to the socket (BodyWriter): the next answer waits.
    bool writingBody = false;

    bool idle() const
    {
        return running.isEmpty() && waiting.isEmpty() && !writingBody && !flushing;
    }
};

void ApiServer::handleParsed(HttpRequest &&request, QTcpSocket *socket, quint64 ticket)
{
    // Moved in at construction (a default HttpRequest allocates an empty QHostAddress).
    Queued queued{.request = std::move(request), .ticket = ticket};
    queued.timer.start();
    HttpRequest &req = queued.request;
    // Always take the guard's entry, so it stays in step with the requests.
    queued.close =
        m_listener->takeCloseAfterResponse(socket, &req.authorizedFromHead) || req.wantsClose();

    // An entry lives as long as its socket (made once per connection, not per request):
    // dropped when the socket goes and no request is in flight, else by flush() once the
    // last one is answered.
    std::shared_ptr<Connection> &connection = m_connections[socket];
    if (!connection || connection->socket != socket) {
        connection = std::make_shared<Connection>();
        connection->key = socket;
        connection->socket = socket;
        if (socket) {
            connect(socket, &QObject::destroyed, this, [this, socket] {
                const auto it = m_connections.constFind(socket);
                if (it != m_connections.cend() && (*it)->idle())
                    m_connections.erase(it);
            });
        }
    }
    const std::shared_ptr<Connection> c = connection;
    const bool push = CoordinatorApi::isPush(req);
    const bool onlyPushes = std::all_of(c->running.cbegin(), c->running.cend(),
                                        [](const auto &slot) { return slot->push; });
    if (!c->waiting.isEmpty() || (!c->running.isEmpty() && !(push && onlyPushes)))
        c->waiting.append(std::move(queued));
    else
        start(c, std::move(queued));
    // Not answered at once (a push waits for its commit, or the request waits behind
    // others): the guard reads nothing more from the connection until answered().
    if (socket && m_listener && (!c->running.isEmpty() || !c->waiting.isEmpty()))
        m_listener->awaitAnswer(socket);
}

void ApiServer::start(const std::shared_ptr<Connection> &c, Queued queued)
{
    const HttpRequest &request = queued.request;
    // The client's address as the API reports it (reply.client) nearly always replaces
    // the peer's: its text is made in write() only when it does not. (Given at
    // construction: a default QHostAddress allocates.)
    auto slot = std::make_shared<Slot>(Slot{.ticket = queued.ticket,
                                            .close = queued.close,
                                            .push = CoordinatorApi::isPush(request),
                                            .headOnly = request.method == "HEAD",
                                            .lastEventId = request.header("last-event-id"),
                                            .timer = queued.timer,
                                            .peer = request.peer});
    slot->event.method = request.method;
    slot->event.path = redactedPath(request.path);
    c->running.append(slot);
    // The answer may come after a commit, even after this server is gone (shutdown).
    m_api->handle(std::move(queued.request),
                  [self = QPointer<ApiServer>(this), c, slot](const HttpReply &reply) {
                      if (!self)
                          return; // stopped: the connection went with the server
                      slot->reply = reply;
                      slot->done = true;
                      self->flush(c);
                  });
}

void ApiServer::write(const std::shared_ptr<Connection> &connection, Slot &slot)
{
    Connection &c = *connection;
    HttpReply &reply = slot.reply;
    QTcpSocket *target = c.streaming ? nullptr : c.socket.data();
    if (reply.eventStream && m_streams->full()) {
        const QString client = reply.client;
        reply = HttpReply::error(503, QStringLiteral("Too many open event streams (%1); try "
                                                     "again later")
                                          .arg(m_streams->maxStreams()))
                    .withHeader("Retry-After", "5");
        reply.client = client;
    }
    // (On 6.8 a closed socket lives on until release(); on 6.4 QHttpServer deletes it.)
    const bool connected = target && target->isOpen();
    QByteArray bytes;
    const bool apart = !reply.eventStream && reply.writesBodyApart(slot.headOnly);
    if (reply.eventStream) {
        // The head now, the events as they happen: the connection stays with the stream,
        // and QHttpServer gets it back only when it closes.
        bytes = EventStreams::responseHead(reply.headers);
        if (connected && m_listener) {
            target->write(bytes);
            // Releases a hold on reading (awaitAnswer(): the stream's head waited for a
            // catch-up) before the connection becomes a stream.
            m_listener->answered(target);
            m_listener->markStreaming(target);
            m_streams->open(target, slot.lastEventId, EventStreams::gzipped(reply.headers));
            c.streaming = true;
            const QPointer<QTcpSocket> socket(target);
            connect(target, &QAbstractSocket::disconnected, this,
                    [this, ticket = slot.ticket, socket] { release(ticket, socket); });
        } else {
            release(slot.ticket, target);
        }
    } else {
        bytes =
            apart ? reply.serializeHead(slot.close) : reply.serialize(slot.headOnly, slot.close);
        if (connected) {
            target->write(bytes);
            // A large answer: shared with the socket's buffer, not copied; a /pull answer
            // in pieces, never joined, handed to the socket a slice at a time while the
            // other connections are served (BodyWriter); the connection's next answer
            // and the guard's bookkeeping wait until the last piece is handed over.
            if (apart && reply.bodyPieces.isEmpty()) {
                target->write(reply.body);
            } else if (apart) {
                c.writingBody = true;
                m_bodies->write(target, reply.bodyPieces,
                                [this, connection, ticket = slot.ticket, close = slot.close,
                                 socket = QPointer<QTcpSocket>(target)](bool written) {
                                    connection->writingBody = false;
                                    finishAnswer(ticket, close, written, socket);
                                    flush(connection);
                                });
            }
        }
        if (!c.writingBody)
            finishAnswer(slot.ticket, slot.close, connected, target);
    }
    RequestEvent &event = slot.event;
    event.at = nowInstant();
    event.source = reply.client.isEmpty() ? addressText(slot.peer) : reply.client;
    event.status = reply.status;
    event.bytes = bytes.size() + (apart ? reply.bodySize() : 0);
    event.milliseconds = slot.timer.nsecsElapsed() / 1e6;
    event.agentId = reply.agentId;
    event.note = reply.note;
    if (m_accessLog && lcAccess().isInfoEnabled())
        m_log->write(accessLogLine(event, !connected)); // written on the log's own thread
    Q_EMIT requestFinished(event);
}

void ApiServer::finishAnswer(quint64 ticket, bool close, bool connected, QTcpSocket *target)
{
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

void ApiServer::flush(const std::shared_ptr<Connection> &c)
{
    // Answers can complete inside start() (most do): one loop, no recursion.
    if (c->flushing) {
        c->again = true;
        return;
    }
    c->flushing = true;
    do {
        c->again = false;
        while (!c->writingBody && !c->running.isEmpty() && c->running.first()->done) {
            const std::shared_ptr<Slot> slot = c->running.takeFirst();
            write(c, *slot);
        }
        if (!c->socket || c->streaming) {
            // Nobody left to answer; QHttpServer gets each request's responder back.
            for (const Queued &q : std::as_const(c->waiting))
                release(q.ticket, c->socket);
            c->waiting.clear();
            continue;
        }
        // Start what waited: alone, or a run of pushes behind pushes.
        while (!c->waiting.isEmpty()) {
            const bool push = CoordinatorApi::isPush(c->waiting.first().request);
            const bool onlyPushes = std::all_of(c->running.cbegin(), c->running.cend(),
                                                [](const auto &slot) { return slot->push; });
            if (!c->running.isEmpty() && !(push && onlyPushes))
                break;
            start(c, c->waiting.takeFirst());
        }
    } while (c->again);
    c->flushing = false;
    if (c->idle() && !c->socket) {
        const auto it = m_connections.constFind(c->key);
        if (it != m_connections.cend() && *it == c)
            m_connections.erase(it);
    }
}

} // namespace agmem
