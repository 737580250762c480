#include "exporter.h"

#include "core/jsonwriter.h"
#include "core/timestamp.h"

#include <QIODevice>
#include <QJsonDocument>
#include <QSaveFile>

#include <algorithm>
#include <initializer_list>

namespace agmem {

namespace {

const QByteArray CsvEnd = QByteArrayLiteral("\r\n");

QString cancelledText()
{
    return QStringLiteral("cancelled");
}

void appendCsvRow(QByteArray *out, std::initializer_list<QByteArray> fields)
{
    bool first = true;
    for (const QByteArray &field : fields) {
        if (!first)
            out->append(',');
        first = false;
        out->append(field);
    }
    out->append(CsvEnd);
}

QByteArray number(qint64 n)
{
    return QByteArray::number(n);
}

QByteArray iso(Instant instant)
{
    return formatIsoTimestamp(instant).toLatin1();
}

} // namespace

QString exportWhatName(ExportWhat what)
{
    switch (what) {
    case ExportWhat::Merged:
        return QStringLiteral("merged");
    case ExportWhat::Agents:
        return QStringLiteral("agents");
    case ExportWhat::History:
        return QStringLiteral("history");
    }
    return {};
}

std::optional<ExportWhat> exportWhatFromName(QStringView name)
{
    for (ExportWhat what : {ExportWhat::Merged, ExportWhat::Agents, ExportWhat::History}) {
        if (name == exportWhatName(what))
            return what;
    }
    return std::nullopt;
}

QString exportFormatName(ExportFormat format)
{
    return format == ExportFormat::Json ? QStringLiteral("json") : QStringLiteral("csv");
}

std::optional<ExportFormat> exportFormatFromName(QStringView name)
{
    for (ExportFormat format : {ExportFormat::Json, ExportFormat::Csv}) {
        if (name == exportFormatName(format))
            return format;
    }
    return std::nullopt;
}

QByteArray Exporter::csvField(QStringView text, bool userText)
{
    QString value = text.toString();
    if (userText && !value.isEmpty() && QStringView(u"=+-@\t\r").contains(value.front()))
        value.prepend(u'\'');
    QByteArray utf8 = value.toUtf8();
    if (utf8.contains(',') || utf8.contains('"') || utf8.contains('\r') || utf8.contains('\n')) {
        utf8.replace("\"", "\"\"");
        utf8.prepend('"');
        utf8.append('"');
    }
    return utf8;
}

bool Exporter::report(qint64 done, qint64 total)
{
    return !m_progress || m_progress(done, total);
}

bool Exporter::put(QIODevice *device, const QByteArray &bytes, ExportResult &result)
{
    if (bytes.isEmpty())
        return true;
    if (device->write(bytes) != bytes.size()) {
        result.error = QStringLiteral("cannot write: %1").arg(device->errorString());
        return false;
    }
    result.bytes += bytes.size();
    return true;
}

ExportResult Exporter::write(ExportWhat what, ExportFormat format, QIODevice *device)
{
    switch (what) {
    case ExportWhat::Merged:
        return writeMerged(format, device);
    case ExportWhat::Agents:
        return writeAgents(format, device);
    case ExportWhat::History:
        return writeHistory(format, device);
    }
    return {};
}

ExportResult Exporter::writeFile(ExportWhat what, ExportFormat format, const QString &path)
{
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly)) {
        ExportResult result;
        result.error = QStringLiteral("cannot write %1: %2").arg(path, file.errorString());
        return result;
    }
    ExportResult result = write(what, format, &file);
    if (!result.ok) {
        file.cancelWriting(); // the temporary file goes, `path` stays as it was
        return result;
    }
    if (!file.commit()) {
        result.ok = false;
        result.error = QStringLiteral("cannot save %1: %2").arg(path, file.errorString());
    }
    return result;
}

ExportResult Exporter::writeMerged(ExportFormat format, QIODevice *device)
{
    ExportResult result;
    // The state and every agent in one statement: one consistent snapshot, as a server
    // on the same database answers /pull (the merge mode is the one the stored
    // contributions were computed with, which a running server also uses).
    MergeEngine loaded;
    const std::optional<StoreState> state = m_store.loadChanges(loaded, 0);
    if (!state) {
        result.error = QStringLiteral("cannot read the merged view: %1").arg(m_store.lastError());
        return result;
    }
    const std::optional<MergeMode> mode = mergeModeFromName(state->mergeMode);
    if (!mode) {
        result.error = QStringLiteral("the database names an unknown merge mode \"%1\"")
                           .arg(state->mergeMode.left(40));
        return result;
    }
    MergeEngine engine(*mode);
    {
        const QHash<QString, AgentState> agents = loaded.agents();
        loaded.clear();
        for (const AgentState &agent : agents)
            engine.restore(agent);
    }
    engine.setSequence(state->sequence);

    const TopicTotals &topics = engine.topicTotals();
    const FactHolders &facts = engine.factHolders();
    const qint64 total = qint64(topics.size()) + qint64(facts.size());
    if (!report(0, total)) {
        result.cancelled = true;
        result.error = cancelledText();
        return result;
    }
    if (format == ExportFormat::Json) {
        if (!put(device, engine.pullJson(), result))
            return result;
        result.records = total;
    } else {
        QByteArray out;
        appendCsvRow(&out, {"kind", "name", "count"});
        const auto flush = [&](bool last) {
            if (!last && result.records % m_batchSize != 0)
                return true;
            if (!put(device, out, result))
                return false;
            out.clear();
            if (!report(result.records, total)) {
                result.cancelled = true;
                result.error = cancelledText();
                return false;
            }
            return true;
        };
        // The engine's maps are hashed: rows in code-point order, as /pull lists them.
        std::vector<std::pair<QString, qint64>> sortedTopics;
        sortedTopics.reserve(topics.size());
        for (const auto &[topic, totals] : topics)
            sortedTopics.emplace_back(topic, totals.total);
        std::sort(sortedTopics.begin(), sortedTopics.end(),
                  [](const auto &a, const auto &b) { return CodePointLess{}(a.first, b.first); });
        std::vector<std::pair<QString, qint64>> sortedFacts(facts.begin(), facts.end());
        std::sort(sortedFacts.begin(), sortedFacts.end(),
                  [](const auto &a, const auto &b) { return CodePointLess{}(a.first, b.first); });
        for (const auto &[topic, count] : sortedTopics) {
            appendCsvRow(&out, {"topic", csvField(topic, true), number(count)});
            ++result.records;
            if (!flush(false))
                return result;
        }
        for (const auto &[fact, holders] : sortedFacts) {
            appendCsvRow(&out, {"fact", csvField(fact, true), number(holders)});
            ++result.records;
            if (!flush(false))
                return result;
        }
        if (!out.isEmpty() && !flush(true))
            return result;
    }
    if (format == ExportFormat::Json) {
        if (!report(total, total)) {
            result.cancelled = true;
            result.error = cancelledText();
            return result;
        }
    }
    result.ok = true;
    return result;
}

ExportResult Exporter::writeAgents(ExportFormat format, QIODevice *device)
{
    ExportResult result;
    const std::optional<qint64> counted = m_store.agentCount();
    if (!counted) {
        result.error = QStringLiteral("cannot count the agents: %1").arg(m_store.lastError());
        return result;
    }
    qint64 total = *counted;
    const auto cancel = [&result] {
        result.cancelled = true;
        result.error = cancelledText();
        return result;
    };
    if (!report(0, total))
        return cancel();
    QByteArray out;
    if (format == ExportFormat::Csv)
        appendCsvRow(&out, {"agent_id", "first_seen", "last_seen", "pushes", "topics", "facts"});
    else
        out.append('[');
    QString after = QStringLiteral("");
    while (true) {
        const std::optional<QList<AgentState>> batch = m_store.agentsBatch(after, m_batchSize);
        if (!batch) {
            result.error = QStringLiteral("cannot read the agents: %1").arg(m_store.lastError());
            return result;
        }
        for (const AgentState &agent : *batch) {
            const qint64 topics = agent.current ? qint64(agent.current->topics.size()) : 0;
            const qint64 facts = agent.current ? qint64(agent.current->facts.size()) : 0;
            if (format == ExportFormat::Csv) {
                appendCsvRow(&out, {csvField(agent.agentId, true), iso(agent.firstSeen),
                                    iso(agent.lastSeen), number(agent.pushCount), number(topics),
                                    number(facts)});
            } else {
                out.append(result.records == 0 ? "\n" : ",\n");
                JsonWriter json(&out);
                json.beginObject();
                json.key("agent_id");
                json.value(agent.agentId);
                json.key("first_seen");
                json.value(formatIsoTimestamp(agent.firstSeen));
                json.key("last_seen");
                json.value(formatIsoTimestamp(agent.lastSeen));
                json.key("pushes");
                json.value(agent.pushCount);
                json.key("topics");
                json.value(topics);
                json.key("facts");
                json.value(facts);
                json.endObject();
            }
            ++result.records;
        }
        if (!batch->isEmpty())
            after = batch->last().agentId;
        if (batch->size() < m_batchSize && format == ExportFormat::Json)
            out.append(result.records == 0 ? "]\n" : "\n]\n");
        if (!put(device, out, result))
            return result;
        out.clear();
        // Agents that arrived since the count are exported too.
        total = qMax(total, result.records);
        if (!report(result.records, total))
            return cancel();
        if (batch->size() < m_batchSize)
            break;
    }
    if (result.records != total && !report(result.records, result.records))
        return cancel();
    result.ok = true;
    return result;
}

ExportResult Exporter::writeHistory(ExportFormat format, QIODevice *device)
{
    ExportResult result;
    // The history up to its newest row now: pushes arriving during the export are left
    // for the next one, so the total is known and the export ends.
    const std::optional<Store::HistoryExtent> extent = m_store.historyExtent();
    if (!extent) {
        result.error = QStringLiteral("cannot read the history: %1").arg(m_store.lastError());
        return result;
    }
    const qint64 total = extent->count;
    const auto cancel = [&result] {
        result.cancelled = true;
        result.error = cancelledText();
        return result;
    };
    if (!report(0, total))
        return cancel();
    QByteArray out;
    if (format == ExportFormat::Csv) {
        appendCsvRow(&out,
                     {"id", "agent_id", "timestamp", "received_at", "source", "topics", "facts"});
    }
    qint64 after = 0;
    while (after < extent->maxId) {
        const std::optional<QList<Store::PushRecord>> batch =
            m_store.historyBatch(after, extent->maxId, m_batchSize);
        if (!batch) {
            result.error = QStringLiteral("cannot read the history: %1").arg(m_store.lastError());
            return result;
        }
        for (const Store::PushRecord &r : *batch) {
            const Summary &s = r.summary;
            if (format == ExportFormat::Csv) {
                appendCsvRow(&out, {number(r.id), csvField(s.agentId, true), iso(s.timestamp),
                                    iso(r.receivedAt), csvField(r.source, true),
                                    number(s.topicCounts.size()), number(s.factHashes.size())});
            } else {
                JsonWriter json(&out);
                json.beginObject();
                json.key("id");
                json.value(r.id);
                json.key("agent_id");
                json.value(s.agentId);
                json.key("timestamp");
                json.value(formatIsoTimestamp(s.timestamp));
                json.key("received_at");
                json.value(formatIsoTimestamp(r.receivedAt));
                json.key("source");
                json.value(r.source);
                json.key("topic_counts");
                json.beginObject();
                for (const auto &[topic, count] : s.topicCounts) {
                    json.key(topic);
                    json.value(count);
                }
                json.endObject();
                json.key("fact_hashes");
                json.beginArray();
                for (const QString &fact : s.factHashes)
                    json.value(fact);
                json.endArray();
                if (s.hasMetadata) {
                    json.key("metadata");
                    json.raw(QJsonDocument(s.metadata).toJson(QJsonDocument::Compact));
                }
                if (s.hasMemoryTypes) {
                    json.key("memory_types");
                    json.raw(QJsonDocument(s.memoryTypes).toJson(QJsonDocument::Compact));
                }
                json.endObject();
                out.append('\n');
            }
            ++result.records;
        }
        if (!put(device, out, result))
            return result;
        out.clear();
        if (!report(result.records, qMax(total, result.records)))
            return cancel();
        if (batch->size() < m_batchSize)
            break;
        after = batch->last().id;
    }
    if (!put(device, out, result)) // the CSV header of an empty history
        return result;
    // Rows deleted meanwhile (retention, a forgotten agent): the total shrinks to what was.
    if (result.records != total && !report(result.records, result.records))
        return cancel();
    result.ok = true;
    return result;
}

} // namespace agmem
