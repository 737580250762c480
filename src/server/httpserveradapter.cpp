#include "httpserveradapter.h"

#include "connectionguard.h"

#include <QHttpServerRequest>
#include <QHttpServerResponder>
#include <QTcpSocket>

#if QT_VERSION >= QT_VERSION_CHECK(6, 5, 0) && QT_VERSION < QT_VERSION_CHECK(6, 8, 0)
#error "QHttpServer 6.5-6.7 is not supported: build with Qt 6.4 or 6.8 or later"
#endif

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

} // namespace

HttpRequest HttpServerAdapter::toHttpRequest(const QHttpServerRequest &request)
{
    HttpRequest req;
    req.method = methodName(request.method());
    req.path = request.url().path();
    req.query = request.query();
#if QT_VERSION >= QT_VERSION_CHECK(6, 8, 0)
    // QHttpHeaders (names in lower case; lookups are case-insensitive anyway).
    const QHttpHeaders &headers = request.headers();
    req.headers.reserve(headers.size());
    for (qsizetype i = 0; i < headers.size(); ++i) {
        const QLatin1StringView name = headers.nameAt(i);
        req.headers.append(
            {QByteArray(name.data(), name.size()), headers.valueAt(i).toByteArray()});
    }
#else
    req.headers = request.headers();
#endif
    req.body = request.body();
    req.peer = request.remoteAddress();
    return req;
}

HttpServerAdapter::HttpServerAdapter(QObject *parent)
    : QAbstractHttpServer(parent)
{}

HttpServerAdapter::~HttpServerAdapter()
{
    // Before QObject deletes QHttpServer's connection handlers (children of this object):
    // a responder tells its handler when it goes.
    m_held.clear();
}

bool HttpServerAdapter::bindGuard(ConnectionGuard *guard)
{
    m_guard = guard;
#if QT_VERSION >= QT_VERSION_CHECK(6, 8, 0)
    // 6.8 answers "Expect: 100-continue" itself when it starts reading that request's body,
    // which (responders held until answered) is when the request is next to be answered:
    // the guard then answers it only on the connections it frames itself (plain TCP).
    guard->setSendsContinue(false);
    return bind(guard);
#else
    bind(guard);
    return true;
#endif
}

#if QT_VERSION < QT_VERSION_CHECK(6, 5, 0)

bool HttpServerAdapter::handleRequest(const QHttpServerRequest &request, QTcpSocket *socket)
{
    // 6.4 hands over the socket itself (the guard's) and reads pipelined requests at once;
    // the guard and CoordinatorApi keep the answers in order.
    handleParsed(toHttpRequest(request), socket, 0);
    return true;
}

void HttpServerAdapter::missingHandler(const QHttpServerRequest &request, QTcpSocket *socket)
{
    // handleRequest() answers every request; this only runs if that ever changes.
    Q_UNUSED(request);
    socket->write(HttpReply::error(404, QStringLiteral("Not Found")).serialize(false, false));
}

void HttpServerAdapter::release(quint64 ticket, QTcpSocket *socket)
{
    Q_UNUSED(ticket);
    Q_UNUSED(socket);
}

void HttpServerAdapter::dropResponder(quint64 ticket, QPointer<QTcpSocket> socket)
{
    Q_UNUSED(ticket);
    Q_UNUSED(socket);
}

#else

bool HttpServerAdapter::handleRequest(const QHttpServerRequest &request,
                                      QHttpServerResponder &responder)
{
    // 6.8 gives no socket: the guard finds its connection by the peer's address and port
    // (unique among open connections; the connection is live while its request is read).
    QTcpSocket *socket =
        m_guard ? m_guard->connectionOf(request.remoteAddress(), request.remotePort()) : nullptr;
    if (!socket) {
        // The client closed after sending it (the guard has forgotten the connection, its
        // bytes were still buffered): handled as on 6.4, the answer has nowhere to go.
        handleParsed(toHttpRequest(request), nullptr, 0);
        return true;
    }
    // Keep the responder until the answer is written: QHttpServer reads the connection's
    // next request only after it is gone (see release()).
    const quint64 ticket = ++m_nextTicket;
    m_held.emplace(ticket, std::make_unique<QHttpServerResponder>(std::move(responder)));
    handleParsed(toHttpRequest(request), socket, ticket);
    return true;
}

void HttpServerAdapter::missingHandler(const QHttpServerRequest &request,
                                       QHttpServerResponder &responder)
{
    // Reached for "Upgrade: websocket" requests (6.8 checks them before handleRequest();
    // it closes the connection after this).
    const HttpReply reply = HttpReply::error(404, QStringLiteral("Not Found"));
    QHttpHeaders headers;
    for (const auto &[name, value] : reply.headers)
        headers.append(QByteArrayView(name), QByteArrayView(value));
    headers.append(QHttpHeaders::WellKnownHeader::ContentLength,
                   QByteArray::number(reply.body.size()));
    Q_UNUSED(request);
    responder.write(reply.body, headers, QHttpServerResponder::StatusCode::NotFound);
}

void HttpServerAdapter::release(quint64 ticket, QTcpSocket *socket)
{
    if (!m_held.contains(ticket))
        return;
    QPointer<QTcpSocket> target(socket);
    if (target && target->state() == QAbstractSocket::ClosingState) {
        // "Connection: close": a responder that goes while its socket is not connected
        // makes QHttpServer delete the socket, which would cut an answer still being sent.
        // Wait until the socket has sent it and closed.
        connect(target, &QAbstractSocket::disconnected, this,
                [this, ticket, target] { dropResponder(ticket, target); });
        return;
    }
    // Never from inside QHttpServer's readyRead slot of this connection (a synchronous
    // answer): it would connect that slot a second time.
    QMetaObject::invokeMethod(
        this, [this, ticket, target] { dropResponder(ticket, target); }, Qt::QueuedConnection);
}

void HttpServerAdapter::dropResponder(quint64 ticket, QPointer<QTcpSocket> socket)
{
    auto it = m_held.find(ticket);
    if (it == m_held.end())
        return;
    m_held.erase(it);
    // QHttpServer has just connected its readyRead slot again, after the guard's: the guard
    // moves its after-read slot behind it, so it still sees what QHttpServer left unread.
    if (socket && m_guard)
        m_guard->httpServerReconnected(socket);
}

#endif

} // namespace agmem
