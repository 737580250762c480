#pragma once

#include "httpmessage.h"

#include "core/apikey.h"
#include "core/ratelimiter.h"
#include "store/store.h"

#include <QElapsedTimer>
#include <QHash>
#include <QHostAddress>
#include <QList>
#include <QPair>
#include <QStringList>

#include <optional>

namespace agmem {

struct AccessConfig
{
    enum class AuthMode
    {
        // Keys are required as soon as one exists (or API_KEY is set).
        Auto,
        Required,
        // No key needed for push and pull; admin routes only from this machine.
        Open,
    };
    static constexpr double DefaultRateLimit = 100; // requests per second per client

    AuthMode mode = AuthMode::Auto;
    // API_KEY from the environment: a key with every scope, as in the reference's docs.
    QString environmentKey;
    // Requests per second per key (per address when no key is used); bursts of twice as
    // many. 0 disables.
    double rateLimit = DefaultRateLimit;
    // Peers whose X-Forwarded-For / Forwarded headers are believed.
    QList<QPair<QHostAddress, int>> trustedProxies;
    QStringList corsOrigins;
};

// Who may do what: API keys and scopes, rate limits, auth-failure bans, the client
// address behind trusted proxies, and CORS. Runs in the server thread.
class AccessControl
{
public:
    AccessControl(const AccessConfig &config, Store *store);

    // The client's address: the peer, or what a trusted proxy says the peer is.
    QString clientAddress(const HttpRequest &request) const;

    // Checks a request that needs `scope` (Scope::None: open routes). Returns the error
    // answer, or nothing when the request may proceed. `pathKey` is a key given in the
    // URL (/k/KEY/...).
    std::optional<HttpReply> authorize(const HttpRequest &request, const QString &client,
                                       const QString &pathKey, Scope scope);

    bool keysRequired();
    // CORS headers for an answer to `request` (none when its origin is not allowed).
    HeaderList corsHeaders(const HttpRequest &request) const;
    bool corsAllowed(const HttpRequest &request) const;

    // Writes batched last-use times of keys.
    void flushLastUsed();
    // Hands the batched last-use times over (the server writes them through its writer).
    QHash<qint64, Instant> takeLastUsed() { return std::exchange(m_lastUsed, {}); }
    // Drops idle rate-limit and ban entries.
    void prune();

    const AccessConfig &config() const { return m_config; }

private:
    struct CachedKey
    {
        qint64 id;
        QString name;
        unsigned scopes;
    };
    void refreshKeys(bool force = false);
    std::optional<CachedKey> lookup(const QString &key);

    AccessConfig m_config;
    Store *m_store;
    QHash<QByteArray, CachedKey> m_keys; // by SHA-256 hex
    qint64 m_keysVersion = -1;
    QElapsedTimer m_sinceRefresh;
    QHash<qint64, Instant> m_lastUsed;
    QByteArray m_environmentKeyHash;
    RateLimiter m_rateLimiter;
    AuthFailureThrottle m_failures;
    QElapsedTimer m_clock;
};

} // namespace agmem
