#pragma once

#include "httpmessage.h"

#include <QAbstractHttpServer>
#include <QPointer>
#include <QtGlobal>

#include <memory>
#include <unordered_map>

class QHttpServerRequest;
class QHttpServerResponder;
class QTcpSocket;

namespace agmem {

class ConnectionGuard;

// The only code that knows which Qt line QHttpServer comes from. Two lines are supported
// and checked (scripts/qt68-check.sh): Debian 12's 6.4.2 and the 6.8 LTS line (Debian 13,
// the Windows/macOS installers). 6.5-6.7 are refused at compile time: their API is a mix
// of both and nothing here checks them. docs/DESIGN-NOTES.md explains the differences.
//
// Whatever the version, a subclass sees one parsed request at a time with the guard's
// socket of its connection, writes its answer to that socket itself (one serialization,
// HttpReply::serialize), and then calls release(). On 6.8 QHttpServer reads no further
// request of that connection until release(): answers go out in request order and a
// pipelined request's "100 Continue" only when it is next to be answered.
class HttpServerAdapter : public QAbstractHttpServer
{
    Q_OBJECT

public:
    explicit HttpServerAdapter(QObject *parent = nullptr);
    ~HttpServerAdapter() override;

    // Hands the listening guard's connections to QHttpServer (the guard becomes a child).
    // QHttpServer reads only those the guard does not frame itself (TLS).
    bool bindGuard(ConnectionGuard *guard);
    // The request QHttpServer parsed, as the API sees it (tst_guard compares the guard's
    // own framing, ConnectionGuard::requestFromHead(), with it).
    static HttpRequest toHttpRequest(const QHttpServerRequest &request);

protected:
    // A request QHttpServer parsed; `socket` is the guard's socket of its connection,
    // `ticket` goes to release() once the answer is written (or the client is gone).
    virtual void handleParsed(HttpRequest &&request, QTcpSocket *socket, quint64 ticket) = 0;
    // Call after writing the answer (and after disconnectFromHost() for a closing one).
    void release(quint64 ticket, QTcpSocket *socket);

#if QT_VERSION < QT_VERSION_CHECK(6, 5, 0)
    bool handleRequest(const QHttpServerRequest &request, QTcpSocket *socket) override;
    void missingHandler(const QHttpServerRequest &request, QTcpSocket *socket) override;
#else
    bool handleRequest(const QHttpServerRequest &request, QHttpServerResponder &responder) override;
    void missingHandler(const QHttpServerRequest &request,
                        QHttpServerResponder &responder) override;
#endif

private:
    void dropResponder(quint64 ticket, QPointer<QTcpSocket> socket);

    QPointer<ConnectionGuard> m_guard;
    quint64 m_nextTicket = 0;
    // 6.8: the responders of requests whose answers are not written yet. QHttpServer
    // keeps the connection's next request unread while its responder lives.
    std::unordered_map<quint64, std::unique_ptr<QHttpServerResponder>> m_held;
};

} // namespace agmem
