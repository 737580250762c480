#include "accesscontrol.h"

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

// The address in a Forwarded "for=" or X-Forwarded-For element, without port or brackets.
QString stripAddress(QString text)
{
    text = text.trimmed();
    if (text.startsWith(u'"') && text.endsWith(u'"') && text.size() >= 2)
        text = text.mid(1, text.size() - 2);
    if (text.startsWith(u'[')) {
        const qsizetype end = text.indexOf(u']');
        return end > 0 ? text.mid(1, end - 1) : QString();
    }
    if (text.count(u':') == 1)
        text = text.section(u':', 0, 0);
    return text;
}

} // namespace

AccessControl::AccessControl(const AccessConfig &config, Store *store)
    : m_config(config)
    , m_store(store)
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

QString AccessControl::clientAddress(const HttpRequest &request) const
{
    const auto trusted = [this](const QHostAddress &a) {
        for (const auto &subnet : m_config.trustedProxies) {
            if (a.isInSubnet(subnet))
                return true;
        }
        return false;
    };
    QHostAddress peer = request.peer;
    if (peer.protocol() == QAbstractSocket::IPv6Protocol) {
        bool mapped = false;
        const QHostAddress v4(peer.toIPv4Address(&mapped));
        if (mapped)
            peer = v4;
    }
    if (m_config.trustedProxies.isEmpty() || !trusted(peer))
        return peer.toString();

    // Walk the chain from the nearest hop back: the first address that is not one of our
    // proxies is the client.
    QStringList chain;
    const QByteArray forwarded = request.header("forwarded");
    if (!forwarded.isEmpty()) {
        for (const QByteArray &element : forwarded.split(',')) {
            for (const QByteArray &pair : element.split(';')) {
                const QByteArray p = pair.trimmed();
                if (p.size() > 4 && p.first(4).compare("for=", Qt::CaseInsensitive) == 0)
                    chain.append(stripAddress(QString::fromLatin1(p.mid(4))));
            }
        }
    } else {
        for (const QByteArray &hop : request.header("x-forwarded-for").split(','))
            chain.append(stripAddress(QString::fromLatin1(hop)));
    }
    for (auto it = chain.crbegin(); it != chain.crend(); ++it) {
        const QHostAddress hop(*it);
        if (hop.isNull())
            break; // unparsable (or "unknown"): stop at the last address we could read
        if (!trusted(hop))
            return hop.toString();
        peer = hop;
    }
    return peer.toString();
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
            if (scope == Scope::Admin && !request.peer.isLoopback()) {
                return HttpReply::error(403, QStringLiteral("Admin routes need an API key with "
                                                            "the admin scope, or a request from "
                                                            "this machine"));
            }
        } else if (!hasScope(identity->scopes, scope)) {
            return HttpReply::error(403, QStringLiteral("This API key lacks the \"%1\" scope")
                                             .arg(scopesToString(unsigned(scope))));
        }
    }

    const QString bucket = identity ? QStringLiteral("key:%1").arg(identity->id)
                                    : QStringLiteral("addr:%1").arg(client);
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
