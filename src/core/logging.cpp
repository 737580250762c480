#include "logging.h"

#include <cstdio>
#include <ctime>

Q_LOGGING_CATEGORY(lcCore, "agmem.core", QtInfoMsg)
Q_LOGGING_CATEGORY(lcStore, "agmem.store", QtInfoMsg)
Q_LOGGING_CATEGORY(lcServer, "agmem.server", QtInfoMsg)
Q_LOGGING_CATEGORY(lcAccess, "agmem.access", QtInfoMsg)
Q_LOGGING_CATEGORY(lcApp, "agmem.app", QtInfoMsg)
Q_LOGGING_CATEGORY(lcGui, "agmem.gui", QtInfoMsg)

namespace agmem {

QString logSafe(QStringView text)
{
    const auto needsEscape = [](char16_t c) {
        return c < 0x20 || c == u'\\' || (c >= 0x7f && c <= 0x9f) || c == 0x2028 || c == 0x2029;
    };
    qsizetype first = 0;
    while (first < text.size() && !needsEscape(text[first].unicode()))
        ++first;
    if (first == text.size())
        return text.toString();
    QString out;
    out.reserve(text.size() + 16);
    out += text.first(first);
    for (qsizetype i = first; i < text.size(); ++i) {
        const char16_t c = text[i].unicode();
        if (!needsEscape(c)) {
            out += QChar(c);
            continue;
        }
        switch (c) {
        case u'\\':
            out += QLatin1String("\\\\");
            break;
        case u'\n':
            out += QLatin1String("\\n");
            break;
        case u'\r':
            out += QLatin1String("\\r");
            break;
        case u'\t':
            out += QLatin1String("\\t");
            break;
        default:
            if (c <= 0xff)
                out += QStringLiteral("\\x%1").arg(unsigned(c), 2, 16, QLatin1Char('0'));
            else
                out += QStringLiteral("\\u%1").arg(unsigned(c), 4, 16, QLatin1Char('0'));
        }
    }
    return out;
}

void appendLogSafeUtf8(QByteArray &out, QStringView text)
{
    // Printable ASCII (the usual client address and path) goes over as it is.
    for (const QChar c : text) {
        const char16_t u = c.unicode();
        if (u < 0x20 || u >= 0x7f || u == u'\\') {
            out += logSafe(text).toUtf8();
            return;
        }
    }
    const qsizetype at = out.size();
    out.resize(at + text.size());
    char *to = out.data() + at;
    for (const QChar c : text)
        *to++ = char(c.unicode());
}

void appendLogTime(QByteArray &out)
{
    struct SecondText
    {
        std::time_t second = -1;
        char text[24] = {};
        int length = 0;
    };
    thread_local SecondText cache;
    std::timespec now{};
    std::timespec_get(&now, TIME_UTC);
    if (now.tv_sec != cache.second) {
        std::tm local{};
#ifdef Q_OS_WIN
        _tzset();
        localtime_s(&local, &now.tv_sec);
#else
        // tzset() looks at TZ and /etc/localtime again (localtime_r alone would not).
        tzset();
        localtime_r(&now.tv_sec, &local);
#endif
        cache.length = std::snprintf(cache.text, sizeof cache.text, "%04d-%02d-%02dT%02d:%02d:%02d",
                                     local.tm_year + 1900, local.tm_mon + 1, local.tm_mday,
                                     local.tm_hour, local.tm_min, local.tm_sec);
        cache.second = now.tv_sec;
    }
    const int ms = int(now.tv_nsec / 1000000);
    const char tail[4] = {'.', char('0' + ms / 100), char('0' + ms / 10 % 10), char('0' + ms % 10)};
    out.append(cache.text, cache.length);
    out.append(tail, 4);
}

} // namespace agmem
