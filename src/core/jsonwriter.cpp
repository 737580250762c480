#include "jsonwriter.h"

#include <charconv>
#include <cstring>

namespace agmem {

namespace {

constexpr char Hex[] = "0123456789abcdef";

// Whether an ASCII character must be escaped in a JSON string.
constexpr bool needsEscape(unsigned c)
{
    return c < 0x20 || c == '"' || c == '\\';
}

// The bytes an escaped ASCII character takes: \n, \" and the like, else \u00XX.
constexpr qsizetype escapedSize(unsigned c)
{
    switch (c) {
    case '"':
    case '\\':
    case '\n':
    case '\r':
    case '\t':
    case '\b':
    case '\f':
        return 2;
    default:
        return 6;
    }
}

// Writes the escape of an ASCII character at `d`; returns the end.
char *writeEscaped(char *d, unsigned c)
{
    *d++ = '\\';
    switch (c) {
    case '"':
        *d++ = '"';
        break;
    case '\\':
        *d++ = '\\';
        break;
    case '\n':
        *d++ = 'n';
        break;
    case '\r':
        *d++ = 'r';
        break;
    case '\t':
        *d++ = 't';
        break;
    case '\b':
        *d++ = 'b';
        break;
    case '\f':
        *d++ = 'f';
        break;
    default:
        *d++ = 'u';
        *d++ = '0';
        *d++ = '0';
        *d++ = Hex[c >> 4];
        *d++ = Hex[c & 0xf];
    }
    return d;
}

// Appends `size` ASCII characters (char or char16_t, all below 0x80) as a JSON string,
// `extra` being the bytes their escapes add: sized once, written in place.
template <typename Char>
void appendAscii(QByteArray *out, const Char *text, qsizetype size, qsizetype extra)
{
    const qsizetype at = out->size();
    out->resize(at + size + extra + 2);
    char *d = out->data() + at;
    *d++ = '"';
    if (extra == 0) {
        for (qsizetype i = 0; i < size; ++i)
            d[i] = char(text[i]);
        d += size;
    } else {
        for (qsizetype i = 0; i < size; ++i) {
            const auto c = unsigned(text[i]);
            if (needsEscape(c))
                d = writeEscaped(d, c);
            else
                *d++ = char(c);
        }
    }
    *d = '"';
}

// The escapes' extra bytes of ASCII text, or -1 when some character is not ASCII.
template <typename Char>
qsizetype asciiEscapeExtra(const Char *text, qsizetype size)
{
    qsizetype extra = 0;
    for (qsizetype i = 0; i < size; ++i) {
        const auto c = unsigned(text[i]);
        if (c >= 0x80)
            return -1;
        if (needsEscape(c))
            extra += escapedSize(c) - 1;
    }
    return extra;
}

// Any text: through UTF-8 as QString::toUtf8() converts it (a lone surrogate becomes
// what toUtf8 makes of it), escaping the ASCII characters JSON requires.
void appendUtf8(QByteArray *out, QStringView text)
{
    out->append('"');
    const QByteArray utf8 = text.toUtf8();
    const char *begin = utf8.constData();
    const char *run = begin;
    const char *end = begin + utf8.size();
    for (const char *p = begin; p != end; ++p) {
        const auto c = static_cast<unsigned char>(*p);
        if (!needsEscape(c))
            continue;
        out->append(run, p - run);
        run = p + 1;
        char escaped[6];
        out->append(escaped, writeEscaped(escaped, c) - escaped);
    }
    out->append(run, end - run);
    out->append('"');
}

// A NUL-terminated Latin-1 string.
void appendLatin1(QByteArray *out, const char *text)
{
    if (!text)
        text = ""; // as QString::fromLatin1(nullptr) was
    const qsizetype size = qsizetype(std::strlen(text));
    const qsizetype extra = asciiEscapeExtra(text, size);
    if (extra >= 0)
        appendAscii(out, text, size, extra);
    else
        appendUtf8(out, QString::fromLatin1(text, size));
}

} // namespace

void JsonWriter::key(QStringView name)
{
    separate();
    appendString(m_out, name);
    m_out->append(':');
    m_afterKey = true;
}

void JsonWriter::key(const char *latin1Name)
{
    separate();
    appendLatin1(m_out, latin1Name);
    m_out->append(':');
    m_afterKey = true;
}

void JsonWriter::value(QStringView text)
{
    separate();
    appendString(m_out, text);
}

void JsonWriter::value(const char *latin1Text)
{
    separate();
    appendLatin1(m_out, latin1Text);
}

void JsonWriter::value(qint64 number)
{
    separate();
    char digits[24];
    const std::to_chars_result r = std::to_chars(digits, digits + sizeof digits, number);
    m_out->append(digits, r.ptr - digits);
}

void JsonWriter::value(bool flag)
{
    separate();
    m_out->append(flag ? QByteArrayView("true") : QByteArrayView("false"));
}

void JsonWriter::timestamp(Instant instant)
{
    separate();
    appendTimestamp(m_out, instant);
}

void JsonWriter::null()
{
    separate();
    m_out->append(QByteArrayView("null"));
}

void JsonWriter::raw(const QByteArray &json)
{
    separate();
    m_out->append(json);
}

void JsonWriter::appendString(QByteArray *out, QStringView text)
{
    const qsizetype extra = asciiEscapeExtra(text.utf16(), text.size());
    if (extra >= 0)
        appendAscii(out, text.utf16(), text.size(), extra);
    else
        appendUtf8(out, text);
}

void JsonWriter::appendTimestamp(QByteArray *out, Instant instant)
{
    // Digits, '-', 'T', ':', '.' and '+': nothing to escape.
    const qsizetype at = out->size();
    out->resize(at + IsoTimestampMaxSize + 2);
    char *d = out->data() + at;
    *d++ = '"';
    d += formatIsoTimestamp(instant, d);
    *d++ = '"';
    out->resize(d - out->constData());
}

} // namespace agmem
