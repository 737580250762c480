#include "sqldialect.h"

#include "core/jsonwriter.h"
#include "core/timestamp.h"

#include <QJsonArray>
#include <QJsonDocument>

namespace agmem {

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
        return QString::fromUtf8(out);
    }
    JsonWriter json(&out);
    json.beginArray();
    for (const QString &v : values)
        json.value(v);
    json.endArray();
    return QString::fromUtf8(out);
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
        qsizetype i = 0;
        while (i < s.size()) {
            QString item;
            if (s[i] == u'"') {
                ++i;
                while (i < s.size() && s[i] != u'"') {
                    if (s[i] == u'\\' && i + 1 < s.size())
                        ++i;
                    item.append(s[i++]);
                }
                ++i; // closing quote
            } else {
                while (i < s.size() && s[i] != u',')
                    item.append(s[i++]);
            }
            values.append(item);
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

QString SqlDialect::encodeTimestamp(qint64 instantUs) const
{
    return formatIsoTimestamp(instantUs);
}

} // namespace agmem
