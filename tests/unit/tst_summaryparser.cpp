#include "core/summaryparser.h"

#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QRandomGenerator>
#include <QStandardPaths>
#include <QTimeZone>
#include <QtTest>

#include <algorithm>
#include <limits>

using namespace Qt::StringLiterals;
using agmem::FieldError;
using agmem::Instant;
using agmem::ParseOutcome;
using agmem::SummaryLimits;
using agmem::SummaryParser;

namespace {

using Status = ParseOutcome::Status;

// A valid agent_id and timestamp, to put in front of the fields a row is about.
constexpr char ValidHead[] = R"("agent_id": "agent-1", "timestamp": "2025-01-01T00:00:00+00:00")";

QByteArray envelope(const QByteArray &fields)
{
    return QByteArrayLiteral(R"({"summary": {)") + fields + QByteArrayLiteral("}}");
}

// {"summary": {<valid agent_id and timestamp>, <extra>}}
QByteArray withHead(const QByteArray &extra)
{
    QByteArray fields(ValidHead);
    if (!extra.isEmpty())
        fields += QByteArrayLiteral(", ") + extra;
    return envelope(fields);
}

QByteArray quoted(const QByteArray &text)
{
    return '"' + text + '"';
}

// The marker for an error whose loc is ["body", <offset of the JSON syntax error>].
const QString JsonDecodeError = u"<json decode error>"_s;

// "<loc as compact JSON> <type>", the form the tables list expected errors in.
QString describe(const FieldError &error)
{
    return QString::fromUtf8(QJsonDocument(error.loc).toJson(QJsonDocument::Compact)) + u' ' +
           error.type;
}

QStringList sorted(QStringList list)
{
    std::sort(list.begin(), list.end());
    return list;
}

QString errorDump(const QList<FieldError> &errors)
{
    QStringList lines;
    for (const FieldError &e : errors)
        lines << describe(e) + u" (" + e.msg + u')';
    return lines.join(u"; ");
}

Instant utcInstant(int year, int month, int day, int hour = 0, int minute = 0, int second = 0,
                   int microsecond = 0)
{
    const QDateTime dt(QDate(year, month, day), QTime(hour, minute, second), QTimeZone::utc());
    return dt.toMSecsSinceEpoch() * 1000 + microsecond;
}

QByteArray factList(int count, int length = 1)
{
    QByteArray out("[");
    for (int i = 0; i < count; ++i) {
        if (i)
            out += ',';
        QByteArray fact = 'f' + QByteArray::number(i);
        if (fact.size() < length)
            fact += QByteArray(length - fact.size(), 'x');
        out += quoted(fact);
    }
    return out + ']';
}

QByteArray topicObject(int count)
{
    QByteArray out("{");
    for (int i = 0; i < count; ++i) {
        if (i)
            out += ',';
        out += quoted('t' + QByteArray::number(i)) + ':' + QByteArray::number(i);
    }
    return out + '}';
}

QByteArray stringArray(int count)
{
    QByteArray out("[");
    for (int i = 0; i < count; ++i) {
        if (i)
            out += ',';
        out += QByteArrayLiteral("\"m\"");
    }
    return out + ']';
}

// The bytes of the real agmem client's push body (after the blank line of the HTTP request).
QByteArray clientPushBody()
{
    QFile file(QStringLiteral(AGMEM_SOURCE_DIR "/tests/data/client-push.http"));
    if (!file.open(QIODevice::ReadOnly))
        return {};
    const QByteArray request = file.readAll();
    const qsizetype split = request.indexOf("\r\n\r\n");
    if (split >= 0)
        return request.mid(split + 4);
    const qsizetype lf = request.indexOf("\n\n");
    return lf >= 0 ? request.mid(lf + 2) : QByteArray();
}

} // namespace

class TstSummaryParser : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();

    void validationTable_data();
    void validationTable();
    void acceptedTimestamps_data();
    void acceptedTimestamps();
    void clientPushExtracted();
    void limits_data();
    void limits();
    void duplicateFactsRemoved();
    void metadataAndMemoryTypesStored();
    void unknownFieldsIgnored();
    void errorListIsCapped_data();
    void errorListIsCapped();
    void errorsHoldNoLargeExcerpt_data();
    void errorsHoldNoLargeExcerpt();
    void loneSurrogatesRejected_data();
    void loneSurrogatesRejected();
    void int64Bounds_data();
    void int64Bounds();
    void fastPathSameAsGeneral();
    void fastPathEveryByteInStrings();
};

void TstSummaryParser::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
    QVERIFY2(!clientPushBody().isEmpty(), "tests/data/client-push.http not readable");
}

// Every row of the validation table: the status, and for 422 every offending field with its
// exact loc and type, nothing more and nothing less.
void TstSummaryParser::validationTable_data()
{
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<int>("status");
    QTest::addColumn<QStringList>("errors");

    const auto ok = [](const char *name, const QByteArray &body) {
        QTest::addRow("%s", name) << body << int(Status::Ok) << QStringList();
    };
    const auto invalid = [](const char *name, const QByteArray &body, const QStringList &errors) {
        QTest::addRow("%s", name) << body << int(Status::Invalid) << errors;
    };
    const auto badTimestamp = [](const char *name, const QByteArray &body) {
        QTest::addRow("%s", name) << body << int(Status::BadTimestamp) << QStringList();
    };
    const auto badEncoding = [](const char *name, const QByteArray &body) {
        QTest::addRow("%s", name) << body << int(Status::BadEncoding) << QStringList();
    };
    const QString missingEnvelope = uR"(["body","summary"] value_error.missing)"_s;
    const QString missingAgent = uR"(["body","summary","agent_id"] value_error.missing)"_s;
    const QString missingTimestamp = uR"(["body","summary","timestamp"] value_error.missing)"_s;
    const auto count = [](const char *topic, const char *type) {
        return uR"(["body","summary","topic_counts","%1"] %2)"_s.arg(QLatin1String(topic),
                                                                     QLatin1String(type));
    };
    const auto fact = [](int index, const char *type) {
        return uR"(["body","summary","fact_hashes",%1] %2)"_s.arg(index).arg(QLatin1String(type));
    };

    // Accepted.
    ok("real client push", clientPushBody());
    ok("minimal", envelope(ValidHead));
    ok("topic_counts and fact_hashes missing", withHead({}));
    ok("topic_counts missing", withHead(R"("fact_hashes": ["a"])"));
    ok("fact_hashes missing", withHead(R"("topic_counts": {"a": 1})"));
    ok("empty topic_counts and fact_hashes", withHead(R"("topic_counts": {}, "fact_hashes": [])"));
    ok("count 0", withHead(R"("topic_counts": {"a": 0})"));
    ok("date only", envelope(R"("agent_id": "a", "timestamp": "2025-01-01")"));
    ok("Z suffix", envelope(R"("agent_id": "a", "timestamp": "2025-01-01T00:00:00Z")"));
    ok("space separator", envelope(R"("agent_id": "a", "timestamp": "2025-01-01 00:00:00")"));
    ok("basic format", envelope(R"("agent_id": "a", "timestamp": "20250101T000000Z")"));
    ok("whitespace around the body", "\r\n\t " + withHead({}) + " \n");

    // Not JSON at all, or no envelope.
    invalid("empty body", QByteArray(), {uR"(["body"] value_error.missing)"_s});
    invalid("whitespace body", " \r\n\t", {uR"(["body"] value_error.missing)"_s});
    invalid("null body", "null", {uR"(["body"] value_error.missing)"_s});
    invalid("null body with whitespace", " null\n", {uR"(["body"] value_error.missing)"_s});
    invalid("malformed: truncated", R"({"summary": {"agent_id": "a")", {JsonDecodeError});
    invalid("malformed: trailing comma", withHead({}).replace("}}", ",}}"), {JsonDecodeError});
    invalid("malformed: single quotes", R"({'summary': {}})", {JsonDecodeError});
    invalid("malformed: garbage after", withHead({}) + " x", {JsonDecodeError});
    invalid("malformed: bare word", "summary", {JsonDecodeError});
    invalid("empty object", "{}", {missingEnvelope});
    invalid("top-level array", "[]", {missingEnvelope});
    invalid("top-level array of summary", "[" + withHead({}) + "]", {missingEnvelope});
    invalid("envelope missing (fields at top level)", "{" + QByteArray(ValidHead) + "}",
            {missingEnvelope});
    invalid("envelope null", R"({"summary": null})", {missingEnvelope});
    invalid("envelope wrong case", R"({"Summary": {}})", {missingEnvelope});
    invalid("envelope is an array", R"({"summary": []})",
            {uR"(["body","summary"] type_error.dict)"_s});
    invalid("envelope is a string", R"({"summary": "x"})",
            {uR"(["body","summary"] type_error.dict)"_s});

    // Required fields.
    invalid("empty summary", envelope({}), {missingAgent, missingTimestamp});
    invalid("agent_id missing", envelope(R"("timestamp": "2025-01-01")"), {missingAgent});
    invalid("timestamp missing", envelope(R"("agent_id": "a")"), {missingTimestamp});
    invalid("agent_id null", envelope(R"("agent_id": null, "timestamp": "2025-01-01")"),
            {missingAgent});
    invalid("timestamp null", envelope(R"("agent_id": "a", "timestamp": null)"),
            {missingTimestamp});
    invalid("agent_id 123", envelope(R"("agent_id": 123, "timestamp": "2025-01-01")"),
            {uR"(["body","summary","agent_id"] type_error.str)"_s});
    invalid("agent_id true", envelope(R"("agent_id": true, "timestamp": "2025-01-01")"),
            {uR"(["body","summary","agent_id"] type_error.str)"_s});
    invalid("agent_id object", envelope(R"("agent_id": {}, "timestamp": "2025-01-01")"),
            {uR"(["body","summary","agent_id"] type_error.str)"_s});
    invalid("agent_id empty", envelope(R"("agent_id": "", "timestamp": "2025-01-01")"),
            {uR"(["body","summary","agent_id"] value_error.any_str.min_length)"_s});
    invalid("timestamp a number", envelope(R"("agent_id": "a", "timestamp": 1735689600)"),
            {uR"(["body","summary","timestamp"] type_error.str)"_s});

    // Counts: non-negative 64-bit integers only.
    invalid("count \"5\"", withHead(R"("topic_counts": {"a": "5"})"),
            {count("a", "type_error.integer")});
    invalid("count true", withHead(R"("topic_counts": {"a": true})"),
            {count("a", "type_error.integer")});
    invalid("count 5.7", withHead(R"("topic_counts": {"a": 5.7})"),
            {count("a", "type_error.integer")});
    invalid("count -3", withHead(R"("topic_counts": {"a": -3})"),
            {count("a", "value_error.number.not_ge")});
    invalid("count 2**64", withHead(R"("topic_counts": {"a": 18446744073709551616})"),
            {count("a", "type_error.integer")});
    invalid("count 1e300", withHead(R"("topic_counts": {"a": 1e300})"),
            {count("a", "type_error.integer")});
    invalid("count null", withHead(R"("topic_counts": {"a": null})"),
            {count("a", "type_error.integer")});
    invalid("count array", withHead(R"("topic_counts": {"a": [1]})"),
            {count("a", "type_error.integer")});
    invalid("every bad count listed",
            withHead(R"("topic_counts": {"a": "5", "b": 1, "c": -1, "d": 2.5, "e": false})"),
            {count("a", "type_error.integer"), count("c", "value_error.number.not_ge"),
             count("d", "type_error.integer"), count("e", "type_error.integer")});
    invalid("topic_counts []", withHead(R"("topic_counts": [])"),
            {uR"(["body","summary","topic_counts"] type_error.dict)"_s});
    invalid("topic_counts string", withHead(R"("topic_counts": "a")"),
            {uR"(["body","summary","topic_counts"] type_error.dict)"_s});

    // Facts: strings only.
    invalid("fact_hashes [1,2]", withHead(R"("fact_hashes": [1, 2])"),
            {fact(0, "type_error.str"), fact(1, "type_error.str")});
    invalid("fact_hashes mixed", withHead(R"("fact_hashes": ["ok", null, "", {}, "ok2", true])"),
            {fact(1, "type_error.str"), fact(2, "value_error.any_str.min_length"),
             fact(3, "type_error.str"), fact(5, "type_error.str")});
    invalid("fact_hashes string", withHead(R"("fact_hashes": "abc")"),
            {uR"(["body","summary","fact_hashes"] type_error.list)"_s});
    invalid("fact_hashes object", withHead(R"("fact_hashes": {"a": 1})"),
            {uR"(["body","summary","fact_hashes"] type_error.list)"_s});

    // Known optional fields with the wrong shape.
    invalid("metadata string", withHead(R"("metadata": "x")"),
            {uR"(["body","summary","metadata"] type_error.dict)"_s});
    invalid("memory_types string", withHead(R"("memory_types": "episodic")"),
            {uR"(["body","summary","memory_types"] type_error.list)"_s});
    invalid("memory_types holding a number", withHead(R"("memory_types": ["episodic", 1])"),
            {uR"(["body","summary","memory_types",1] type_error.str)"_s});

    // Every offending field is listed, whichever part of the summary it is in.
    invalid("everything wrong at once",
            envelope(R"("agent_id": 7, "topic_counts": {"a": "1", "b": 2, "c": -2},)"
                     R"( "fact_hashes": ["x", 3], "metadata": [], "memory_types": {})"),
            {uR"(["body","summary","agent_id"] type_error.str)"_s, missingTimestamp,
             count("a", "type_error.integer"), count("c", "value_error.number.not_ge"),
             fact(1, "type_error.str"), uR"(["body","summary","metadata"] type_error.dict)"_s,
             uR"(["body","summary","memory_types"] type_error.list)"_s});
    // A bad timestamp is only reported (as 400) when everything else is valid.
    invalid("bad timestamp and bad field", envelope(R"("agent_id": 1, "timestamp": "yesterday")"),
            {uR"(["body","summary","agent_id"] type_error.str)"_s});

    // Timestamps that are strings but not ISO 8601: 400.
    badTimestamp("timestamp yesterday", envelope(R"("agent_id": "a", "timestamp": "yesterday")"));
    badTimestamp("timestamp empty", envelope(R"("agent_id": "a", "timestamp": "")"));
    badTimestamp("timestamp month 13", envelope(R"("agent_id": "a", "timestamp": "2025-13-01")"));
    badTimestamp("timestamp Feb 30",
                 envelope(R"("agent_id": "a", "timestamp": "2025-02-30T00:00:00")"));
    badTimestamp("timestamp hour 24",
                 envelope(R"("agent_id": "a", "timestamp": "2025-01-01T24:00:00")"));
    badTimestamp("timestamp with spaces around",
                 envelope(R"("agent_id": "a", "timestamp": " 2025-01-01")"));

    // Not UTF-8: 400 before anything else is looked at.
    badEncoding("latin-1 byte",
                envelope("\"agent_id\": \"caf\xe9\", \"timestamp\": \"2025-01-01\""));
    badEncoding("lone 0xff", "\xff");
    badEncoding("truncated sequence", withHead({}) + "\xe2\x82");
    badEncoding("overlong slash",
                envelope("\"agent_id\": \"\xc0\xaf\", \"timestamp\": \"2025-01-01\""));
    badEncoding("encoded surrogate",
                envelope("\"agent_id\": \"\xed\xa0\x80\", \"timestamp\": \"2025-01-01\""));
    badEncoding("beyond U+10FFFF",
                envelope("\"agent_id\": \"\xf4\x90\x80\x80\", \"timestamp\": \"2025-01-01\""));
    badEncoding("bad bytes in invalid JSON", "{\"summary\": \xff");
}

void TstSummaryParser::validationTable()
{
    QFETCH(QByteArray, body);
    QFETCH(int, status);
    QFETCH(QStringList, errors);

    const ParseOutcome outcome = SummaryParser().parse(body);
    QVERIFY2(int(outcome.status) == status,
             qPrintable(u"status %1, expected %2; errors: %3"_s.arg(int(outcome.status))
                            .arg(status)
                            .arg(errorDump(outcome.errors))));

    switch (outcome.status) {
    case Status::Ok:
        QVERIFY(outcome.ok());
        QVERIFY(outcome.errors.isEmpty());
        QVERIFY(!outcome.summary.agentId.isEmpty());
        break;
    case Status::Invalid: {
        QVERIFY(!outcome.ok());
        QStringList got;
        for (const FieldError &e : outcome.errors) {
            QVERIFY2(!e.msg.isEmpty(), qPrintable(describe(e)));
            if (errors == QStringList{JsonDecodeError}) {
                QCOMPARE(e.type, u"value_error.jsondecode"_s);
                QCOMPARE(e.loc.size(), 2);
                QCOMPARE(e.loc.at(0), QJsonValue(u"body"_s));
                QVERIFY(e.loc.at(1).isDouble());
                QVERIFY(e.loc.at(1).toInteger() >= 0 && e.loc.at(1).toInteger() <= body.size());
                got << JsonDecodeError;
            } else {
                got << describe(e);
            }
        }
        QCOMPARE(sorted(got), sorted(errors));
        // Nothing of a rejected summary is handed on.
        QVERIFY(outcome.summary.agentId.isEmpty());
        QVERIFY(outcome.summary.topicCounts.isEmpty());
        QVERIFY(outcome.summary.factHashes.isEmpty());
        break;
    }
    case Status::BadTimestamp:
        QVERIFY(outcome.errors.isEmpty());
        QCOMPARE(outcome.detail, SummaryParser::InvalidTimestampDetail);
        QCOMPARE(outcome.detail, u"Invalid timestamp format (expected ISO 8601)"_s);
        QVERIFY(outcome.summary.agentId.isEmpty());
        break;
    case Status::BadEncoding:
        QVERIFY(outcome.errors.isEmpty());
        QVERIFY(!outcome.detail.isEmpty());
        QVERIFY(outcome.summary.agentId.isEmpty());
        break;
    }
}

void TstSummaryParser::acceptedTimestamps_data()
{
    QTest::addColumn<QByteArray>("timestamp");
    QTest::addColumn<Instant>("expected");

    const Instant newYear = utcInstant(2025, 1, 1);
    QTest::addRow("date only") << QByteArray("2025-01-01") << newYear;
    QTest::addRow("Z") << QByteArray("2025-01-01T00:00:00Z") << newYear;
    QTest::addRow("space") << QByteArray("2025-01-01 00:00:00") << newYear;
    QTest::addRow("basic") << QByteArray("20250101T000000Z") << newYear;
    QTest::addRow("naive is UTC") << QByteArray("2025-01-01T00:00:00") << newYear;
    QTest::addRow("offset") << QByteArray("2025-01-01T02:30:00+02:30") << newYear;
    QTest::addRow("client format") << QByteArray("2026-11-27T09:29:35.164165+00:00")
                                   << utcInstant(2026, 11, 27, 9, 29, 35, 164165);
}

void TstSummaryParser::acceptedTimestamps()
{
    QFETCH(QByteArray, timestamp);
    QFETCH(Instant, expected);

    const ParseOutcome outcome =
        SummaryParser().parse(envelope(R"("agent_id": "a", "timestamp": )" + quoted(timestamp)));
    QVERIFY2(outcome.ok(), qPrintable(errorDump(outcome.errors) + outcome.detail));
    QCOMPARE(outcome.summary.timestamp, expected);
}

void TstSummaryParser::clientPushExtracted()
{
    const ParseOutcome outcome = SummaryParser().parse(clientPushBody());
    QVERIFY(outcome.ok());
    const agmem::Summary &s = outcome.summary;
    QCOMPARE(s.agentId, u"agent-84a09a3dceebdd8a"_s);
    QCOMPARE(s.timestamp, utcInstant(2026, 11, 27, 9, 29, 35, 164165));
    const QList<QPair<QString, qint64>> topics{{u"episodic"_s, 1}, {u"semantic"_s, 2}};
    QCOMPARE(s.topicCounts, topics);
    QCOMPARE(s.factHashes, (QStringList{u"Daily standup"_s, u"python"_s, u"databases"_s}));
    QVERIFY(!s.hasMetadata);
    QVERIFY(!s.hasMemoryTypes);
}

// Each bound of SummaryLimits, just at it (accepted) and just over it (422 naming the field),
// with small custom limits and with the defaults. maxBodyBytes is enforced by the HTTP layer
// before the parser runs; the parser does not look at it.
void TstSummaryParser::limits_data()
{
    QTest::addColumn<bool>("defaults");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<QString>("error"); // empty: accepted

    const auto agent = [](int length) {
        return envelope(R"("agent_id": )" + quoted(QByteArray(length, 'a')) +
                        R"(, "timestamp": "2025-01-01")");
    };
    const auto topicName = [](int length) {
        return withHead(R"("topic_counts": {)" + quoted(QByteArray(length, 't')) + ": 1}");
    };
    const auto metadata = [](int bytes) {
        // {"k":"..."} is 8 bytes of compact JSON plus the value's length.
        return withHead(R"("metadata": {"k": )" + quoted(QByteArray(bytes - 8, 'm')) + "}");
    };
    const QString agentErr = uR"(["body","summary","agent_id"] value_error.any_str.max_length)"_s;
    const QString topicsErr = uR"(["body","summary","topic_counts"] value_error.list.max_items)"_s;
    const QString topicErr =
        uR"(["body","summary","topic_counts"] value_error.any_str.max_length)"_s;
    const QString factsErr = uR"(["body","summary","fact_hashes"] value_error.list.max_items)"_s;
    const auto factErr = [](int index) {
        return uR"(["body","summary","fact_hashes",%1] value_error.any_str.max_length)"_s.arg(
            index);
    };
    const QString metadataErr = uR"(["body","summary","metadata"] value_error.too_large)"_s;
    const QString typesErr = uR"(["body","summary","memory_types"] value_error.list.max_items)"_s;

    // Small limits: see limits() for the values.
    QTest::addRow("small: agent_id at") << false << agent(8) << QString();
    QTest::addRow("small: agent_id over") << false << agent(9) << agentErr;
    QTest::addRow("small: topics at")
        << false << withHead(R"("topic_counts": )" + topicObject(3)) << QString();
    QTest::addRow("small: topics over")
        << false << withHead(R"("topic_counts": )" + topicObject(4)) << topicsErr;
    QTest::addRow("small: topic name at") << false << topicName(5) << QString();
    QTest::addRow("small: topic name over") << false << topicName(6) << topicErr;
    QTest::addRow("small: facts at")
        << false << withHead(R"("fact_hashes": )" + factList(4)) << QString();
    QTest::addRow("small: facts over")
        << false << withHead(R"("fact_hashes": )" + factList(5)) << factsErr;
    QTest::addRow("small: fact length at")
        << false << withHead(R"("fact_hashes": )" + factList(2, 6)) << QString();
    QTest::addRow("small: fact length over")
        << false << withHead(R"("fact_hashes": ["ok", "1234567"])") << factErr(1);
    QTest::addRow("small: metadata at") << false << metadata(20) << QString();
    QTest::addRow("small: metadata over") << false << metadata(21) << metadataErr;
    QTest::addRow("small: memory_types at")
        << false << withHead(R"("memory_types": )" + stringArray(3)) << QString();
    QTest::addRow("small: memory_types over")
        << false << withHead(R"("memory_types": )" + stringArray(4)) << typesErr;

    // The defaults documented in summarylimits.h.
    QTest::addRow("default: agent_id 255") << true << agent(255) << QString();
    QTest::addRow("default: agent_id 256") << true << agent(256) << agentErr;
    QTest::addRow("default: 10000 topics")
        << true << withHead(R"("topic_counts": )" + topicObject(10000)) << QString();
    QTest::addRow("default: 10001 topics")
        << true << withHead(R"("topic_counts": )" + topicObject(10001)) << topicsErr;
    QTest::addRow("default: topic name 256") << true << topicName(256) << QString();
    QTest::addRow("default: topic name 257") << true << topicName(257) << topicErr;
    QTest::addRow("default: 100000 facts")
        << true << withHead(R"("fact_hashes": )" + factList(100000)) << QString();
    QTest::addRow("default: 100001 facts")
        << true << withHead(R"("fact_hashes": )" + factList(100001)) << factsErr;
    QTest::addRow("default: fact 1024")
        << true << withHead(R"("fact_hashes": [)" + quoted(QByteArray(1024, 'f')) + "]")
        << QString();
    QTest::addRow("default: fact 1025")
        << true << withHead(R"("fact_hashes": ["a", )" + quoted(QByteArray(1025, 'f')) + "]")
        << factErr(1);
    QTest::addRow("default: metadata 64 KiB") << true << metadata(64 * 1024) << QString();
    QTest::addRow("default: metadata 64 KiB + 1") << true << metadata(64 * 1024 + 1) << metadataErr;
}

void TstSummaryParser::limits()
{
    QFETCH(bool, defaults);
    QFETCH(QByteArray, body);
    QFETCH(QString, error);

    SummaryLimits limits;
    if (!defaults) {
        limits.maxAgentIdLength = 8;
        limits.maxTopics = 3;
        limits.maxTopicLength = 5;
        limits.maxFacts = 4;
        limits.maxFactLength = 6;
        limits.maxMetadataBytes = 20;
    }
    const ParseOutcome outcome = SummaryParser(limits).parse(body);
    if (error.isEmpty()) {
        QVERIFY2(outcome.ok(), qPrintable(errorDump(outcome.errors)));
    } else {
        QCOMPARE(outcome.status, Status::Invalid);
        QCOMPARE(outcome.errors.size(), 1);
        QCOMPARE(describe(outcome.errors.first()), error);
    }
}

void TstSummaryParser::duplicateFactsRemoved()
{
    const ParseOutcome outcome = SummaryParser().parse(withHead(
        R"("fact_hashes": ["b", "a", "b", "c", "a", "A", "\u00e9", "e\u0301", "\u00e9", "b"])"));
    QVERIFY(outcome.ok());
    // First-seen order; only exact duplicates go (no case folding, no normalization).
    QCOMPARE(outcome.summary.factHashes,
             (QStringList{u"b"_s, u"a"_s, u"c"_s, u"A"_s, u"\u00e9"_s, u"e\u0301"_s}));
}

void TstSummaryParser::metadataAndMemoryTypesStored()
{
    const ParseOutcome outcome = SummaryParser().parse(
        withHead(R"("metadata": {"host": "box", "n": [1, 2], "nested": {"x": null}},)"
                 R"( "memory_types": ["episodic", "semantic"])"));
    QVERIFY(outcome.ok());
    QVERIFY(outcome.summary.hasMetadata);
    QVERIFY(outcome.summary.hasMemoryTypes);
    const QJsonObject metadata{{u"host"_s, u"box"_s},
                               {u"n"_s, QJsonArray{1, 2}},
                               {u"nested"_s, QJsonObject{{u"x"_s, QJsonValue::Null}}}};
    QCOMPARE(outcome.summary.metadata, metadata);
    QCOMPARE(outcome.summary.memoryTypes, (QJsonArray{u"episodic"_s, u"semantic"_s}));

    const ParseOutcome empty =
        SummaryParser().parse(withHead(R"("metadata": {}, "memory_types": [])"));
    QVERIFY(empty.ok());
    QVERIFY(empty.summary.hasMetadata);
    QVERIFY(empty.summary.hasMemoryTypes);
    QVERIFY(empty.summary.metadata.isEmpty());
    QVERIFY(empty.summary.memoryTypes.isEmpty());

    const ParseOutcome absent = SummaryParser().parse(withHead({}));
    QVERIFY(absent.ok());
    QVERIFY(!absent.summary.hasMetadata);
    QVERIFY(!absent.summary.hasMemoryTypes);
}

void TstSummaryParser::unknownFieldsIgnored()
{
    const QByteArray body =
        R"({"extra": [1, {"x": "y"}], "agent_id": 5, "summary": {"agent_id": "a",)"
        R"( "timestamp": "2025-01-01", "topic_counts": {"t": 2}, "fact_hashes": ["f"],)"
        R"( "version": "9.9", "topics": "not-an-object", "counts": -1, "fact_hashes_v2": [1]}})";
    const ParseOutcome outcome = SummaryParser().parse(body);
    QVERIFY2(outcome.ok(), qPrintable(errorDump(outcome.errors)));
    QCOMPARE(outcome.summary.agentId, u"a"_s);
    QCOMPARE(outcome.summary.topicCounts, (QList<QPair<QString, qint64>>{{u"t"_s, 2}}));
    QCOMPARE(outcome.summary.factHashes, QStringList{u"f"_s});
    QVERIFY(!outcome.summary.hasMetadata);
}

void TstSummaryParser::errorListIsCapped_data()
{
    QTest::addColumn<int>("badFacts");
    const int max = SummaryParser::MaxListedErrors;
    QTest::addRow("one") << 1;
    QTest::addRow("exactly the cap") << max;
    QTest::addRow("cap + 1") << max + 1;
    QTest::addRow("1000") << 1000;
}

void TstSummaryParser::errorListIsCapped()
{
    QFETCH(int, badFacts);
    const int max = SummaryParser::MaxListedErrors;
    QVERIFY(max > 0 && max < 1000);

    QByteArray facts("[");
    for (int i = 0; i < badFacts; ++i)
        facts += (i ? "," : "") + QByteArray::number(i);
    const ParseOutcome outcome =
        SummaryParser().parse(withHead(R"("fact_hashes": )" + facts + "]"));
    QCOMPARE(outcome.status, Status::Invalid);

    const int listed = std::min(badFacts, max);
    QCOMPARE(outcome.errors.size(), badFacts > max ? max + 1 : badFacts);
    for (int i = 0; i < listed; ++i) {
        QCOMPARE(describe(outcome.errors.at(i)),
                 uR"(["body","summary","fact_hashes",%1] type_error.str)"_s.arg(i));
    }
    if (badFacts > max) {
        const FieldError &last = outcome.errors.last();
        QCOMPARE(describe(last), uR"(["body"] value_error.too_many_errors)"_s);
        QVERIFY2(last.msg.contains(QString::number(badFacts - max)), qPrintable(last.msg));
    }
}

// An answer quotes at most a short excerpt of what was sent: a 100 KB value must not be echoed.
void TstSummaryParser::errorsHoldNoLargeExcerpt_data()
{
    QTest::addColumn<QByteArray>("body");
    const QByteArray big(100 * 1024, 'x');
    const QByteArray bigString = quoted(big);

    QTest::addRow("agent_id too long")
        << envelope(R"("agent_id": )" + bigString + R"(, "timestamp": "2025-01-01")");
    QTest::addRow("timestamp too long")
        << envelope(R"("agent_id": "a", "timestamp": )" + bigString);
    QTest::addRow("topic name too long") << withHead(R"("topic_counts": {)" + bigString + ": 1}");
    QTest::addRow("topic name too long, bad count")
        << withHead(R"("topic_counts": {)" + bigString + ": -1}");
    QTest::addRow("count a big string") << withHead(R"("topic_counts": {"t": )" + bigString + "}");
    QTest::addRow("fact too long") << withHead(R"("fact_hashes": [)" + bigString + "]");
    QTest::addRow("metadata too large")
        << withHead(R"("metadata": {"k": )" + bigString + "}, \"memory_types\": 5");
    QTest::addRow("memory_types a big string") << withHead(R"("memory_types": )" + bigString);
    QTest::addRow("envelope a big string") << R"({"summary": )" + bigString + "}";
    QTest::addRow("unterminated big string") << R"({"summary": {"agent_id": ")" + big;
    QTest::addRow("bad JSON after big string")
        << withHead(R"("fact_hashes": [)" + bigString + "}}");
    QTest::addRow("bad timestamp, big unknown field")
        << withHead(R"("junk": )" + bigString).replace("2025-01-01T00:00:00+00:00", "never");
}

void TstSummaryParser::errorsHoldNoLargeExcerpt()
{
    QFETCH(QByteArray, body);
    const ParseOutcome outcome = SummaryParser().parse(body);
    QVERIFY(!outcome.ok());
    const QString run(64, u'x');
    QVERIFY2(!outcome.detail.contains(run), "detail echoes the input");
    QVERIFY(outcome.detail.size() < 200);
    for (const FieldError &e : outcome.errors) {
        const QByteArray loc = QJsonDocument(e.loc).toJson(QJsonDocument::Compact);
        QVERIFY2(!e.msg.contains(run), "msg echoes the input");
        QVERIFY2(!loc.contains(QByteArray(64, 'x')), "loc echoes the input");
        QVERIFY2(e.msg.size() < 200, qPrintable(e.msg.left(200)));
        QVERIFY2(loc.size() < 512, loc.left(200).constData());
    }
}

void TstSummaryParser::loneSurrogatesRejected_data()
{
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<QString>("error");

    QTest::addRow("agent_id \\ud800")
        << envelope(R"("agent_id": "a\ud800", "timestamp": "2025-01-01")")
        << uR"(["body","summary","agent_id"] value_error.unicode)"_s;
    QTest::addRow("fact \\ud800") << withHead(R"("fact_hashes": ["ok", "\ud800"])")
                                  << uR"(["body","summary","fact_hashes",1] value_error.unicode)"_s;
    QTest::addRow("fact \\udc00 first")
        << withHead(R"("fact_hashes": ["\udc00x"])")
        << uR"(["body","summary","fact_hashes",0] value_error.unicode)"_s;
    QTest::addRow("fact swapped pair")
        << withHead(R"("fact_hashes": ["\ude00\ud83d"])")
        << uR"(["body","summary","fact_hashes",0] value_error.unicode)"_s;
    QTest::addRow("topic name \\ud800")
        << withHead(R"("topic_counts": {"t\ud800": 1})")
        << uR"(["body","summary","topic_counts"] value_error.unicode)"_s;
}

void TstSummaryParser::loneSurrogatesRejected()
{
    QFETCH(QByteArray, body);
    QFETCH(QString, error);

    const ParseOutcome outcome = SummaryParser().parse(body);
    QCOMPARE(outcome.status, Status::Invalid);
    QCOMPARE(outcome.errors.size(), 1);
    QCOMPARE(describe(outcome.errors.first()), error);

    // A proper pair (U+1F600) is fine everywhere.
    const ParseOutcome pair = SummaryParser().parse(
        envelope(R"("agent_id": "a\ud83d\ude00", "timestamp": "2025-01-01",)"
                 R"( "topic_counts": {"t\ud83d\ude00": 1}, "fact_hashes": ["\ud83d\ude00"])"));
    QVERIFY2(pair.ok(), qPrintable(errorDump(pair.errors)));
    QCOMPARE(pair.summary.agentId, u"a\U0001F600"_s);
    QCOMPARE(pair.summary.factHashes, QStringList{u"\U0001F600"_s});
    QCOMPARE(pair.summary.topicCounts.first().first, u"t\U0001F600"_s);
}

void TstSummaryParser::int64Bounds_data()
{
    QTest::addColumn<QByteArray>("number");
    QTest::addColumn<bool>("accepted");
    QTest::addColumn<qint64>("value");

    QTest::addRow("2^63-1") << QByteArray("9223372036854775807") << true
                            << std::numeric_limits<qint64>::max();
    QTest::addRow("2^63") << QByteArray("9223372036854775808") << false << qint64(0);
    QTest::addRow("2^64-1") << QByteArray("18446744073709551615") << false << qint64(0);
    QTest::addRow("0") << QByteArray("0") << true << qint64(0);
    QTest::addRow("-0") << QByteArray("-0") << true << qint64(0);
    QTest::addRow("-1") << QByteArray("-1") << false << qint64(0);
    QTest::addRow("-2^63") << QByteArray("-9223372036854775808") << false << qint64(0);
    QTest::addRow("-2^63-1") << QByteArray("-9223372036854775809") << false << qint64(0);
}

void TstSummaryParser::int64Bounds()
{
    QFETCH(QByteArray, number);
    QFETCH(bool, accepted);
    QFETCH(qint64, value);

    const ParseOutcome outcome =
        SummaryParser().parse(withHead(R"("topic_counts": {"t": )" + number + "}"));
    if (accepted) {
        QVERIFY2(outcome.ok(), qPrintable(errorDump(outcome.errors)));
        QCOMPARE(outcome.summary.topicCounts.size(), 1);
        QCOMPARE(outcome.summary.topicCounts.first().second, value);
    } else {
        QCOMPARE(outcome.status, Status::Invalid);
        QCOMPARE(outcome.errors.size(), 1);
        QCOMPARE(outcome.errors.first().loc,
                 (QJsonArray{u"body"_s, u"summary"_s, u"topic_counts"_s, u"t"_s}));
    }
}

namespace {

QString describe(const ParseOutcome &o)
{
    QString out = QStringLiteral("status %1 detail '%2'\n").arg(int(o.status)).arg(o.detail);
    for (const FieldError &e : o.errors) {
        out += QString::fromUtf8(QJsonDocument(e.loc).toJson(QJsonDocument::Compact)) + u' ' +
               e.msg + u' ' + e.type + u'\n';
    }
    const agmem::Summary &s = o.summary;
    out += QStringLiteral("agent '%1' at %2\n").arg(s.agentId).arg(s.timestamp);
    for (const auto &[topic, count] : s.topicCounts)
        out += QStringLiteral("topic '%1' %2\n").arg(topic).arg(count);
    out += u"facts "_s + s.factHashes.join(u"|"_s) + u'\n';
    out += QStringLiteral("metadata %1 %2, memory types %3 %4\n")
               .arg(s.hasMetadata)
               .arg(QString::fromUtf8(QJsonDocument(s.metadata).toJson(QJsonDocument::Compact)))
               .arg(s.hasMemoryTypes)
               .arg(QString::fromUtf8(QJsonDocument(s.memoryTypes).toJson(QJsonDocument::Compact)));
    return out;
}

} // namespace

// parse() reads common bodies without QJsonDocument: for every body it must give exactly
// what the general path gives (QJsonDocument), accepted or refused. Hand-made edge cases,
// the fuzz corpus and the real client's body, each also mutated many times.
void TstSummaryParser::fastPathSameAsGeneral()
{
    QList<QByteArray> bodies = {
        clientPushBody(),
        R"({"summary": {"agent_id": "a", "timestamp": "2026-11-27T00:00:01.000002+00:00", "topic_counts": {"episodic": 3, "semantic": 10}, "fact_hashes": ["Daily standup", "python", "fact-1"]}})",
        R"({"summary":{"timestamp":"2026-01-01T00:00:00Z","agent_id":"b","fact_hashes":["x","y","x","z","y"],"topic_counts":{"zeta":1,"alpha":0,"Mid":7,"":2}}})",
        R"({"summary":{"agent_id":"c","timestamp":"2026-01-01T00:00:00Z","topic_counts":{"t":1,"t":2}}})",
        R"({"summary":{"agent_id":"d","timestamp":"2026-01-01T00:00:00Z","topic_counts":{"t":01}}})",
        R"({"summary":{"agent_id":"d","timestamp":"2026-01-01T00:00:00Z","topic_counts":{"t":1.0,"u":1e3,"v":-1,"w":-0}}})",
        R"({"summary":{"agent_id":"d","timestamp":"2026-01-01T00:00:00Z","topic_counts":{"t":999999999999999,"u":9999999999999999,"v":9223372036854775807,"w":9223372036854775808}}})",
        R"({"summary":{"agent_id":"","timestamp":"","topic_counts":{},"fact_hashes":[]}})",
        R"({"summary":{"agent_id":"e","timestamp":"","topic_counts":{},"fact_hashes":[""]}})",
        R"({"summary":{"agent_id":"e","timestamp":"not a time"}})",
        R"({"summary":{"agent_id":"e","timestamp":"2026-01-01T00:00:00Z","topic_counts":null,"fact_hashes":null}})",
        R"({"summary":{"agent_id":"e\"q","timestamp":"2026-01-01T00:00:00Z","fact_hashes":["a\\b","\u00e9","caf)"
        "\xc3\xa9"
        R"("]}})",
        R"({"summary":{"agent_id":"e","timestamp":"2026-01-01T00:00:00Z","metadata":{"k":[1,2]},"memory_types":["episodic"]}})",
        R"({"summary":{"agent_id":"e","timestamp":"2026-01-01T00:00:00Z","unknown":5}, "other": true})",
        R"({"other": true, "summary":{"agent_id":"e","timestamp":"2026-01-01T00:00:00Z"}})",
        R"({"summary":{"agent_id":"e","timestamp":"2026-01-01T00:00:00Z"},"summary":{"agent_id":"f","timestamp":"2026-01-01T00:00:00Z"}})",
        R"({"summary":{"agent_id":"e","agent_id":"f","timestamp":"2026-01-01T00:00:00Z"}})",
        R"({"summary":{"agent_id":5,"timestamp":"2026-01-01T00:00:00Z","topic_counts":[],"fact_hashes":{}}})",
        " \t\r\n{ \"summary\" :\n{ \"agent_id\" : \"g\" "
        ",\r\n\"timestamp\":\"2026-01-01T00:00:00+02:00\" } }\n ",
        R"({"summary":{"agent_id":"g","timestamp":"2026-01-01T00:00:00Z"}} x)",
        R"({"summary":{"agent_id":"g","timestamp":"2026-01-01T00:00:00Z",}})",
        R"({"summary":{"agent_id":"g","timestamp":"2026-01-01T00:00:00Z","fact_hashes":["a",]}})",
        R"({"summary":{}})",
        R"({"summary":null})",
        R"([{"summary":{"agent_id":"g","timestamp":"2026-01-01T00:00:00Z"}}])",
        "null",
        "",
        QByteArray("{\"summary\":{\"agent_id\":\"g\x01\",\"timestamp\":\"2026-01-01T00:00:00Z\"}}"),
        QByteArray("{\"summary\":{\"agent_id\":\"g\x7f\",\"timestamp\":\"2026-01-01T00:00:00Z\"}}"),
        QByteArray("\xef\xbb\xbf{\"summary\":{\"agent_id\":\"g\",\"timestamp\":\"2026-01-01T00:00:"
                   "00Z\"}}"),
    };
    QDir corpus(QStringLiteral(AGMEM_SOURCE_DIR "/tests/fuzz/corpus/summaryparser"));
    for (const QString &name : corpus.entryList(QDir::Files)) {
        QFile file(corpus.filePath(name));
        if (file.open(QIODevice::ReadOnly))
            bodies.append(file.readAll());
    }
    QVERIFY(bodies.size() > 40);

    SummaryLimits small;
    small.maxAgentIdLength = 3;
    small.maxTopics = 2;
    small.maxTopicLength = 4;
    small.maxFacts = 3;
    small.maxFactLength = 5;
    const QList<SummaryParser> parsers = {SummaryParser(), SummaryParser(small)};

    const QByteArray pieces[] = {"\"", "{",       "}",     "[",    "]",        ",",
                                 ":",  " ",       "0",     "1",    "-",        "\\",
                                 "x",  "\"t\":1", "\"f\"", "null", "\xc3\xa9", "\n"};
    QRandomGenerator random(1312);
    int compared = 0;
    int accepted = 0;
    for (const QByteArray &original : std::as_const(bodies)) {
        for (int round = 0; round < 200; ++round) {
            QByteArray body = original;
            const int edits = round == 0 ? 0 : 1 + int(random.bounded(3));
            for (int e = 0; e < edits && !body.isEmpty(); ++e) {
                const int at = int(random.bounded(int(body.size())));
                const QByteArray &piece = pieces[random.bounded(int(std::size(pieces)))];
                switch (random.bounded(3)) {
                case 0:
                    body.replace(at, 1, piece);
                    break;
                case 1:
                    body.insert(at, piece);
                    break;
                default:
                    body.remove(at, 1 + int(random.bounded(3)));
                }
            }
            for (const SummaryParser &parser : parsers) {
                const ParseOutcome fast = parser.parse(body);
                const ParseOutcome general = parser.parseGeneral(body);
                const QString a = describe(fast);
                const QString b = describe(general);
                if (a != b)
                    QFAIL(qPrintable(u"body %1:\nparse():\n%2\nparseGeneral():\n%3"_s.arg(
                        QString::fromLatin1(body.toPercentEncoding()), a, b)));
                ++compared;
                accepted += fast.ok() ? 1 : 0;
            }
        }
    }
    // Both accepted and refused bodies were compared.
    QVERIFY2(accepted > 500 && compared - accepted > 500,
             qPrintable(u"%1 of %2 accepted"_s.arg(accepted).arg(compared)));
}

QTEST_APPLESS_MAIN(TstSummaryParser)

// The fast path reads strings eight bytes at a time: every byte value at every position of
// a string (and of the agent id) gives what the general path gives.
void TstSummaryParser::fastPathEveryByteInStrings()
{
    const SummaryParser parser;
    int accepted = 0;
    for (int position = 0; position < 19; ++position) {
        for (int byte = 0; byte < 256; ++byte) {
            QByteArray fact(19, 'a');
            fact[position] = char(byte);
            for (const bool inAgent : {false, true}) {
                const QByteArray body = R"({"summary":{"agent_id":")" +
                                        (inAgent ? fact : QByteArray("g")) +
                                        R"(","timestamp":"2026-01-01T00:00:00Z","fact_hashes":[")" +
                                        (inAgent ? QByteArray("f") : fact) + R"("]}})";
                const QString a = describe(parser.parse(body));
                const QString b = describe(parser.parseGeneral(body));
                if (a != b)
                    QFAIL(
                        qPrintable(u"byte %1 at %2:\n%3\n%4"_s.arg(byte).arg(position).arg(a, b)));
                accepted += a.startsWith(u"status 0 ") ? 1 : 0;
            }
        }
    }
    QVERIFY(accepted > 0);
}

#include "tst_summaryparser.moc"
