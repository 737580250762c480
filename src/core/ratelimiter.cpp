#include "ratelimiter.h"

#include <cmath>

namespace agmem {

RateLimiter::Decision RateLimiter::take(const QString &client, qint64 nowMs)
{
    if (!enabled())
        return {};
    auto it = m_buckets.find(client);
    if (it == m_buckets.end())
        it = m_buckets.insert(client, {m_burst, nowMs});
    Bucket &b = *it;
    if (nowMs > b.updatedMs) {
        b.tokens = std::min(m_burst, b.tokens + (nowMs - b.updatedMs) * m_rate / 1000.0);
        b.updatedMs = nowMs;
    }
    if (b.tokens >= 1.0) {
        b.tokens -= 1.0;
        return {};
    }
    const double wait = (1.0 - b.tokens) / m_rate;
    return {false, std::max(1, int(std::ceil(wait)))};
}

void RateLimiter::prune(qint64 nowMs)
{
    for (auto it = m_buckets.begin(); it != m_buckets.end();) {
        const double tokens = it->tokens + (nowMs - it->updatedMs) * m_rate / 1000.0;
        if (tokens >= m_burst)
            it = m_buckets.erase(it);
        else
            ++it;
    }
}

int AuthFailureThrottle::bannedFor(const QString &address, qint64 nowMs) const
{
    const auto it = m_entries.constFind(address);
    if (it == m_entries.cend() || it->bannedUntilMs <= nowMs)
        return 0;
    return int((it->bannedUntilMs - nowMs + 999) / 1000);
}

void AuthFailureThrottle::recordFailure(const QString &address, qint64 nowMs)
{
    Entry &e = m_entries[address];
    if (nowMs - e.windowStartMs > m_windowMs) {
        e.failures = 0;
        e.windowStartMs = nowMs;
    }
    if (++e.failures >= m_maxFailures) {
        e.bannedUntilMs = nowMs + m_banMs;
        e.failures = 0;
        e.windowStartMs = nowMs;
    }
}

void AuthFailureThrottle::recordSuccess(const QString &address)
{
    const auto it = m_entries.find(address);
    if (it != m_entries.end() && it->bannedUntilMs == 0)
        m_entries.erase(it);
}

void AuthFailureThrottle::prune(qint64 nowMs)
{
    for (auto it = m_entries.begin(); it != m_entries.end();) {
        if (it->bannedUntilMs <= nowMs && nowMs - it->windowStartMs > m_windowMs)
            it = m_entries.erase(it);
        else
            ++it;
    }
}

} // namespace agmem
