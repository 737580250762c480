#include "httpmessage.h"

#include "requestheadscanner.h"

#include <QJsonDocument>

#include <charconv>
#include <cstring>

namespace agmem {

QByteArray HttpRequest::header(QByteArrayView name) const
{
    for (const auto &[key, value] : headers) {
        if (equalsIgnoringCase(key, name))
            return value;
    }
    return {};
}

bool HttpRequest::wantsClose() const
{
    return hasToken(header("connection"), "close");
}

bool HttpRequest::acceptsGzip() const
{
    const QByteArray acceptEncoding = header("accept-encoding");
    bool gzip = false;
    bool star = false;
    bool gzipListed = false;
    for (const QByteArray &item : acceptEncoding.split(',')) {
        const QList<QByteArray> parts = item.split(';');
        const QByteArray coding = parts.first().trimmed().toLower();
        double q = 1;
        for (qsizetype i = 1; i < parts.size(); ++i) {
            const QByteArray p = parts.at(i).trimmed().toLower();
            if (p.startsWith("q="))
                q = p.mid(2).toDouble();
        }
        if (coding == "gzip" || coding == "x-gzip") {
            gzipListed = true;
            gzip = gzip || q > 0;
        } else if (coding == "*") {
            star = q > 0;
        }
    }
    return gzip || (!gzipListed && star);
}

HttpReply HttpReply::json(int status, const QByteArray &body)
{
    HttpReply reply;
    reply.status = status;
    reply.body = body;
    // Shared (an answer that adds a header copies it then): no list allocated per answer.
    static const HeaderList jsonHeaders = {
        {QByteArrayLiteral("Content-Type"), QByteArrayLiteral("application/json")}};
    reply.headers = jsonHeaders;
    return reply;
}

HttpReply HttpReply::json(int status, const QJsonObject &object)
{
    return json(status, QJsonDocument(object).toJson(QJsonDocument::Compact));
}

HttpReply HttpReply::error(int status, const QString &detail)
{
    HttpReply reply = json(status, QJsonObject{{QStringLiteral("detail"), detail}});
    reply.note = detail;
    return reply;
}

HttpReply HttpReply::validationError(const QJsonArray &details)
{
    HttpReply reply = json(422, QJsonObject{{QStringLiteral("detail"), details}});
    const QJsonObject first = details.first().toObject();
    QStringList loc;
    for (const QJsonValue &part : first.value(u"loc").toArray())
        loc.append(part.isString() ? part.toString() : QString::number(part.toInteger()));
    reply.note = loc.join(u'.') + u": " + first.value(u"msg").toString();
    return reply;
}

QByteArray HttpReply::serialize(bool headOnly, bool close) const
{
    QByteArray out = serializeHead(close, headOnly ? 0 : bodySize());
    if (!headOnly && status != 304 && status != 204) {
        out.append(body);
        for (const QByteArray &piece : bodyPieces)
            out.append(piece);
    }
    return out;
}

QByteArray HttpReply::serializeHead(bool close, qsizetype reserveBody) const
{
    // Written straight into one buffer sized for the head (one allocation per answer).
    const char *reason = reasonPhrase(status);
    const qsizetype reasonSize = qsizetype(std::strlen(reason));
    qsizetype headSize = 9 + 11 + 1 + reasonSize + 2 + 16 + 20 + 2 + 19 + 2;
    for (const auto &[name, value] : headers)
        headSize += name.size() + value.size() + 4;
    QByteArray out;
    out.reserve(headSize + reserveBody);
    out.resize(headSize);
    char *const begin = out.data();
    char *p = begin;
    const auto put = [&p](const char *data, qsizetype size) {
        std::memcpy(p, data, size_t(size));
        p += size;
    };
    const auto putNumber = [&p](qint64 value) { p = std::to_chars(p, p + 20, value).ptr; };
    put("HTTP/1.1 ", 9);
    putNumber(status);
    *p++ = ' ';
    put(reason, reasonSize);
    put("\r\n", 2);
    for (const auto &[name, value] : headers) {
        put(name.constData(), name.size());
        put(": ", 2);
        put(value.constData(), value.size());
        put("\r\n", 2);
    }
    if (status != 304 && status != 204 && status >= 200) {
        put("Content-Length: ", 16);
        putNumber(bodySize());
        put("\r\n", 2);
    }
    if (close)
        put("Connection: close\r\n", 19);
    put("\r\n", 2);
    out.truncate(p - begin);
    return out;
}

const char *reasonPhrase(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 304:
        return "Not Modified";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 411:
        return "Length Required";
    case 413:
        return "Payload Too Large";
    case 415:
        return "Unsupported Media Type";
    case 421:
        return "Misdirected Request";
    case 422:
        return "Unprocessable Entity";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    default:
        return "Unknown";
    }
}

} // namespace agmem
