#include "webui.h"

#include <QFile>
#include <QRegularExpression>

namespace agmem {

const QByteArray WebUi::ContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; font-src 'none'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'";

namespace {

QByteArray contentType(const QString &name)
{
    if (name.endsWith(u".html"))
        return "text/html; charset=utf-8";
    if (name.endsWith(u".js"))
        return "text/javascript; charset=utf-8";
    if (name.endsWith(u".css"))
        return "text/css; charset=utf-8";
    if (name.endsWith(u".svg"))
        return "image/svg+xml";
    return "application/octet-stream";
}

HttpReply file(const QString &name)
{
    // Only plain names of files in the resource folder: no path, no "..".
    static const QRegularExpression plain(QStringLiteral("^[a-z0-9-]+\\.[a-z]+$"));
    QFile f(QStringLiteral(":/agmem/web/") + name);
    if (!plain.match(name).hasMatch() || !f.open(QIODevice::ReadOnly))
        return HttpReply::error(404, QStringLiteral("Not Found"));
    HttpReply reply;
    reply.status = 200;
    reply.body = f.readAll();
    reply.headers = {{"Content-Type", contentType(name)},
                     {"Content-Security-Policy", WebUi::ContentSecurityPolicy},
                     {"X-Content-Type-Options", "nosniff"},
                     {"X-Frame-Options", "DENY"},
                     {"Referrer-Policy", "no-referrer"},
                     // Small files: the browser asks again each time (no stale UI after
                     // an upgrade).
                     {"Cache-Control", "no-cache"}};
    return reply;
}

} // namespace

bool WebUi::handles(const QString &route)
{
    return route == u"/ui" || route == u"/ui/" || route == u"/ui/{file}" || route == u"/docs" ||
           route == u"/redoc";
}

HttpReply WebUi::handle(const HttpRequest &request, const QString &route, const QString &parameter)
{
    Q_UNUSED(request);
    if (route == u"/ui") {
        // Relative, so it also works under a proxy's path prefix.
        HttpReply reply;
        reply.status = 308;
        reply.headers = {{"Location", "ui/"}};
        return reply;
    }
    if (route == u"/ui/")
        return file(QStringLiteral("index.html"));
    if (route == u"/ui/{file}")
        return file(parameter);
    return file(QStringLiteral("docs.html"));
}

} // namespace agmem
