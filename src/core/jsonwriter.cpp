#include "jsonwriter.h"

namespace agmem {

void JsonWriter::key(QStringView name)
{
    separate();
    appendString(m_out, name);
    m_out->append(':');
    m_afterKey = true;
}

void JsonWriter::key(const char *latin1Name)
{
    key(QString::fromLatin1(latin1Name));
}

void JsonWriter::value(QStringView text)
{
    separate();
    appendString(m_out, text);
}

void JsonWriter::value(const char *latin1Text)
{
    value(QString::fromLatin1(latin1Text));
}

void JsonWriter::value(qint64 number)
{
    separate();
    m_out->append(QByteArray::number(number));
}

void JsonWriter::value(bool flag)
{
    separate();
    m_out->append(flag ? "true" : "false");
}

void JsonWriter::null()
{
    separate();
    m_out->append("null");
}

void JsonWriter::raw(const QByteArray &json)
{
    separate();
    m_out->append(json);
}

void JsonWriter::appendString(QByteArray *out, QStringView text)
{
    static const char hex[] = "0123456789abcdef";
    out->append('"');
    const QByteArray utf8 = text.toUtf8();
    const char *begin = utf8.constData();
    const char *run = begin;
    const char *end = begin + utf8.size();
    for (const char *p = begin; p != end; ++p) {
        const auto c = static_cast<unsigned char>(*p);
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        out->append(run, p - run);
        run = p + 1;
        switch (c) {
        case '"':
            out->append("\\\"");
            break;
        case '\\':
            out->append("\\\\");
            break;
        case '\n':
            out->append("\\n");
            break;
        case '\r':
            out->append("\\r");
            break;
        case '\t':
            out->append("\\t");
            break;
        case '\b':
            out->append("\\b");
            break;
        case '\f':
            out->append("\\f");
            break;
        default: {
            const char escaped[] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf]};
            out->append(escaped, sizeof escaped);
        }
        }
    }
    out->append(run, end - run);
    out->append('"');
}

} // namespace agmem
