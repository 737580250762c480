#include "logging.h"

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

} // namespace agmem
