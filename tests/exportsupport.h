#pragma once

// Reading what store/exporter.h writes, strictly, for the export tests (store, app, gui):
// RFC 4180 CSV and JSON lines.

#include <QByteArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QJsonParseError>
#include <QList>
#include <QString>
#include <QStringList>

#include <optional>

namespace agmem::test {

// Parses CSV as RFC 4180 says, strictly: records end with CRLF (the last one too), a field
// is either unquoted (no comma, quote, CR or LF in it) or quoted with quotes doubled inside.
// nullopt (and `why`) on anything else. Decodes UTF-8.
inline std::optional<QList<QStringList>> parseCsv(const QByteArray &bytes, QString *why = nullptr)
{
    const auto fail = [why](const QString &reason, qsizetype at) {
        if (why)
            *why = QStringLiteral("%1 at byte %2").arg(reason).arg(at);
        return std::nullopt;
    };
    QList<QStringList> records;
    QStringList record;
    QByteArray field;
    qsizetype i = 0;
    const qsizetype n = bytes.size();
    while (i < n) {
        // One field.
        field.clear();
        if (bytes.at(i) == '"') {
            ++i;
            while (true) {
                if (i >= n)
                    return fail(QStringLiteral("unterminated quoted field"), i);
                if (bytes.at(i) == '"') {
                    if (i + 1 < n && bytes.at(i + 1) == '"') {
                        field.append('"');
                        i += 2;
                        continue;
                    }
                    ++i;
                    break;
                }
                field.append(bytes.at(i++));
            }
        } else {
            while (i < n && bytes.at(i) != ',' && bytes.at(i) != '\r') {
                if (bytes.at(i) == '"' || bytes.at(i) == '\n')
                    return fail(QStringLiteral("quote or LF in an unquoted field"), i);
                field.append(bytes.at(i++));
            }
        }
        const QString text = QString::fromUtf8(field);
        if (text.toUtf8() != field)
            return fail(QStringLiteral("not UTF-8"), i);
        record.append(text);
        if (i < n && bytes.at(i) == ',') {
            ++i;
            if (i == n)
                return fail(QStringLiteral("a comma at the end"), i);
            continue;
        }
        if (i + 1 < n && bytes.at(i) == '\r' && bytes.at(i + 1) == '\n') {
            i += 2;
            records.append(record);
            record.clear();
            continue;
        }
        return fail(QStringLiteral("a record does not end with CRLF"), i);
    }
    if (!record.isEmpty())
        return fail(QStringLiteral("the last record does not end with CRLF"), i);
    return records;
}

// What the exporter writes for user text in CSV: a leading apostrophe before = + - @ TAB CR.
inline QString csvGuarded(const QString &text)
{
    if (!text.isEmpty() && QStringView(u"=+-@\t\r").contains(text.front()))
        return u'\'' + text;
    return text;
}

// Every line a JSON object; the file ends with a newline. nullopt (and `why`) otherwise.
inline std::optional<QList<QJsonObject>> parseJsonLines(const QByteArray &bytes,
                                                        QString *why = nullptr)
{
    QList<QJsonObject> objects;
    if (bytes.isEmpty())
        return objects;
    if (!bytes.endsWith('\n')) {
        if (why)
            *why = QStringLiteral("no newline at the end");
        return std::nullopt;
    }
    const QList<QByteArray> lines = bytes.left(bytes.size() - 1).split('\n');
    for (qsizetype i = 0; i < lines.size(); ++i) {
        QJsonParseError error;
        const QJsonDocument doc = QJsonDocument::fromJson(lines.at(i), &error);
        if (error.error != QJsonParseError::NoError || !doc.isObject()) {
            if (why)
                *why = QStringLiteral("line %1: %2").arg(i + 1).arg(error.errorString());
            return std::nullopt;
        }
        objects.append(doc.object());
    }
    return objects;
}

} // namespace agmem::test
