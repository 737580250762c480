#pragma once

#include <QByteArray>
#include <QList>
#include <QPair>
#include <QString>

#include <functional>

namespace agmem {

// Header comparisons shared by the scanner and the server (ASCII case folding, no copies).
// `a` equals `b` ignoring case; another length is ruled out before any byte is compared.
inline bool equalsIgnoringCase(QByteArrayView a, QByteArrayView b)
{
    if (a.size() != b.size())
        return false;
    // ASCII case folding, byte for byte what QByteArrayView::compare(Qt::CaseInsensitive)
    // (qstrnicmp) decides, inline: header names are compared several times per request.
    const char *p = a.data();
    const char *q = b.data();
    for (qsizetype i = 0, n = a.size(); i < n; ++i) {
        char x = p[i];
        char y = q[i];
        if (x == y)
            continue;
        if (x >= 'A' && x <= 'Z')
            x = char(x + ('a' - 'A'));
        if (y >= 'A' && y <= 'Z')
            y = char(y + ('a' - 'A'));
        if (x != y)
            return false;
    }
    return true;
}

// `token` is one of the comma-separated entries of `list` (each trimmed), ignoring case.
bool hasToken(QByteArrayView list, QByteArrayView token);

// Limits the guard enforces. Each has a command-line option (src/app/options.cpp).
struct ConnectionLimits
{
    static constexpr int DefaultMaxConnections = 1024;
    static constexpr int DefaultIdleTimeoutMs = 15000;
    static constexpr int DefaultReadTimeoutMs = 30000;
    static constexpr int DefaultMaxHeadBytes = 16 * 1024;
    // nginx's default: a burst of clients is queued instead of waiting on SYN retries.
    static constexpr int DefaultListenBacklog = 511;

    int maxConnections = DefaultMaxConnections;
    // Connections from one address (trusted proxies exempt); 0: no per-address cap.
    int maxConnectionsPerAddress = 0;
    int listenBacklog = DefaultListenBacklog;
    // Request bodies announced and not yet handed to the API, over every connection;
    // past it a request with a body is answered 503 before its body is read. 0: no limit.
    static constexpr qint64 DefaultMaxBufferedBodyBytes = 256LL * 1024 * 1024;
    qint64 maxBufferedBodyBytes = DefaultMaxBufferedBodyBytes;
    // A keep-alive connection with no request in progress is closed after this long.
    int idleTimeoutMs = DefaultIdleTimeoutMs;
    // A request must arrive whole (head and body) within this long of its first byte.
    int readTimeoutMs = DefaultReadTimeoutMs;
    // Request line plus headers.
    int maxHeadBytes = DefaultMaxHeadBytes;
    qint64 maxBodyBytes = 16 * 1024 * 1024;
};

// What QHttpServer 6.4's header parser (QHttpHeaderParser) accepts. Past either limit it
// drops every header of the request and reads the declared body as the next request, so
// the scanner refuses such a head itself (431) to keep both on the same framing.
inline constexpr int QtMaxHeaderFields = 100;
// One header line, name and colon included, line end excluded.
inline constexpr int QtMaxHeaderFieldBytes = 8 * 1024;

// QHttpServer's method names (QHttpServerRequest::Method, as 6.4 and 6.8 parse them): the
// shared literal equal to `method` (copies share static data, without a reference count), or
// nullptr for any other name (TRACE and lower-case names included).
const QByteArray *knownHttpMethod(QByteArrayView method);

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
        // Bytes from this offset of the feed on follow a request after which the
        // connection closes (HTTP/1.0, "Connection: close"): they must never be read as
        // requests. -1: none.
        qsizetype discardFrom = -1;
        // Extra headers of the error answer (WWW-Authenticate, Retry-After).
        QList<QPair<QByteArray, QByteArray>> headers = {};
    };
    struct Head
    {
        bool closeAfterResponse = false;
        bool expectContinue = false;
        qint64 contentLength = 0;
        // The head's bytes from its first byte (after any blank lines before it) through
        // the empty line that ends it: the body follows.
        qsizetype headBytes = 0;
        // Filled only for the admission check (setAdmission()) or framing (setFraming()).
        QByteArray method;
        QByteArray target;
        QList<QPair<QByteArray, QByteArray>> fields;
    };
    // Decides on a well-formed head before its body is read (the connection guard: the
    // buffered-body budget, and 401/403 from the head). A status in the verdict refuses
    // the request like any other.
    using Admission = std::function<Verdict(const Head &)>;

    explicit RequestHeadScanner(const ConnectionLimits &limits)
        : m_limits(limits)
    {}

    // Feeds bytes that have not been fed before. Each complete head is appended to
    // `heads`; a rejected request sets the verdict and the scanner stops.
    Verdict feed(const char *data, qsizetype size, QList<Head> *heads);
    void setAdmission(Admission admission) { m_admission = std::move(admission); }
    // Every head returned keeps its method, target and fields (the connection guard builds
    // the request from them: ConnectionGuard::requestFromHead()).
    void setFraming(bool framing) { m_framing = framing; }

    // True between the first byte of a request (a blank line before it included: it
    // starts the read timeout) and the last byte of its body.
    bool inRequest() const { return m_inBody || !m_head.isEmpty() || m_leadingBlank; }
    bool failed() const { return m_failed; }
    // A request that closes the connection has been scanned whole: nothing more is read.
    bool closed() const { return m_closed && !m_inBody; }

private:
    Verdict parseHead(QByteArrayView text, Head *head);

    ConnectionLimits m_limits;
    Admission m_admission;
    bool m_framing = false;
    // The last head handed out when framing: parseHead() shares its target and field bytes
    // where the next head repeats them.
    struct
    {
        QByteArray target;
        QList<QPair<QByteArray, QByteArray>> fields;
    } m_previous;
    QByteArray m_head;
    qint64 m_bodyLeft = 0;
    bool m_inBody = false;
    bool m_failed = false;
    bool m_leadingBlank = false;
    bool m_closed = false;
};

} // namespace agmem
