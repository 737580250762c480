#include "sqldialect.h"

#include "core/jsonwriter.h"
#include "core/timestamp.h"

#include <QJsonArray>
#include <QJsonDocument>

#include <optional>

namespace agmem {

namespace {

// A JSON array of strings as JsonWriter writes it (compact, UTF-8), decoded without a
// QJsonDocument: a fact hash is ASCII and holds no escape, so each becomes a QString
// straight from its bytes. Anything else (an escape, spaces, a malformed value) gives
// nullopt and the caller takes the general parser.
std::optional<QStringList> decodeCompactJsonStrings(QByteArrayView in)
{
    const char *p = in.data();
    const char *const end = p + in.size();
    if (p == end || *p != '[')
        return std::nullopt;
    ++p;
    QStringList values;
    if (p != end && *p == ']')
        return ++p == end ? std::optional<QStringList>(std::move(values)) : std::nullopt;
    // A first guess from the length (64-character hashes and their quotes and comma).
    values.reserve(in.size() / 67 + 1);
    while (p != end) {
        if (*p != '"')
            return std::nullopt;
        const char *const start = ++p;
        bool ascii = true;
        while (p != end && *p != '"') {
            const unsigned char c = static_cast<unsigned char>(*p);
            if (c == '\\' || c < 0x20)
                return std::nullopt;
            if (c >= 0x80)
                ascii = false;
            ++p;
        }
        if (p == end)
            return std::nullopt;
        const qsizetype length = p - start;
        values.append(ascii ? QString::fromLatin1(start, length)
                            : QString::fromUtf8(start, length));
        ++p; // closing quote
        if (p == end)
            return std::nullopt;
        if (*p == ']')
            return ++p == end ? std::optional<QStringList>(std::move(values)) : std::nullopt;
        if (*p != ',')
            return std::nullopt;
        ++p;
    }
    return std::nullopt;
}

} // namespace

QString SqlDialect::driver() const
{
    return m_postgres ? QStringLiteral("QPSQL") : QStringLiteral("QSQLITE");
}

QString SqlDialect::sql(QString statement) const
{
    if (m_postgres) {
        statement.replace(QLatin1String("{PK}"), QLatin1String("BIGSERIAL PRIMARY KEY"));
        statement.replace(QLatin1String("{JSON}"), QLatin1String("JSONB"));
        statement.replace(QLatin1String("{TEXT_ARRAY}"), QLatin1String("TEXT[]"));
        statement.replace(QLatin1String("{TIMESTAMPTZ}"), QLatin1String("TIMESTAMPTZ"));
        statement.replace(QLatin1String("{GREATEST}"), QLatin1String("GREATEST"));
        statement.replace(QLatin1String("?json"), QLatin1String("CAST(? AS JSONB)"));
        statement.replace(QLatin1String("?array"), QLatin1String("CAST(? AS TEXT[])"));
        statement.replace(QLatin1String("?ts"), QLatin1String("CAST(? AS TIMESTAMPTZ)"));
    } else {
        statement.replace(QLatin1String("{PK}"),
                          QLatin1String("INTEGER PRIMARY KEY AUTOINCREMENT"));
        statement.replace(QLatin1String("{JSON}"), QLatin1String("TEXT"));
        statement.replace(QLatin1String("{TEXT_ARRAY}"), QLatin1String("TEXT"));
        statement.replace(QLatin1String("{TIMESTAMPTZ}"), QLatin1String("TEXT"));
        statement.replace(QLatin1String("{GREATEST}"), QLatin1String("MAX"));
        statement.replace(QLatin1String("?json"), QLatin1String("?"));
        statement.replace(QLatin1String("?array"), QLatin1String("?"));
        statement.replace(QLatin1String("?ts"), QLatin1String("?"));
    }
    return statement;
}

QString SqlDialect::beginWrite() const
{
    // SQLite: take the write lock at once, so a second writer waits (busy timeout)
    // instead of failing when it upgrades a read lock.
    return m_postgres ? QStringLiteral("BEGIN") : QStringLiteral("BEGIN IMMEDIATE");
}

QString SqlDialect::encodeTextArray(const QStringList &values) const
{
    return QString::fromUtf8(encodeTextArrayUtf8(values));
}

QByteArray SqlDialect::encodeTextArrayUtf8(const QStringList &values) const
{
    QByteArray out;
    if (m_postgres) {
        // PostgreSQL array literal: {"a","b"} with " and \ escaped.
        out.append('{');
        bool first = true;
        for (const QString &v : values) {
            if (!first)
                out.append(',');
            first = false;
            out.append('"');
            QByteArray utf8 = v.toUtf8();
            utf8.replace('\\', "\\\\").replace('"', "\\\"");
            out.append(utf8);
            out.append('"');
        }
        out.append('}');
        return out;
    }
    qsizetype size = 2;
    for (const QString &v : values)
        size += v.size() + 3;
    out.reserve(size);
    out.append('[');
    for (qsizetype i = 0; i < values.size(); ++i) {
        if (i)
            out.append(',');
        JsonWriter::appendString(&out, values.at(i));
    }
    out.append(']');
    return out;
}

QStringList SqlDialect::decodeTextArray(const QString &stored) const
{
    QStringList values;
    if (stored.isEmpty())
        return values;
    if (m_postgres) {
        // {a,"b c","d\"e"} as PostgreSQL prints it.
        QStringView s(stored);
        if (s.startsWith(u'{'))
            s = s.mid(1);
        if (s.endsWith(u'}'))
            s.chop(1);
        // Plain items are copied whole; only quoted ones with escapes go unit by unit.
        values.reserve(s.size() / 67 + 1);
        qsizetype i = 0;
        while (i < s.size()) {
            if (s[i] == u'"') {
                const qsizetype start = ++i;
                while (i < s.size() && s[i] != u'"' && s[i] != u'\\')
                    ++i;
                QString item = s.sliced(start, i - start).toString();
                while (i < s.size() && s[i] != u'"') {
                    if (s[i] == u'\\' && i + 1 < s.size())
                        ++i;
                    item.append(s[i++]);
                }
                values.append(std::move(item));
                ++i; // closing quote
            } else {
                qsizetype end = s.indexOf(u',', i);
                if (end < 0)
                    end = s.size();
                values.append(s.sliced(i, end - i).toString());
                i = end;
            }
            ++i; // comma
        }
        return values;
    }
    const QJsonArray array = QJsonDocument::fromJson(stored.toUtf8()).array();
    values.reserve(array.size());
    for (const QJsonValue &v : array)
        values.append(v.toString());
    return values;
}

QString SqlDialect::textArrayColumn(const QString &column) const
{
    return m_postgres ? column : QStringLiteral("CAST(%1 AS BLOB)").arg(column);
}

QStringList SqlDialect::decodeTextArray(const QVariant &stored) const
{
    if (stored.typeId() == QMetaType::QByteArray) {
        const QByteArray bytes = stored.toByteArray();
        if (bytes.isEmpty())
            return {};
        if (!m_postgres) {
            if (std::optional<QStringList> values = decodeCompactJsonStrings(bytes))
                return std::move(*values);
        }
        return decodeTextArray(QString::fromUtf8(bytes));
    }
    return decodeTextArray(stored.toString());
}

QString SqlDialect::encodeTimestamp(qint64 instantUs) const
{
    return formatIsoTimestamp(instantUs);
}

QByteArray SqlDialect::encodeTimestampUtf8(qint64 instantUs) const
{
    char text[IsoTimestampMaxSize];
    return QByteArray(text, formatIsoTimestamp(instantUs, text));
}

} // namespace agmem
