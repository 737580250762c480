#pragma once

#include <QByteArray>
#include <QHostAddress>
#include <QJsonArray>
#include <QJsonObject>
#include <QList>
#include <QPair>
#include <QString>
#include <QUrlQuery>

namespace agmem {

using HeaderList = QList<QPair<QByteArray, QByteArray>>;

// A request as the API sees it, independent of QHttpServer's types.
struct HttpRequest
{
    QByteArray method = {};
    QString path = {};
    QUrlQuery query = {};
    HeaderList headers = {};
    QByteArray body = {};
    QHostAddress peer = {};
    // The connection guard already authorized it from its head (before the body was read).
    bool authorizedFromHead = false;

    // Case-insensitive header lookup; empty when absent.
    QByteArray header(QByteArrayView name) const;
    bool wantsClose() const;
    // Whether Accept-Encoding allows gzip (listed with q > 0, or `*` without gzip refused).
    bool acceptsGzip() const;
};

struct HttpReply
{
    int status = 200;
    HeaderList headers;
    QByteArray body;
    // Short reason for logs and the activity view ("invalid summary", "stale push").
    QString note;
    // The agent a push came from, when known.
    QString agentId;
    // The client's address (behind a trusted proxy: the one it reported).
    QString client;
    // GET /events was granted: the transport writes a stream head instead (eventhub.h) and
    // keeps the connection.
    bool eventStream = false;
    // A large body kept in pieces (a /pull answer): written one after the other, never
    // joined into one copy. When not empty, `body` is empty.
    QList<QByteArray> bodyPieces;
    qsizetype bodyPiecesSize = 0;

    static HttpReply json(int status, const QByteArray &body);
    static HttpReply json(int status, const QJsonObject &object);
    // {"detail": "message"}
    static HttpReply error(int status, const QString &detail);
    // {"detail": [{"loc": [...], "msg": ..., "type": ...}, ...]}
    static HttpReply validationError(const QJsonArray &details);

    HttpReply &withHeader(const QByteArray &name, const QByteArray &value)
    {
        headers.append({name, value});
        return *this;
    }

    qsizetype bodySize() const { return bodyPieces.isEmpty() ? body.size() : bodyPiecesSize; }
    // The whole HTTP/1.1 response, ready for the socket.
    QByteArray serialize(bool headOnly, bool close) const;
    // The status line and headers only (the body is written after it as it is).
    QByteArray serializeHead(bool close, qsizetype reserveBody = 0) const;
    // A body this large goes to the socket on its own: shared, not copied behind the head.
    bool writesBodyApart(bool headOnly) const
    {
        return !headOnly && status != 304 && status != 204 && bodySize() >= 65536;
    }
};

const char *reasonPhrase(int status);

} // namespace agmem
