#pragma once

#include "httpmessage.h"

#include <QString>

namespace agmem {

// The read-only web dashboard (/ui/) and the interactive API docs (/docs, /redoc): static
// files compiled into the binary (resources/web), served with a strict Content-Security-
// Policy. Everything they show comes from the API itself, read with the visitor's key.
class WebUi
{
public:
    // No inline script or style, nothing from another origin, no framing.
    static const QByteArray ContentSecurityPolicy;

    // Whether a route pattern of CoordinatorApi::routes() is answered here.
    static bool handles(const QString &route);
    // `parameter`: the file name of /ui/{file}.
    static HttpReply handle(const HttpRequest &request, const QString &route,
                            const QString &parameter);
};

} // namespace agmem
