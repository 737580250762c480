#pragma once

#include <QByteArray>
#include <QList>
#include <QString>

namespace agmem {

// Limits the guard enforces. Each has a command-line option (src/app/options.cpp).
struct ConnectionLimits
{
    static constexpr int DefaultMaxConnections = 1024;
    static constexpr int DefaultIdleTimeoutMs = 15000;
    static constexpr int DefaultReadTimeoutMs = 30000;
    static constexpr int DefaultMaxHeadBytes = 16 * 1024;

    int maxConnections = DefaultMaxConnections;
    // A keep-alive connection with no request in progress is closed after this long.
    int idleTimeoutMs = DefaultIdleTimeoutMs;
    // A request must arrive whole (head and body) within this long of its first byte.
    int readTimeoutMs = DefaultReadTimeoutMs;
    // Request line plus headers.
    int maxHeadBytes = DefaultMaxHeadBytes;
    qint64 maxBodyBytes = 16 * 1024 * 1024;
};

// Scans a byte stream of HTTP/1.x requests as it arrives and decides, per request head,
// whether the request may proceed. Pure logic, no sockets: the fuzz target and the unit
// tests drive it directly.
class RequestHeadScanner
{
public:
    struct Verdict
    {
        int status = 0; // 0: fine so far; else the error status to answer and close
        QString detail;
        // A rejected request's first byte, as an offset into the bytes just fed; negative
        // when its head began in an earlier feed.
        qsizetype requestStart = 0;
    };
    struct Head
    {
        bool closeAfterResponse = false;
        bool expectContinue = false;
        qint64 contentLength = 0;
    };

    explicit RequestHeadScanner(const ConnectionLimits &limits)
        : m_limits(limits)
    {}

    // Feeds bytes that have not been fed before. Each complete head is appended to
    // `heads`; a rejected request sets the verdict and the scanner stops.
    Verdict feed(const char *data, qsizetype size, QList<Head> *heads);

    // True between the first byte of a request and the last byte of its body.
    bool inRequest() const { return m_inBody || !m_head.isEmpty(); }
    bool failed() const { return m_failed; }

private:
    Verdict parseHead(Head *head) const;

    ConnectionLimits m_limits;
    QByteArray m_head;
    qint64 m_bodyLeft = 0;
    bool m_inBody = false;
    bool m_failed = false;
};

} // namespace agmem
