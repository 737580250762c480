#include "requestheadscanner.h"

#include <optional>

namespace agmem {

namespace {

bool isTokenChar(char c)
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

bool hasToken(QByteArrayView list, QByteArrayView token)
{
    for (const QByteArray &part : list.toByteArray().split(',')) {
        if (part.trimmed().compare(token, Qt::CaseInsensitive) == 0)
            return true;
    }
    return false;
}

} // namespace

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
        // Collect the head up to the blank line.
        const qsizetype before = m_head.size();
        const qsizetype headStart = pos - before;
        const qsizetype room = m_limits.maxHeadBytes + 4 - before;
        const qsizetype take = std::min(size - pos, room);
        m_head.append(data + pos, take);
        // The head ends at the first empty line: the first LF followed by LF or CRLF
        // (QHttpServer's parser accepts bare LF line ends too, so the guard must see the
        // same boundary; searching for CRLFCRLF first would skip an earlier LFLF).
        qsizetype end = -1;
        qsizetype endLength = 0;
        for (qsizetype i = std::max<qsizetype>(0, before - 2); i + 1 < m_head.size(); ++i) {
            if (m_head.at(i) != '\n')
                continue;
            qsizetype after = 0;
            if (m_head.at(i + 1) == '\n')
                after = 1;
            else if (m_head.at(i + 1) == '\r' && i + 2 < m_head.size() && m_head.at(i + 2) == '\n')
                after = 2;
            else
                continue;
            end = (i > 0 && m_head.at(i - 1) == '\r') ? i - 1 : i;
            endLength = i + 1 + after - end;
            break;
        }
        if (end < 0) {
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
            m_failed = true;
            return {
                431,
                QStringLiteral("Request head is larger than %1 bytes").arg(m_limits.maxHeadBytes),
                headStart};
        }
        // Bytes of this chunk that belong after the head.
        const qsizetype used = end + endLength - before;
        pos += used;
        m_head.truncate(end);
        Head head;
        Verdict verdict = parseHead(&head);
        m_head.clear();
        if (!verdict.status && m_admission)
            verdict = m_admission(head);
        if (verdict.status) {
            m_failed = true;
            verdict.requestStart = headStart;
            return verdict;
        }
        head.fields.clear(); // only the admission check reads them
        heads->append(head);
        m_leadingBlank = false;
        m_closed = head.closeAfterResponse;
        m_bodyLeft = head.contentLength;
        m_inBody = m_bodyLeft > 0;
    }
    return {};
}

RequestHeadScanner::Verdict RequestHeadScanner::parseHead(Head *head) const
{
    QList<QByteArray> lines = m_head.split('\n');
    for (QByteArray &line : lines) {
        if (line.endsWith('\r'))
            line.chop(1);
    }
    const QList<QByteArray> requestLine = lines.first().split(' ');
    if (requestLine.size() != 3 || !isToken(requestLine[0]) || requestLine[1].isEmpty() ||
        !requestLine[2].startsWith("HTTP/1.") || requestLine[2].size() != 8 ||
        (requestLine[2][7] != '0' && requestLine[2][7] != '1')) {
        return {400, QStringLiteral("Malformed request line")};
    }
    const bool http10 = requestLine[2][7] == '0';
    head->closeAfterResponse = http10;
    if (m_admission) {
        head->method = requestLine[0];
        head->target = requestLine[1];
    }

    if (lines.size() - 1 > QtMaxHeaderFields) {
        return {431, QStringLiteral("More than %1 header fields").arg(QtMaxHeaderFields)};
    }
    std::optional<qint64> contentLength;
    bool connectionUpgrade = false;
    bool upgradeWebSocket = false;
    for (qsizetype i = 1; i < lines.size(); ++i) {
        const QByteArray &line = lines.at(i);
        if (line.size() > QtMaxHeaderFieldBytes) {
            return {431, QStringLiteral("A header field is longer than %1 bytes")
                             .arg(QtMaxHeaderFieldBytes)};
        }
        if (line.startsWith(' ') || line.startsWith('\t'))
            return {400, QStringLiteral("Obsolete header line folding is not accepted")};
        const qsizetype colon = line.indexOf(':');
        if (colon <= 0 || !isToken(QByteArrayView(line).first(colon)))
            return {400, QStringLiteral("Malformed header line")};
        const QByteArrayView name = QByteArrayView(line).first(colon);
        const QByteArray value = line.mid(colon + 1).trimmed();
        if (m_admission)
            head->fields.append({name.toByteArray(), value});
        if (name.compare("content-length", Qt::CaseInsensitive) == 0) {
            bool ok = false;
            const qint64 n = value.toLongLong(&ok);
            if (!ok || n < 0 || value.startsWith('+') || value.startsWith('-'))
                return {400, QStringLiteral("Malformed Content-Length")};
            if (contentLength && *contentLength != n)
                return {400, QStringLiteral("Conflicting Content-Length headers")};
            contentLength = n;
        } else if (name.compare("transfer-encoding", Qt::CaseInsensitive) == 0) {
            return {411, QStringLiteral("Chunked request bodies are not accepted; send "
                                        "Content-Length")};
        } else if (name.compare("upgrade", Qt::CaseInsensitive) == 0) {
            upgradeWebSocket = upgradeWebSocket || value.toLower().contains("websocket");
        } else if (name.compare("connection", Qt::CaseInsensitive) == 0) {
            // As loose as QHttpServer's own test (a substring, not a token).
            connectionUpgrade = connectionUpgrade || value.toLower().contains("upgrade");
            if (hasToken(value, "close"))
                head->closeAfterResponse = true;
            else if (http10 && hasToken(value, "keep-alive"))
                head->closeAfterResponse = false;
        } else if (name.compare("expect", Qt::CaseInsensitive) == 0) {
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

} // namespace agmem
