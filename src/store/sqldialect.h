#pragma once

#include "storeurl.h"

#include <QString>
#include <QStringList>
#include <QVariant>

namespace agmem {

// Every difference between the SQL of SQLite and PostgreSQL lives here, so the store's
// statements are written once.
class SqlDialect
{
public:
    explicit SqlDialect(StoreUrl::Kind kind)
        : m_postgres(kind == StoreUrl::Kind::PostgreSql)
    {}

    bool isPostgres() const { return m_postgres; }
    QString driver() const;

    // Replaces {PK} {JSON} {TEXT_ARRAY} {TIMESTAMPTZ} {GREATEST} in a statement, and the
    // placeholders ?json ?array ?ts with casts where the database needs them.
    QString sql(QString statement) const;

    QString beginWrite() const;

    // Encodes a list of strings as a value for a {TEXT_ARRAY} column, and back.
    QString encodeTextArray(const QStringList &values) const;
    // The same as UTF-8 bytes.
    QByteArray encodeTextArrayUtf8(const QStringList &values) const;
    QStringList decodeTextArray(const QString &stored) const;
    // The column as the loads read it: SQLite hands TEXT over as UTF-16 (a conversion and
    // a copy of every byte), so its arrays are read as BLOB, the stored UTF-8 bytes, and
    // decoded by decodeTextArray(const QVariant &).
    QString textArrayColumn(const QString &column) const;
    // A value read through textArrayColumn() (or the column itself).
    QStringList decodeTextArray(const QVariant &stored) const;

    // A timestamp value for a {TIMESTAMPTZ} column.
    QString encodeTimestamp(qint64 instantUs) const;
    // The same text in UTF-8, without a QString between (the direct SQLite push path).
    QByteArray encodeTimestampUtf8(qint64 instantUs) const;

private:
    bool m_postgres;
};

} // namespace agmem
