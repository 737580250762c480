#pragma once

#include "summary.h"
#include "summarylimits.h"

#include <QByteArray>
#include <QJsonArray>
#include <QList>
#include <QString>

namespace agmem {

// One offending field, in the shape FastAPI/pydantic use: {"loc": [...], "msg", "type"}.
struct FieldError
{
    QJsonArray loc;
    QString msg;
    QString type;
};

struct ParseOutcome
{
    enum class Status
    {
        Ok,
        BadEncoding,  // 400: body is not UTF-8
        Invalid,      // 422: errors lists every offending field
        BadTimestamp, // 400: everything else valid, timestamp not ISO 8601
    };

    Status status = Status::Ok;
    Summary summary;
    QList<FieldError> errors;
    // For 400 answers: the reference's message.
    QString detail;

    bool ok() const { return status == Status::Ok; }
};

// Validates a push body ({"summary": {...}}) against the wire contract described in
// docs/api.md: strict about types (a count is a non-negative 64-bit integer, an id a
// non-empty string), lenient about content (fact "hashes" may be any label).
class SummaryParser
{
public:
    explicit SummaryParser(const SummaryLimits &limits = {})
        : m_limits(limits)
    {}

    ParseOutcome parse(const QByteArray &body) const;
    // The same without parse()'s fast path for common bodies: every body through
    // QJsonDocument. parse() gives the same outcome for every body (the tests compare).
    ParseOutcome parseGeneral(const QByteArray &body) const;

    // At most this many errors are listed in one answer; a final entry says how many more.
    static constexpr int MaxListedErrors = 20;
    static inline const QString InvalidTimestampDetail =
        QStringLiteral("Invalid timestamp format (expected ISO 8601)");

private:
    SummaryLimits m_limits;
};

} // namespace agmem
