#include "accesscontrol.h"

#include "requestheadscanner.h"

#include "core/logging.h"

namespace agmem {

namespace {

// Keys created or revoked elsewhere (the CLI, another instance) are seen within this long.
constexpr qint64 KeyRefreshMs = 2000;
// An unknown key re-reads the keys at most this often (bounds the cost of bad keys).
constexpr qint64 KeyMissRefreshMs = 250;

QString presentedKey(const HttpRequest &request, const QString &pathKey)
{
    if (!pathKey.isEmpty())
        return pathKey;
    const QByteArray authorization = request.header("authorization").trimmed();
    if (authorization.size() > 7 &&
        authorization.first(7).compare("bearer ", Qt::CaseInsensitive) == 0)
        return QString::fromUtf8(authorization.mid(7).trimmed());
    return QString::fromUtf8(request.header("x-api-key").trimmed());
}

HttpReply unauthorized(const QString &detail)
{
    return HttpReply::error(401, detail)
        .withHeader("WWW-Authenticate", "Bearer realm=\"agmem-coordinator\"");
}

// One entry of a forwarding header as an address: "1.2.3.4", "1.2.3.4:5678", "2001:db8::1",
// "[2001:db8::1]:80", optionally quoted. Null for anything else ("unknown", "_hidden",
// garbage).
QHostAddress parseHop(QByteArray text)
{
    text = text.trimmed();
    if (text.size() >= 2 && text.startsWith('"') && text.endsWith('"'))
        text = text.mid(1, text.size() - 2);
    if (text.startsWith('[')) {
        const qsizetype end = text.indexOf(']');
        if (end < 0)
            return {};
        const QByteArray rest = text.mid(end + 1);
        if (!rest.isEmpty() && !rest.startsWith(':'))
            return {};
        text = text.mid(1, end - 1);
    } else if (text.count(':') == 1) {
        text = text.left(text.indexOf(':'));
    }
    if (text.isEmpty())
        return {};
    QHostAddress address;
    if (!address.setAddress(QString::fromLatin1(text)))
        return {};
    bool mapped = false;
    const quint32 v4 = address.toIPv4Address(&mapped);
    if (mapped && address.protocol() == QAbstractSocket::IPv6Protocol)
        address = QHostAddress(v4);
    return address;
}

// Every line of header `name`, joined in order with commas (one list, as RFC 9110 reads
// repeated fields); nothing when there is no such line.
std::optional<QByteArray> joinedHeader(const HttpRequest &request, QByteArrayView name)
{
    std::optional<QByteArray> out;
    bool first = true;
    for (const auto &[key, value] : request.headers) {
        if (key.compare(name, Qt::CaseInsensitive) != 0)
            continue;
        if (!out)
            out.emplace();
        if (!first)
            *out += ',';
        *out += value;
        first = false;
    }
    return out;
}

// The for= value of one Forwarded element ("for=1.2.3.4;proto=https"); empty without one.
QByteArray forwardedFor(const QByteArray &element)
{
    for (const QByteArray &pair : element.split(';')) {
        const QByteArray p = pair.trimmed();
        if (p.size() >= 4 && p.first(4).compare("for=", Qt::CaseInsensitive) == 0)
            return p.mid(4);
    }
    return {};
}

bool isJsonContentType(QByteArrayView value)
{
    // application/json or application/*+json, parameters (charset) allowed. A missing
    // Content-Type is not JSON: a web page can send a body without one (and without a
    // CORS preflight). Every request with a body passes here: no copies.
    if (const qsizetype semicolon = value.indexOf(';'); semicolon >= 0)
        value = value.first(semicolon);
    const QByteArrayView type = value.trimmed();
    return equalsIgnoringCase(type, "application/json") ||
           (type.size() > 17 && equalsIgnoringCase(type.first(12), "application/") &&
            equalsIgnoringCase(type.last(5), "+json"));
}

// localhost, 127.0.0.1 or [::1], with a port of 1-65535 or none: the Host nearly every
// request to a loopback server carries, recognised without copies. Anything else (and
// every form these do not cover) goes through splitAuthority().
bool usualLoopbackHost(QByteArrayView host)
{
    host = host.trimmed();
    if (const qsizetype colon = host.lastIndexOf(':'); colon >= 0 && !host.endsWith(']')) {
        const QByteArrayView port = host.sliced(colon + 1);
        if (port.isEmpty() || port.size() > 5)
            return false;
        int value = 0;
        for (const char c : port) {
            if (c < '0' || c > '9')
                return false;
            value = value * 10 + (c - '0');
        }
        if (value < 1 || value > 65535)
            return false;
        host = host.first(colon);
    }
    return equalsIgnoringCase(host, "localhost") || host == "127.0.0.1" || host == "[::1]";
}

// The host of a Host header or of an origin's authority, lower-case, without brackets,
// and the port (0: none given).
bool splitAuthority(const QByteArray &authority, QByteArray *host, int *port)
{
    QByteArray a = authority.trimmed().toLower();
    *port = 0;
    QByteArray portText;
    if (a.startsWith('[')) {
        const qsizetype end = a.indexOf(']');
        if (end < 0)
            return false;
        const QByteArray rest = a.mid(end + 1);
        if (!rest.isEmpty()) {
            if (!rest.startsWith(':'))
                return false;
            portText = rest.mid(1);
        }
        *host = a.mid(1, end - 1);
    } else {
        const qsizetype colon = a.indexOf(':');
        if (colon >= 0) {
            if (a.indexOf(':', colon + 1) >= 0)
                return false;
            portText = a.mid(colon + 1);
        }
        *host = colon < 0 ? a : a.left(colon);
    }
    if (!portText.isEmpty()) {
        bool ok = false;
        *port = portText.toInt(&ok);
        if (!ok || *port <= 0 || *port > 65535)
            return false;
    }
    return !host->isEmpty();
}

} // namespace

QString addressText(const QHostAddress &address)
{
    thread_local QHostAddress last;
    thread_local QString text;
    // Strict: an IPv4 address and its IPv4-mapped IPv6 form print differently; so do two
    // scopes of one link-local address.
    const bool same = !text.isNull() && last.protocol() == address.protocol() &&
                      last.isEqual(address, QHostAddress::StrictConversion) &&
                      last.scopeId() == address.scopeId();
    if (!same) {
        last = address;
        text = address.toString();
        if (text.isNull())
            text = QLatin1String(""); // remembered too (a null address prints as "")
    }
    return text;
}

AccessControl::AccessControl(const AccessConfig &config, Store *store,
                             const QHostAddress &listenAddress, bool tls)
    : m_config(config)
    , m_store(store)
    , m_loopbackOnly(listenAddress.isLoopback())
    , m_tls(tls)
    , m_rateLimiter(config.rateLimit, config.rateLimit * 2)
{
    if (!config.environmentKey.isEmpty())
        m_environmentKeyHash = ApiKey::hash(config.environmentKey);
    m_clock.start();
    refreshKeys(true);
}

void AccessControl::refreshKeys(bool force)
{
    if (!force && m_sinceRefresh.isValid() && !m_sinceRefresh.hasExpired(KeyRefreshMs))
        return;
    m_sinceRefresh.start();
    const std::optional<qint64> version = m_store->keysVersion();
    if (!version || *version == m_keysVersion)
        return;
    const auto keys = m_store->listKeys();
    if (!keys)
        return;
    m_keys.clear();
    for (const ApiKeyRecord &k : *keys) {
        if (k.active())
            m_keys.insert(k.hash, {k.id, k.name, k.scopes});
    }
    m_keysVersion = *version;
    qCDebug(lcServer) << m_keys.size() << "active API keys";
}

bool AccessControl::keysRequired()
{
    switch (m_config.mode) {
    case AccessConfig::AuthMode::Required:
        return true;
    case AccessConfig::AuthMode::Open:
        return false;
    case AccessConfig::AuthMode::Auto:
        refreshKeys();
        return !m_environmentKeyHash.isEmpty() || !m_keys.isEmpty();
    }
    return true;
}

std::optional<AccessControl::CachedKey> AccessControl::lookup(const QString &key)
{
    const QByteArray hash = ApiKey::hash(key);
    if (!m_environmentKeyHash.isEmpty() && constantTimeEquals(hash, m_environmentKeyHash))
        return CachedKey{0, QStringLiteral("API_KEY"), unsigned(Scope::All)};
    refreshKeys();
    auto it = m_keys.constFind(hash);
    if (it == m_keys.cend() && m_sinceRefresh.hasExpired(KeyMissRefreshMs)) {
        // A key created a moment ago (CLI, window, another instance) must not wait for the
        // next periodic refresh, nor count as a failure meanwhile.
        refreshKeys(true);
        it = m_keys.constFind(hash);
    }
    // The hash table finds the candidate; the final comparison does not leak timing.
    if (it == m_keys.cend() || !constantTimeEquals(it.key(), hash))
        return std::nullopt;
    return *it;
}

QHostAddress AccessControl::peerAddress(const HttpRequest &request) const
{
    QHostAddress peer = m_config.simulatedPeer.isNull() ? request.peer : m_config.simulatedPeer;
    if (peer.protocol() == QAbstractSocket::IPv6Protocol) {
        bool mapped = false;
        const QHostAddress v4(peer.toIPv4Address(&mapped));
        if (mapped)
            peer = v4;
    }
    return peer;
}

bool AccessControl::isTrustedProxy(const QHostAddress &address) const
{
    for (const auto &subnet : m_config.trustedProxies) {
        if (address.isInSubnet(subnet))
            return true;
    }
    return false;
}

QString AccessControl::clientAddress(const HttpRequest &request) const
{
    const QHostAddress peer = peerAddress(request);
    if (!isTrustedProxy(peer))
        return addressText(peer);

    // One header family only (the one the proxy sets; a client-sent other one is ignored),
    // every line of it in order. Entries are appended by each proxy, so the walk starts at
    // the right: the first entry that is not a trusted proxy is the client. Anything left
    // of it was written by the client and is never believed.
    const bool rfc7239 = m_config.forwardedHeader == AccessConfig::ForwardedHeader::Forwarded;
    const std::optional<QByteArray> header = joinedHeader(
        request, rfc7239 ? QByteArrayView("forwarded") : QByteArrayView("x-forwarded-for"));
    if (!header)
        return addressText(peer); // a request from the proxy's machine itself, not forwarded
    const QList<QByteArray> entries = header->split(',');
    QHostAddress client = peer;
    for (auto it = entries.crbegin(); it != entries.crend(); ++it) {
        const QHostAddress hop = parseHop(rfc7239 ? forwardedFor(*it) : *it);
        if (hop.isNull())
            return QStringLiteral("unknown"); // never a guess, never this machine
        client = hop;
        if (!isTrustedProxy(hop))
            break;
    }
    return client.toString();
}

bool AccessControl::hostAllowed(const QByteArray &hostHeader) const
{
    if (usualLoopbackHost(hostHeader))
        return true;
    QByteArray host;
    int port = 0;
    if (!splitAuthority(hostHeader, &host, &port))
        return false;
    // The usual names first: parsing an address costs more than the rest of the check.
    if (host == "localhost" || host == "127.0.0.1" || host == "::1")
        return true;
    if (const QHostAddress address(QString::fromLatin1(host)); !address.isNull())
        return address.isLoopback();
    for (const QString &allowed : m_config.allowedHosts) {
        if (allowed.compare(QString::fromLatin1(host), Qt::CaseInsensitive) == 0)
            return true;
    }
    return false;
}

bool AccessControl::ownOrigin(const HttpRequest &request, const QByteArray &origin) const
{
    // scheme://host[:port] of the page that sent the request, against the Host it was
    // sent to (the same origin, default ports made equal).
    const qsizetype sep = origin.indexOf("://");
    if (sep <= 0)
        return false;
    const QByteArray scheme = origin.left(sep).toLower();
    if (scheme != "http" && scheme != "https")
        return false;
    // Behind a trusted proxy the public scheme may differ (it terminates TLS).
    const bool viaProxy = isTrustedProxy(peerAddress(request));
    if (!viaProxy && scheme != (m_tls ? "https" : "http"))
        return false;
    const int defaultPort = scheme == "https" ? 443 : 80;
    QByteArray originHost, host;
    int originPort = 0, hostPort = 0;
    if (!splitAuthority(origin.mid(sep + 3), &originHost, &originPort) ||
        !splitAuthority(request.header("host"), &host, &hostPort))
        return false;
    if (originPort == 0)
        originPort = defaultPort;
    if (hostPort == 0)
        hostPort = defaultPort;
    return originHost == host && originPort == hostPort;
}

std::optional<HttpReply> AccessControl::screen(const HttpRequest &request) const
{
    // DNS rebinding: a page on evil.example whose name now points to 127.0.0.1 sends
    // Host: evil.example. A proxy in front passes the public Host, so it is not checked
    // after one.
    if (m_loopbackOnly && !isTrustedProxy(peerAddress(request))) {
        const QByteArray host = request.header("host");
        if (!host.isEmpty() && !hostAllowed(host)) {
            return HttpReply::error(
                421, QStringLiteral("This server listens on this machine only and answers to "
                                    "Host localhost, 127.0.0.1 or [::1]%1, not \"%2\"")
                         .arg(m_config.allowedHosts.isEmpty()
                                  ? QString()
                                  : QStringLiteral(" or ") +
                                        m_config.allowedHosts.join(QStringLiteral(", ")),
                              QString::fromLatin1(host.left(100))));
        }
    }

    const QByteArray &method = request.method;
    const bool stateChanging = method != "GET" && method != "HEAD" && method != "OPTIONS";
    if (stateChanging) {
        const QByteArray origin = request.header("origin");
        if (!origin.isEmpty() && !corsAllowed(request) && !ownOrigin(request, origin)) {
            return HttpReply::error(
                403, QStringLiteral("Cross-origin %1 from %2 refused: not this server's origin "
                                    "nor a --cors-origin")
                         .arg(QString::fromLatin1(method), QString::fromLatin1(origin.left(100))));
        }
    }

    if (method == "POST" || method == "PUT" || method == "PATCH" || !request.body.isEmpty()) {
        if (!isJsonContentType(request.header("content-type")))
            return HttpReply::error(415, QStringLiteral("Content-Type must be application/json"));
    }
    return std::nullopt;
}

std::optional<HttpReply> AccessControl::authorize(const HttpRequest &request, const QString &client,
                                                  const QString &pathKey, Scope scope)
{
    const qint64 now = m_clock.elapsed();
    if (const int banned = m_failures.bannedFor(client, now)) {
        return HttpReply::error(429, QStringLiteral("Too many failed authentication attempts; "
                                                    "try again in %1 s")
                                         .arg(banned))
            .withHeader("Retry-After", QByteArray::number(banned));
    }

    const QString key = presentedKey(request, pathKey);
    std::optional<CachedKey> identity;
    if (!key.isEmpty()) {
        identity = lookup(key);
        if (!identity) {
            m_failures.recordFailure(client, now);
            return unauthorized(QStringLiteral("Invalid API key"));
        }
        m_failures.recordSuccess(client);
        if (identity->id > 0)
            m_lastUsed.insert(identity->id, nowInstant());
    }

    if (scope != Scope::None) {
        if (!identity) {
            if (keysRequired())
                return unauthorized(
                    QStringLiteral("An API key is required (Authorization: Bearer "
                                   "KEY, X-API-Key: KEY, or a /k/KEY/ URL prefix)"));
            // From this machine: the client behind trusted proxies, never the proxy.
            if (scope == Scope::Admin && !QHostAddress(client).isLoopback()) {
                return HttpReply::error(403, QStringLiteral("Admin routes need an API key with "
                                                            "the admin scope, or a request from "
                                                            "this machine"));
            }
        } else if (!hasScope(identity->scopes, scope)) {
            return HttpReply::error(403, QStringLiteral("This API key lacks the \"%1\" scope")
                                             .arg(scopesToString(unsigned(scope))));
        }
    }

    if (!m_rateLimiter.enabled())
        return std::nullopt;
    const QString bucket =
        identity ? QString(u"key:" + QString::number(identity->id)) : QString(u"addr:" + client);
    const RateLimiter::Decision decision = m_rateLimiter.take(bucket, now);
    if (!decision.allowed) {
        return HttpReply::error(429, QStringLiteral("Rate limit of %1 requests per second "
                                                    "exceeded; retry in %2 s")
                                         .arg(m_config.rateLimit)
                                         .arg(decision.retryAfterSeconds))
            .withHeader("Retry-After", QByteArray::number(decision.retryAfterSeconds));
    }
    return std::nullopt;
}

bool AccessControl::corsAllowed(const HttpRequest &request) const
{
    const QByteArray origin = request.header("origin");
    return !origin.isEmpty() && m_config.corsOrigins.contains(QString::fromUtf8(origin));
}

HeaderList AccessControl::corsHeaders(const HttpRequest &request) const
{
    if (!corsAllowed(request))
        return {};
    return {{"Access-Control-Allow-Origin", request.header("origin")},
            {"Access-Control-Expose-Headers", "ETag, Retry-After"},
            {"Vary", "Origin"}};
}

void AccessControl::flushLastUsed()
{
    if (m_lastUsed.isEmpty())
        return;
    if (m_store->touchKeys(m_lastUsed))
        m_lastUsed.clear();
}

void AccessControl::prune()
{
    const qint64 now = m_clock.elapsed();
    m_rateLimiter.prune(now);
    m_failures.prune(now);
}

} // namespace agmem
