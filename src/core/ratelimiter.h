#pragma once

#include <QHash>
#include <QString>

namespace agmem {

// Token buckets per client (an API key, else an address): `rate` requests a second on
// average, bursts of up to `burst`. Time is passed in (milliseconds), so tests control it.
class RateLimiter
{
public:
    RateLimiter(double rate, double burst)
        : m_rate(rate)
        , m_burst(burst)
    {}

    bool enabled() const { return m_rate > 0; }

    struct Decision
    {
        bool allowed = true;
        // When refused: seconds until a request would be allowed (for Retry-After).
        int retryAfterSeconds = 0;
    };
    Decision take(const QString &client, qint64 nowMs);

    // Drops buckets that are full again (idle clients), so memory stays bounded.
    void prune(qint64 nowMs);
    qsizetype size() const { return m_buckets.size(); }

private:
    struct Bucket
    {
        double tokens;
        qint64 updatedMs;
    };
    double m_rate;
    double m_burst;
    QHash<QString, Bucket> m_buckets;
};

// Repeated authentication failures from one address: after `maxFailures` within
// `windowMs`, the address is refused for `banMs` (like qBittorrent's IP ban).
class AuthFailureThrottle
{
public:
    AuthFailureThrottle(int maxFailures = 10, qint64 windowMs = 60000, qint64 banMs = 60000)
        : m_maxFailures(maxFailures)
        , m_windowMs(windowMs)
        , m_banMs(banMs)
    {}

    // Seconds the address is still banned for; 0 when it may try.
    int bannedFor(const QString &address, qint64 nowMs) const;
    void recordFailure(const QString &address, qint64 nowMs);
    void recordSuccess(const QString &address);
    void prune(qint64 nowMs);

private:
    struct Entry
    {
        int failures = 0;
        qint64 windowStartMs = 0;
        qint64 bannedUntilMs = 0;
    };
    int m_maxFailures;
    qint64 m_windowMs;
    qint64 m_banMs;
    QHash<QString, Entry> m_entries;
};

} // namespace agmem
