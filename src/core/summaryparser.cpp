#include "summaryparser.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QJsonParseError>
#include <QJsonValue>
#include <QSet>
#include <QStringDecoder>

#include <algorithm>
#include <cstring>
#include <optional>

namespace agmem {

namespace {

QJsonArray at(std::initializer_list<QJsonValue> parts)
{
    QJsonArray loc{QStringLiteral("body"), QStringLiteral("summary")};
    for (const QJsonValue &p : parts)
        loc.append(p);
    return loc;
}

class ErrorList
{
public:
    void add(QJsonArray loc, const QString &msg, const char *type)
    {
        ++m_total;
        if (m_errors.size() < SummaryParser::MaxListedErrors)
            m_errors.append({std::move(loc), msg, QString::fromLatin1(type)});
    }
    bool isEmpty() const { return m_total == 0; }
    QList<FieldError> take()
    {
        if (m_total > m_errors.size()) {
            m_errors.append(
                {QJsonArray{QStringLiteral("body")},
                 QStringLiteral("%1 more errors not listed").arg(m_total - m_errors.size()),
                 QStringLiteral("value_error.too_many_errors")});
        }
        return std::move(m_errors);
    }

private:
    QList<FieldError> m_errors;
    qsizetype m_total = 0;
};

const char *jsonTypeName(const QJsonValue &v)
{
    switch (v.type()) {
    case QJsonValue::Null:
        return "null";
    case QJsonValue::Bool:
        return "a boolean";
    case QJsonValue::Double:
        return "a number";
    case QJsonValue::String:
        return "a string";
    case QJsonValue::Array:
        return "an array";
    case QJsonValue::Object:
        return "an object";
    case QJsonValue::Undefined:
        break;
    }
    return "undefined";
}

QString expected(const char *what, const QJsonValue &got)
{
    return QStringLiteral("expected %1, got %2")
        .arg(QLatin1String(what), QLatin1String(jsonTypeName(got)));
}

bool isIntegral(const QJsonValue &v)
{
    // Qt keeps JSON integers that fit in 64 bits as integers; 5.7, 1e3 and 2**64 are doubles.
    return v.isDouble() && v.toVariant().typeId() == QMetaType::LongLong;
}

// Checks a required, bounded string field, non-empty unless allowEmpty (an empty timestamp is
// a string that is not ISO 8601: 400 like any other, as the reference answers).
void requireString(const QJsonObject &summary, const char *field, int maxLength, ErrorList &errors,
                   QString *out, bool allowEmpty = false)
{
    const QString name = QString::fromLatin1(field);
    const QJsonValue v = summary.value(name);
    if (v.isUndefined() || v.isNull()) {
        errors.add(at({name}), QStringLiteral("field required"), "value_error.missing");
    } else if (!v.isString()) {
        errors.add(at({name}), expected("a string", v), "type_error.str");
    } else if (!allowEmpty && v.toString().isEmpty()) {
        errors.add(at({name}), QStringLiteral("must not be empty"),
                   "value_error.any_str.min_length");
    } else if (v.toString().size() > maxLength) {
        errors.add(at({name}),
                   QStringLiteral("ensure this value has at most %1 characters").arg(maxLength),
                   "value_error.any_str.max_length");
    } else if (!QStringView(v.toString()).isValidUtf16()) {
        errors.add(at({name}), QStringLiteral("contains an unpaired surrogate"),
                   "value_error.unicode");
    } else {
        *out = v.toString();
    }
}

void parseTopics(const QJsonValue &v, const SummaryLimits &limits, ErrorList &errors,
                 Summary &summary)
{
    const QString field = QStringLiteral("topic_counts");
    if (v.isUndefined() || v.isNull())
        return;
    if (!v.isObject()) {
        errors.add(at({field}), expected("an object of topic -> count", v), "type_error.dict");
        return;
    }
    const QJsonObject topics = v.toObject();
    if (topics.size() > limits.maxTopics) {
        errors.add(at({field}),
                   QStringLiteral("at most %1 topics are allowed, got %2")
                       .arg(limits.maxTopics)
                       .arg(topics.size()),
                   "value_error.list.max_items");
        return;
    }
    summary.topicCounts.reserve(topics.size());
    for (auto it = topics.begin(); it != topics.end(); ++it) {
        const QString topic = it.key();
        const QJsonValue count = it.value();
        if (topic.size() > limits.maxTopicLength) {
            errors.add(at({field}),
                       QStringLiteral("a topic name is longer than %1 characters")
                           .arg(limits.maxTopicLength),
                       "value_error.any_str.max_length");
            continue;
        }
        if (!QStringView(topic).isValidUtf16()) {
            errors.add(at({field}), QStringLiteral("a topic name contains an unpaired surrogate"),
                       "value_error.unicode");
            continue;
        }
        if (!isIntegral(count)) {
            errors.add(at({field, topic}),
                       count.isDouble() ? QStringLiteral("value is not an integer within 0..2^63-1")
                                        : expected("an integer", count),
                       "type_error.integer");
            continue;
        }
        const qint64 n = count.toInteger();
        if (n < 0) {
            errors.add(at({field, topic}),
                       QStringLiteral("ensure this value is greater than or equal to 0"),
                       "value_error.number.not_ge");
            continue;
        }
        summary.topicCounts.append({topic, n});
    }
}

void parseFacts(const QJsonValue &v, const SummaryLimits &limits, ErrorList &errors,
                Summary &summary)
{
    const QString field = QStringLiteral("fact_hashes");
    if (v.isUndefined() || v.isNull())
        return;
    if (!v.isArray()) {
        errors.add(at({field}), expected("an array of strings", v), "type_error.list");
        return;
    }
    const QJsonArray facts = v.toArray();
    if (facts.size() > limits.maxFacts) {
        errors.add(at({field}),
                   QStringLiteral("at most %1 facts are allowed, got %2")
                       .arg(limits.maxFacts)
                       .arg(facts.size()),
                   "value_error.list.max_items");
        return;
    }
    QSet<QString> seen;
    seen.reserve(facts.size());
    summary.factHashes.reserve(facts.size());
    for (qsizetype i = 0; i < facts.size(); ++i) {
        const QJsonValue fact = facts.at(i);
        const int index = int(i);
        if (!fact.isString()) {
            errors.add(at({field, index}), expected("a string", fact), "type_error.str");
            continue;
        }
        const QString text = fact.toString();
        if (text.isEmpty()) {
            errors.add(at({field, index}), QStringLiteral("must not be empty"),
                       "value_error.any_str.min_length");
        } else if (text.size() > limits.maxFactLength) {
            errors.add(at({field, index}),
                       QStringLiteral("ensure this value has at most %1 characters")
                           .arg(limits.maxFactLength),
                       "value_error.any_str.max_length");
        } else if (!QStringView(text).isValidUtf16()) {
            errors.add(at({field, index}), QStringLiteral("contains an unpaired surrogate"),
                       "value_error.unicode");
        } else if (!seen.contains(text)) {
            seen.insert(text);
            summary.factHashes.append(text);
        }
    }
}

// The fast path: the push bodies nearly every client sends ({"summary": {...}} with
// agent_id, timestamp, topic_counts and fact_hashes; ASCII strings without escapes; plain
// integers), read straight into a Summary without a QJsonDocument. Anything else, and any
// body that would not be accepted, returns nothing and takes the general path, which then
// gives the same result as always (tst_summaryparser compares the two on many bodies).
// Whether every byte in [p, end) is printable ASCII (0x20 to 0x7e) other than a backslash:
// eight bytes at a time with the bit tricks of "Bit Twiddling Hacks" (hasless, hasmore,
// haszero; exact as yes/no answers), the rest one by one.
bool plainAscii(const char *p, const char *end)
{
    constexpr quint64 Ones = ~quint64(0) / 255;
    constexpr quint64 High = Ones * 128;
    quint64 bad = 0;
    for (; end - p >= 8; p += 8) {
        quint64 x;
        std::memcpy(&x, p, 8);
        const quint64 backslash = x ^ (Ones * '\\');
        bad |= ((x - Ones * 0x20) & ~x & High)             // a byte below 0x20
               | (((x + Ones * (127 - 0x7e)) | x) & High)  // a byte above 0x7e
               | ((backslash - Ones) & ~backslash & High); // a backslash
    }
    for (; p != end; ++p) {
        const auto c = static_cast<unsigned char>(*p);
        bad |= quint64(c < 0x20 || c > 0x7e || c == '\\');
    }
    return bad == 0;
}

class FastReader
{
public:
    explicit FastReader(const QByteArray &body)
        : m_p(body.constData())
        , m_end(body.constData() + body.size())
    {}

    void space()
    {
        while (m_p != m_end && (*m_p == ' ' || *m_p == '\t' || *m_p == '\n' || *m_p == '\r'))
            ++m_p;
    }
    bool take(char c)
    {
        space();
        if (m_p == m_end || *m_p != c)
            return false;
        ++m_p;
        return true;
    }
    bool peek(char c)
    {
        space();
        return m_p != m_end && *m_p == c;
    }
    bool atEnd()
    {
        space();
        return m_p == m_end;
    }
    // A string of printable ASCII without escapes.
    bool string(QByteArrayView *out)
    {
        if (!take('"'))
            return false;
        const char *begin = m_p;
        // The closing quote (memchr), then every byte before it checked, eight at a time.
        const auto *quote =
            static_cast<const char *>(std::memchr(begin, '"', size_t(m_end - begin)));
        if (!quote)
            return false;
        if (!plainAscii(begin, quote))
            return false; // a control or non-ASCII byte, or a backslash
        *out = QByteArrayView(begin, quote - begin);
        m_p = quote + 1;
        return true;
    }
    // A non-negative integer of at most 15 digits (well inside what Qt keeps as an integer).
    bool integer(qint64 *out)
    {
        space();
        const char *begin = m_p;
        qint64 n = 0;
        while (m_p != m_end && *m_p >= '0' && *m_p <= '9' && m_p - begin < 16) {
            n = n * 10 + (*m_p - '0');
            ++m_p;
        }
        const qsizetype digits = m_p - begin;
        if (digits == 0 || digits > 15 || (digits > 1 && *begin == '0'))
            return false;
        *out = n;
        return true;
    }

private:
    const char *m_p;
    const char *m_end;
};

std::optional<ParseOutcome> parseFast(const QByteArray &body, const SummaryLimits &limits)
{
    FastReader in(body);
    QByteArrayView key;
    if (!in.take('{') || !in.string(&key) || key != "summary" || !in.take(':') || !in.take('{'))
        return std::nullopt;
    ParseOutcome outcome;
    Summary &s = outcome.summary;
    bool hasAgent = false;
    bool hasTimestamp = false;
    bool hasTopics = false;
    bool hasFacts = false;
    QByteArrayView timestamp; // printable ASCII: parsed as Latin-1, without a QString
    if (in.peek('}'))
        return std::nullopt; // no agent_id: the general path says so
    do {
        if (!in.string(&key) || !in.take(':'))
            return std::nullopt;
        QByteArrayView text;
        if (key == "agent_id" && !hasAgent) {
            hasAgent = true;
            if (!in.string(&text) || text.isEmpty() || text.size() > limits.maxAgentIdLength)
                return std::nullopt;
            s.agentId = QString::fromLatin1(text);
        } else if (key == "timestamp" && !hasTimestamp) {
            hasTimestamp = true;
            if (!in.string(&text) || text.size() > 64)
                return std::nullopt;
            timestamp = text;
        } else if (key == "topic_counts" && !hasTopics) {
            hasTopics = true;
            if (!in.take('{'))
                return std::nullopt;
            if (!in.take('}')) {
                do {
                    qint64 count = 0;
                    if (!in.string(&text) || text.size() > limits.maxTopicLength || !in.take(':') ||
                        !in.integer(&count) || s.topicCounts.size() >= limits.maxTopics)
                        return std::nullopt;
                    s.topicCounts.append({QString::fromLatin1(text), count});
                } while (in.take(','));
                if (!in.take('}'))
                    return std::nullopt;
            }
        } else if (key == "fact_hashes" && !hasFacts) {
            hasFacts = true;
            if (!in.take('['))
                return std::nullopt;
            if (!in.take(']')) {
                do {
                    if (!in.string(&text) || text.isEmpty() || text.size() > limits.maxFactLength ||
                        s.factHashes.size() >= limits.maxFacts)
                        return std::nullopt;
                    s.factHashes.append(QString::fromLatin1(text));
                } while (in.take(','));
                if (!in.take(']'))
                    return std::nullopt;
            }
        } else {
            return std::nullopt; // anything else (metadata, a key twice, ...)
        }
    } while (in.take(','));
    if (!in.take('}') || !in.take('}') || !in.atEnd() || !hasAgent || !hasTimestamp)
        return std::nullopt;
    // As QJsonObject gives them: sorted by name (duplicates: the general path).
    std::sort(s.topicCounts.begin(), s.topicCounts.end(),
              [](const auto &a, const auto &b) { return a.first < b.first; });
    for (qsizetype i = 1; i < s.topicCounts.size(); ++i) {
        if (s.topicCounts.at(i - 1).first == s.topicCounts.at(i).first)
            return std::nullopt;
    }
    // Duplicate facts: the first one kept (a short list compared pairwise in place, no hash
    // set, no second list).
    if (s.factHashes.size() > 1 && s.factHashes.size() <= 16) {
        QStringList &facts = s.factHashes;
        qsizetype kept = 1;
        for (qsizetype i = 1; i < facts.size(); ++i) {
            bool seen = false;
            for (qsizetype j = 0; j < kept && !seen; ++j)
                seen = facts.at(j) == facts.at(i);
            if (seen)
                continue;
            if (kept != i)
                facts[kept] = std::move(facts[i]);
            ++kept;
        }
        if (kept != facts.size())
            facts.resize(kept);
    } else if (s.factHashes.size() > 16) {
        QStringList unique;
        unique.reserve(s.factHashes.size());
        QSet<QString> seen;
        seen.reserve(s.factHashes.size());
        for (QString &fact : s.factHashes) {
            if (!seen.contains(fact)) {
                seen.insert(fact);
                unique.append(std::move(fact));
            }
        }
        s.factHashes = std::move(unique);
    }
    const std::optional<Instant> instant =
        parseIsoTimestamp(QLatin1String(timestamp.data(), timestamp.size()));
    if (!instant)
        return std::nullopt;
    s.timestamp = *instant;
    return outcome;
}

} // namespace

ParseOutcome SummaryParser::parse(const QByteArray &body) const
{
    if (std::optional<ParseOutcome> fast = parseFast(body, m_limits))
        return std::move(*fast);
    return parseGeneral(body);
}

ParseOutcome SummaryParser::parseGeneral(const QByteArray &body) const
{
    ParseOutcome outcome;

    QStringDecoder utf8(QStringDecoder::Utf8, QStringDecoder::Flag::Stateless);
    (void)QString(utf8(body));
    if (utf8.hasError()) {
        outcome.status = ParseOutcome::Status::BadEncoding;
        outcome.detail = QStringLiteral("Request body is not valid UTF-8");
        return outcome;
    }

    // JSON `null` is no body too (Qt's parser only takes an object or array at the top).
    const QByteArray trimmedBody = body.trimmed();
    if (trimmedBody.isEmpty() || trimmedBody == "null") {
        outcome.status = ParseOutcome::Status::Invalid;
        outcome.errors.append({QJsonArray{QStringLiteral("body")}, QStringLiteral("field required"),
                               QStringLiteral("value_error.missing")});
        return outcome;
    }

    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(body, &error);
    if (error.error != QJsonParseError::NoError) {
        outcome.status = ParseOutcome::Status::Invalid;
        outcome.errors.append({QJsonArray{QStringLiteral("body"), error.offset},
                               QStringLiteral("JSON decode error: %1 at offset %2")
                                   .arg(error.errorString())
                                   .arg(error.offset),
                               QStringLiteral("value_error.jsondecode")});
        return outcome;
    }

    ErrorList errors;
    const QJsonValue envelope = doc.isObject() ? QJsonValue(doc.object().value(u"summary"))
                                               : QJsonValue(QJsonValue::Undefined);
    if (!doc.isObject() || envelope.isUndefined() || envelope.isNull()) {
        errors.add(QJsonArray{QStringLiteral("body"), QStringLiteral("summary")},
                   QStringLiteral("field required"), "value_error.missing");
    } else if (!envelope.isObject()) {
        errors.add(QJsonArray{QStringLiteral("body"), QStringLiteral("summary")},
                   expected("an object", envelope), "type_error.dict");
    }
    if (!errors.isEmpty()) {
        outcome.status = ParseOutcome::Status::Invalid;
        outcome.errors = errors.take();
        return outcome;
    }

    const QJsonObject summary = envelope.toObject();
    Summary &s = outcome.summary;
    requireString(summary, "agent_id", m_limits.maxAgentIdLength, errors, &s.agentId);
    QString timestamp;
    requireString(summary, "timestamp", 64, errors, &timestamp, /*allowEmpty=*/true);
    parseTopics(summary.value(u"topic_counts"), m_limits, errors, s);
    parseFacts(summary.value(u"fact_hashes"), m_limits, errors, s);

    const QJsonValue metadata = summary.value(u"metadata");
    if (metadata.isObject()) {
        s.metadata = metadata.toObject();
        s.hasMetadata = true;
        const qsizetype size = QJsonDocument(s.metadata).toJson(QJsonDocument::Compact).size();
        if (size > m_limits.maxMetadataBytes) {
            errors.add(at({QStringLiteral("metadata")}),
                       QStringLiteral("metadata is %1 bytes, at most %2 are allowed")
                           .arg(size)
                           .arg(m_limits.maxMetadataBytes),
                       "value_error.too_large");
        }
    } else if (!metadata.isUndefined() && !metadata.isNull()) {
        errors.add(at({QStringLiteral("metadata")}), expected("an object", metadata),
                   "type_error.dict");
    }

    const QJsonValue memoryTypes = summary.value(u"memory_types");
    if (memoryTypes.isArray()) {
        s.memoryTypes = memoryTypes.toArray();
        s.hasMemoryTypes = true;
        for (qsizetype i = 0; i < s.memoryTypes.size(); ++i) {
            if (!s.memoryTypes.at(i).isString()) {
                errors.add(at({QStringLiteral("memory_types"), int(i)}),
                           expected("a string", s.memoryTypes.at(i)), "type_error.str");
            }
        }
        if (s.memoryTypes.size() > m_limits.maxTopics) {
            errors.add(
                at({QStringLiteral("memory_types")}),
                QStringLiteral("at most %1 memory types are allowed").arg(m_limits.maxTopics),
                "value_error.list.max_items");
        }
    } else if (!memoryTypes.isUndefined() && !memoryTypes.isNull()) {
        errors.add(at({QStringLiteral("memory_types")}),
                   expected("an array of strings", memoryTypes), "type_error.list");
    }

    if (!errors.isEmpty()) {
        outcome.status = ParseOutcome::Status::Invalid;
        outcome.errors = errors.take();
        outcome.summary = {};
        return outcome;
    }

    const std::optional<Instant> instant = parseIsoTimestamp(timestamp);
    if (!instant) {
        outcome.status = ParseOutcome::Status::BadTimestamp;
        outcome.detail = InvalidTimestampDetail;
        outcome.summary = {};
        return outcome;
    }
    s.timestamp = *instant;
    return outcome;
}

} // namespace agmem
