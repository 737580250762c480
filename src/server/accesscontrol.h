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

// address.toString(), remembered for the last address this thread asked about: every
// request asks for its peer's text several times (client address, logs, metrics).
QString addressText(const QHostAddress &address);

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
    // Peers whose forwarding header is believed.
    QList<QPair<QHostAddress, int>> trustedProxies;
    // Which header a trusted proxy reports the client in (--forwarded-header); the other
    // one is never read, so a client cannot send it past a proxy that only sets one.
    enum class ForwardedHeader
    {
        XForwardedFor,
        Forwarded, // RFC 7239, the for= parameter
    };
    ForwardedHeader forwardedHeader = ForwardedHeader::XForwardedFor;
    QStringList corsOrigins;
    // Host names (besides localhost, 127.0.0.1 and [::1]) a loopback-only listener answers
    // to (--allowed-host); any other Host is refused unless a trusted proxy forwarded it.
    QStringList allowedHosts;
    // Tests only: every request is treated as coming from this peer instead of its
    // socket's (a client "from the network" while the test talks to 127.0.0.1). Null: off.
    QHostAddress simulatedPeer;
};

// Who may do what: API keys and scopes, rate limits, auth-failure bans, the client
// address behind trusted proxies, and CORS. Runs in the server thread.
class AccessControl
{
public:
    // `listenAddress` and `tls`: where and how the server listens (the Host and Origin
    // checks of screen()).
    AccessControl(const AccessConfig &config, Store *store,
                  const QHostAddress &listenAddress = QHostAddress(QHostAddress::LocalHost),
                  bool tls = false);

    // The client's address: the peer, or, when the peer is a trusted proxy, the first
    // address from the right of its forwarding header that is not a trusted proxy
    // ("unknown" when an entry on the way cannot be read).
    QString clientAddress(const HttpRequest &request) const;
    // The socket peer (IPv4-mapped IPv6 as IPv4), or the simulated peer of tests.
    QHostAddress peerAddress(const HttpRequest &request) const;
    bool isTrustedProxy(const QHostAddress &address) const;

    // The checks every request passes before authorization, in this order:
    //  - DNS rebinding: on a loopback-only listener, a request that did not come through a
    //    trusted proxy must name this machine (or an --allowed-host) in Host: 421;
    //  - cross-site writes: a state-changing request (not GET, HEAD or OPTIONS) with an
    //    Origin that is neither this server's own nor an allowed CORS origin: 403;
    //  - a request body (any POST, or a body at all) must be declared application/json
    //    (application/*+json); a missing Content-Type is refused too: 415.
    // Returns the error answer, or nothing when the request may go on.
    std::optional<HttpReply> screen(const HttpRequest &request) const;

    // Checks a request that needs `scope` (Scope::None: open routes). Returns the error
    // answer, or nothing when the request may proceed. `pathKey` is a key given in the
    // URL (/k/KEY/...).
    std::optional<HttpReply> authorize(const HttpRequest &request, const QString &client,
                                       const QString &pathKey, Scope scope);

    bool keysRequired();
    // Reads the keys from the store again when they changed there (at most every few
    // seconds unless `force`: a key created or revoked in this process forces it).
    void refreshKeys(bool force = false);
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
    std::optional<CachedKey> lookup(const QString &key);

    bool hostAllowed(const QByteArray &host) const;
    bool ownOrigin(const HttpRequest &request, const QByteArray &origin) const;

    AccessConfig m_config;
    Store *m_store;
    bool m_loopbackOnly;
    bool m_tls;
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
