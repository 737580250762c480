#include "requestheadscanner.h"

#include <algorithm>
#include <cstring>
#include <optional>

namespace agmem {

namespace {

constexpr bool isTokenCharSlow(char c)
{
    // RFC 9110 tchar
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
        return true;
    default:
        return false;
    }
}

// isTokenCharSlow() for every byte, looked up.
struct TokenTable
{
    bool token[256] = {};
    constexpr TokenTable()
    {
        for (int c = 0; c < 256; ++c)
            token[c] = isTokenCharSlow(char(c));
    }
};
constexpr TokenTable TokenChars;

bool isTokenChar(char c)
{
    return TokenChars.token[static_cast<unsigned char>(c)];
}

bool isToken(QByteArrayView s)
{
    if (s.isEmpty())
        return false;
    for (char c : s) {
        if (!isTokenChar(c))
            return false;
    }
    return true;
}

// QByteArray::trimmed()'s white space.
bool isSpace(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

QByteArrayView trimmed(QByteArrayView s)
{
    qsizetype begin = 0;
    qsizetype end = s.size();
    while (begin < end && isSpace(s[begin]))
        ++begin;
    while (end > begin && isSpace(s[end - 1]))
        --end;
    return s.sliced(begin, end - begin);
}

bool containsLower(QByteArrayView value, QByteArrayView lowerNeedle)
{
    // value.toLower().contains(lowerNeedle), without the copy (ASCII case folding, as
    // QByteArray::toLower()).
    for (qsizetype i = 0; i + lowerNeedle.size() <= value.size(); ++i) {
        if (value.sliced(i, lowerNeedle.size()).compare(lowerNeedle, Qt::CaseInsensitive) == 0)
            return true;
    }
    return false;
}

// The end of the head: the first LF followed by LF or CRLF, searched from `from`. Sets
// `end` (the head's length without its last line end) and `endLength`; false if none yet.
bool findHeadEnd(QByteArrayView text, qsizetype from, qsizetype *end, qsizetype *endLength)
{
    const char *data = text.data();
    const qsizetype size = text.size();
    qsizetype i = from;
    while (i + 1 < size) {
        const void *lf = std::memchr(data + i, '\n', size_t(size - 1 - i));
        if (!lf)
            return false;
        i = static_cast<const char *>(lf) - data;
        qsizetype after = 0;
        if (data[i + 1] == '\n')
            after = 1;
        else if (data[i + 1] == '\r' && i + 2 < size && data[i + 2] == '\n')
            after = 2;
        if (after) {
            *end = (i > 0 && data[i - 1] == '\r') ? i - 1 : i;
            *endLength = i + 1 + after - *end;
            return true;
        }
        ++i;
    }
    return false;
}

// The method's name: one of QHttpServer's (shared static data, no copy) or the bytes sent.
QByteArray internedMethod(QByteArrayView method)
{
    if (const QByteArray *known = knownHttpMethod(method))
        return *known;
    return method.toByteArray();
}

// `previous` shared when it holds the same bytes as `bytes`, else a copy of `bytes`.
QByteArray reused(const QByteArray &previous, QByteArrayView bytes)
{
    return QByteArrayView(previous) == bytes ? previous : bytes.toByteArray();
}

} // namespace

bool hasToken(QByteArrayView list, QByteArrayView token)
{
    qsizetype from = 0;
    for (;;) {
        const qsizetype comma = list.indexOf(',', from);
        const QByteArrayView part = list.sliced(from, (comma < 0 ? list.size() : comma) - from);
        if (trimmed(part).compare(token, Qt::CaseInsensitive) == 0)
            return true;
        if (comma < 0)
            return false;
        from = comma + 1;
    }
}

RequestHeadScanner::Verdict RequestHeadScanner::feed(const char *data, qsizetype size,
                                                     QList<Head> *heads)
{
    qsizetype pos = 0;
    while (pos < size && !m_failed) {
        if (m_inBody) {
            const qsizetype take = qsizetype(std::min<qint64>(m_bodyLeft, size - pos));
            m_bodyLeft -= take;
            pos += take;
            if (m_bodyLeft == 0)
                m_inBody = false;
            continue;
        }
        if (m_closed) {
            Verdict verdict;
            verdict.discardFrom = pos;
            return verdict;
        }
        // Blank lines before a request line are allowed (RFC 9112 2.2); they are part of
        // the request as far as timeouts go.
        if (m_head.isEmpty() && (data[pos] == '\r' || data[pos] == '\n')) {
            m_leadingBlank = true;
            ++pos;
            continue;
        }
        // Collect the head up to the blank line. A head that arrives whole in this chunk
        // (nearly all) is parsed where it lies, without a copy.
        const qsizetype before = m_head.size();
        const qsizetype headStart = pos - before;
        const qsizetype room = m_limits.maxHeadBytes + 4 - before;
        const qsizetype take = std::min(size - pos, room);
        QByteArrayView text(data + pos, take);
        if (before > 0) {
            m_head.append(data + pos, take);
            text = m_head;
        }
        // The head ends at the first empty line: the first LF followed by LF or CRLF
        // (QHttpServer's parser accepts bare LF line ends too, so the guard must see the
        // same boundary; searching for CRLFCRLF first would skip an earlier LFLF).
        qsizetype end = -1;
        qsizetype endLength = 0;
        if (!findHeadEnd(text, std::max<qsizetype>(0, before - 2), &end, &endLength)) {
            if (before == 0)
                m_head.append(data + pos, take);
            pos += take;
            // A terminator (at most 4 bytes) that starts within the limit would have been
            // found by now; before that, a later read may still complete a head that fits.
            if (m_head.size() >= m_limits.maxHeadBytes + 4) {
                m_failed = true;
                return {431,
                        QStringLiteral("Request head is larger than %1 bytes")
                            .arg(m_limits.maxHeadBytes),
                        headStart};
            }
            continue;
        }
        if (end > m_limits.maxHeadBytes) {
            if (before == 0)
                m_head.append(data + pos, take); // inRequest() as for a head in pieces
            m_failed = true;
            return {
                431,
                QStringLiteral("Request head is larger than %1 bytes").arg(m_limits.maxHeadBytes),
                headStart};
        }
        // Bytes of this chunk that belong after the head.
        const qsizetype used = end + endLength - before;
        pos += used;
        Head head;
        head.headBytes = end + endLength;
        Verdict verdict = parseHead(text.first(end), &head);
        m_head.clear();
        if (!verdict.status && m_admission)
            verdict = m_admission(head);
        if (verdict.status) {
            m_failed = true;
            verdict.requestStart = headStart;
            return verdict;
        }
        if (!m_framing) {
            head.fields.clear(); // only the admission check reads them
        } else {
            m_previous.target = head.target;
            m_previous.fields = head.fields;
        }
        heads->append(std::move(head));
        m_leadingBlank = false;
        m_closed = heads->constLast().closeAfterResponse;
        m_bodyLeft = heads->constLast().contentLength;
        m_inBody = m_bodyLeft > 0;
    }
    return {};
}

RequestHeadScanner::Verdict RequestHeadScanner::parseHead(QByteArrayView text, Head *head)
{
    // Lines end at LF; a CR before it is dropped.
    qsizetype next = 0;
    const auto takeLine = [&text, &next]() {
        const qsizetype lf = text.indexOf('\n', next);
        QByteArrayView line = text.sliced(next, (lf < 0 ? text.size() : lf) - next);
        next = lf < 0 ? text.size() + 1 : lf + 1;
        if (line.endsWith('\r'))
            line.chop(1);
        return line;
    };
    const QByteArrayView requestLine = takeLine();
    const qsizetype space1 = requestLine.indexOf(' ');
    const qsizetype space2 = space1 < 0 ? -1 : requestLine.indexOf(' ', space1 + 1);
    const bool threeParts = space2 >= 0 && requestLine.indexOf(' ', space2 + 1) < 0;
    const QByteArrayView method = threeParts ? requestLine.first(space1) : QByteArrayView();
    const QByteArrayView target =
        threeParts ? requestLine.sliced(space1 + 1, space2 - space1 - 1) : QByteArrayView();
    const QByteArrayView version = threeParts ? requestLine.sliced(space2 + 1) : QByteArrayView();
    if (!threeParts || !isToken(method) || target.isEmpty() || !version.startsWith("HTTP/1.") ||
        version.size() != 8 || (version[7] != '0' && version[7] != '1')) {
        return {400, QStringLiteral("Malformed request line")};
    }
    const bool http10 = version[7] == '0';
    head->closeAfterResponse = http10;
    const bool keep = m_admission || m_framing;
    if (keep) {
        head->method = internedMethod(method);
        head->target = reused(m_previous.target, target);
    }

    qsizetype lines = 0;
    for (const char *p = text.data(), *end = p + text.size();
         (p = static_cast<const char *>(std::memchr(p, '\n', size_t(end - p)))); ++p)
        ++lines;
    if (lines > QtMaxHeaderFields)
        return {431, QStringLiteral("More than %1 header fields").arg(QtMaxHeaderFields)};
    if (keep)
        head->fields.reserve(lines); // one line per field after the request line
    std::optional<qint64> contentLength;
    bool connectionUpgrade = false;
    bool upgradeWebSocket = false;
    while (next <= text.size()) {
        const QByteArrayView line = takeLine();
        if (line.size() > QtMaxHeaderFieldBytes) {
            return {431, QStringLiteral("A header field is longer than %1 bytes")
                             .arg(QtMaxHeaderFieldBytes)};
        }
        if (line.startsWith(' ') || line.startsWith('\t'))
            return {400, QStringLiteral("Obsolete header line folding is not accepted")};
        const qsizetype colon = line.indexOf(':');
        if (colon <= 0 || !isToken(line.first(colon)))
            return {400, QStringLiteral("Malformed header line")};
        const QByteArrayView name = line.first(colon);
        const QByteArrayView value = trimmed(line.sliced(colon + 1));
        if (keep) {
            // A keep-alive client sends mostly the same fields each time: the previous
            // head's bytes are shared where they are equal (no allocation).
            const qsizetype i = head->fields.size();
            const bool before = i < m_previous.fields.size();
            head->fields.append(
                {before ? reused(m_previous.fields.at(i).first, name) : name.toByteArray(),
                 before ? reused(m_previous.fields.at(i).second, value) : value.toByteArray()});
        }
        if (equalsIgnoringCase(name, "content-length")) {
            bool ok = false;
            const qint64 n = value.toLongLong(&ok);
            if (!ok || n < 0 || value.startsWith('+') || value.startsWith('-'))
                return {400, QStringLiteral("Malformed Content-Length")};
            if (contentLength && *contentLength != n)
                return {400, QStringLiteral("Conflicting Content-Length headers")};
            contentLength = n;
        } else if (equalsIgnoringCase(name, "transfer-encoding")) {
            return {411, QStringLiteral("Chunked request bodies are not accepted; send "
                                        "Content-Length")};
        } else if (equalsIgnoringCase(name, "upgrade")) {
            upgradeWebSocket = upgradeWebSocket || containsLower(value, "websocket");
        } else if (equalsIgnoringCase(name, "connection")) {
            // As loose as QHttpServer's own test (a substring, not a token).
            connectionUpgrade = connectionUpgrade || containsLower(value, "upgrade");
            if (hasToken(value, "close"))
                head->closeAfterResponse = true;
            else if (http10 && hasToken(value, "keep-alive"))
                head->closeAfterResponse = false;
        } else if (equalsIgnoringCase(name, "expect")) {
            if (value.compare("100-continue", Qt::CaseInsensitive) != 0)
                return {417, QStringLiteral("Only Expect: 100-continue is supported")};
            head->expectContinue = !http10;
        }
    }
    if (connectionUpgrade && upgradeWebSocket) {
        // QHttpServer 6.4 would hand the request to the API and then answer it a second
        // time (404) for want of a WebSocket handler.
        return {400, QStringLiteral("WebSocket upgrades are not supported")};
    }
    head->contentLength = contentLength.value_or(0);
    if (head->contentLength > m_limits.maxBodyBytes) {
        return {413,
                QStringLiteral("Request body is larger than %1 bytes").arg(m_limits.maxBodyBytes)};
    }
    return {};
}

const QByteArray *knownHttpMethod(QByteArrayView method)
{
    static const QByteArray known[] = {QByteArrayLiteral("GET"),     QByteArrayLiteral("POST"),
                                       QByteArrayLiteral("PUT"),     QByteArrayLiteral("DELETE"),
                                       QByteArrayLiteral("OPTIONS"), QByteArrayLiteral("PATCH"),
                                       QByteArrayLiteral("HEAD"),    QByteArrayLiteral("CONNECT")};
    for (const QByteArray &name : known) {
        if (method == name)
            return &name;
    }
    return nullptr;
}

} // namespace agmem
