#include "operationsapi.h"

#include "coordinatorapi.h"

#include "core/logging.h"

#include <QFile>
#include <QHostAddress>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <zlib.h>

#include <algorithm>

namespace agmem {

namespace {

constexpr qint64 DefaultLimit = 100;
constexpr qint64 MaxLimit = 1000;

// Reads an integer query parameter as FastAPI validates one: errors go to `errors` in its
// {"loc", "msg", "type"} shape.
qint64 intParameter(const QUrlQuery &query, const QString &name, qint64 fallback, qint64 min,
                    qint64 max, QJsonArray *errors)
{
    if (!query.hasQueryItem(name))
        return fallback;
    const QString text = query.queryItemValue(name, QUrl::FullyDecoded).trimmed();
    bool ok = false;
    const qint64 value = text.toLongLong(&ok);
    const QJsonArray loc{QStringLiteral("query"), name};
    if (!ok) {
        errors->append(
            QJsonObject{{QStringLiteral("loc"), loc},
                        {QStringLiteral("msg"), QStringLiteral("value is not a valid integer")},
                        {QStringLiteral("type"), QStringLiteral("type_error.integer")}});
    } else if (value < min) {
        errors->append(QJsonObject{
            {QStringLiteral("loc"), loc},
            {QStringLiteral("msg"),
             QStringLiteral("ensure this value is greater than or equal to %1").arg(min)},
            {QStringLiteral("type"), QStringLiteral("value_error.number.not_ge")},
            {QStringLiteral("ctx"), QJsonObject{{QStringLiteral("limit_value"), min}}}});
    } else if (value > max) {
        errors->append(QJsonObject{
            {QStringLiteral("loc"), loc},
            {QStringLiteral("msg"),
             QStringLiteral("ensure this value is less than or equal to %1").arg(max)},
            {QStringLiteral("type"), QStringLiteral("value_error.number.not_le")},
            {QStringLiteral("ctx"), QJsonObject{{QStringLiteral("limit_value"), max}}}});
    }
    return value;
}

QJsonObject topicsJson(const QList<QPair<QString, qint64>> &topics)
{
    QJsonObject out;
    for (const auto &[topic, count] : topics)
        out.insert(topic, count);
    return out;
}

QJsonObject agentJson(const AgentState &agent, bool withFacts)
{
    QJsonObject out{{QStringLiteral("agent_id"), agent.agentId},
                    {QStringLiteral("first_seen"), formatIsoTimestamp(agent.firstSeen)},
                    {QStringLiteral("last_seen"), formatIsoTimestamp(agent.lastSeen)},
                    {QStringLiteral("push_count"), agent.pushCount}};
    if (agent.current) {
        out.insert(QStringLiteral("timestamp"), formatIsoTimestamp(agent.current->timestamp));
        out.insert(QStringLiteral("topic_counts"), topicsJson(agent.current->topics));
        out.insert(QStringLiteral("fact_count"), qint64(agent.current->facts.size()));
        if (withFacts)
            out.insert(QStringLiteral("fact_hashes"),
                       QJsonArray::fromStringList(agent.current->facts));
    } else {
        out.insert(QStringLiteral("timestamp"), QJsonValue::Null);
        out.insert(QStringLiteral("topic_counts"), QJsonObject{});
        out.insert(QStringLiteral("fact_count"), 0);
        if (withFacts)
            out.insert(QStringLiteral("fact_hashes"), QJsonArray{});
    }
    return out;
}

QString html(const QString &text)
{
    return text.toHtmlEscaped();
}

} // namespace

OperationsApi::OperationsApi(const ServerConfig &config, const CoordinatorWriter &view,
                             Store &reader)
    : m_config(config)
    , m_view(view)
    , m_store(reader)
{}

HttpReply OperationsApi::listAgents(const HttpRequest &request) const
{
    QJsonArray errors;
    const qint64 limit =
        intParameter(request.query, QStringLiteral("limit"), DefaultLimit, 1, MaxLimit, &errors);
    const qint64 offset = intParameter(request.query, QStringLiteral("offset"), 0, 0,
                                       std::numeric_limits<int>::max(), &errors);
    if (!errors.isEmpty())
        return HttpReply::validationError(errors);

    // A copy (implicitly shared: cheap here, the writer pays a detach on its next change).
    const QHash<QString, AgentState> all = m_view.read(
        [](const MergeEngine &engine, const WriterTotals &) { return engine.agents(); });
    QList<const AgentState *> agents;
    agents.reserve(all.size());
    for (const AgentState &a : all)
        agents.append(&a);
    // Newest first; the agent id breaks ties, so pages are stable.
    std::sort(agents.begin(), agents.end(), [](const AgentState *a, const AgentState *b) {
        if (a->lastSeen != b->lastSeen)
            return a->lastSeen > b->lastSeen;
        return CodePointLess()(a->agentId, b->agentId);
    });
    QJsonArray page;
    for (qint64 i = offset; i < agents.size() && i < offset + limit; ++i)
        page.append(agentJson(*agents.at(i), false));
    const qint64 next = offset + limit;
    return HttpReply::json(
        200, QJsonObject{{QStringLiteral("agents"), page},
                         {QStringLiteral("total"), qint64(agents.size())},
                         {QStringLiteral("limit"), limit},
                         {QStringLiteral("offset"), offset},
                         {QStringLiteral("next_offset"),
                          next < agents.size() ? QJsonValue(next) : QJsonValue::Null}});
}

HttpReply OperationsApi::agentDetail(const HttpRequest &request, const QString &agentId)
{
    const std::optional<AgentState> agent = m_view.read(
        [&agentId](const MergeEngine &engine, const WriterTotals &) -> std::optional<AgentState> {
            const auto it = engine.agents().constFind(agentId);
            if (it == engine.agents().cend())
                return std::nullopt;
            return *it;
        });
    if (!agent)
        return HttpReply::error(404, QStringLiteral("Agent not found"));
    QJsonArray errors;
    const qint64 limit =
        intParameter(request.query, QStringLiteral("limit"), DefaultLimit, 1, MaxLimit, &errors);
    const qint64 before = intParameter(request.query, QStringLiteral("before"), 0, 1,
                                       std::numeric_limits<qint64>::max(), &errors);
    if (!errors.isEmpty())
        return HttpReply::validationError(errors);
    const auto records = m_store.agentHistoryPage(agentId, int(limit), before);
    if (!records)
        return HttpReply::error(
            503, QStringLiteral("The store is unreachable: %1").arg(m_store.lastError().left(200)));
    QJsonArray history;
    for (const Store::PushRecord &r : *records) {
        history.append(QJsonObject{
            {QStringLiteral("id"), r.id},
            {QStringLiteral("timestamp"), formatIsoTimestamp(r.summary.timestamp)},
            {QStringLiteral("received_at"), formatIsoTimestamp(r.receivedAt)},
            {QStringLiteral("source"), r.source},
            {QStringLiteral("topic_counts"), topicsJson(r.summary.topicCounts)},
            {QStringLiteral("fact_hashes"), QJsonArray::fromStringList(r.summary.factHashes)}});
    }
    const bool full = records->size() == limit;
    return HttpReply::json(200,
                           QJsonObject{{QStringLiteral("agent"), agentJson(*agent, true)},
                                       {QStringLiteral("history"), history},
                                       {QStringLiteral("limit"), limit},
                                       {QStringLiteral("next_before"),
                                        full ? QJsonValue(records->last().id) : QJsonValue::Null}});
}

HttpReply OperationsApi::metricsReply()
{
    Metrics::Gauges gauges;
    m_view.read([&gauges](const MergeEngine &engine, const WriterTotals &) {
        gauges.agents = engine.agentCount();
        gauges.uniqueFacts = qint64(engine.factHolders().size());
        gauges.topics = qint64(engine.topicTotals().size());
        return true;
    });
    gauges.storeBytes = m_store.sizeBytes().value_or(-1);
    gauges.openConnections = m_openConnections ? m_openConnections() : 0;
    HttpReply reply;
    reply.status = 200;
    reply.body = m_metrics.exposition(gauges);
    reply.headers = {{"Content-Type", "text/plain; version=0.0.4; charset=utf-8"}};
    return reply;
}

QByteArray OperationsApi::gzip(const QByteArray &data)
{
    // RFC 1952: a 10-byte header, raw deflate, then CRC-32 and size (little-endian).
    QByteArray out("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff", 10);
    z_stream stream = {};
    if (deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        return {};
    const qsizetype headerSize = out.size();
    out.resize(headerSize + qsizetype(deflateBound(&stream, uLong(data.size()))));
    stream.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(data.constData()));
    stream.avail_in = uInt(data.size());
    stream.next_out = reinterpret_cast<Bytef *>(out.data() + headerSize);
    stream.avail_out = uInt(out.size() - headerSize);
    const int result = deflate(&stream, Z_FINISH);
    const qsizetype written = qsizetype(stream.total_out);
    deflateEnd(&stream);
    if (result != Z_STREAM_END)
        return {};
    out.resize(headerSize + written);
    const uLong crc = crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef *>(data.constData()),
                            uInt(data.size()));
    const quint32 size = quint32(data.size()); // modulo 2^32, as the format says
    for (const quint32 word : {quint32(crc), size}) {
        for (int i = 0; i < 4; ++i)
            out.append(char((word >> (8 * i)) & 0xff));
    }
    return out;
}

QByteArray OperationsApi::openApiDocument()
{
    static const QByteArray document = [] {
        QFile file(QStringLiteral(":/agmem/openapi.json"));
        if (!file.open(QIODevice::ReadOnly))
            return QByteArray("{}");
        QJsonObject root = QJsonDocument::fromJson(file.readAll()).object();
        QJsonObject info = root.value(u"info").toObject();
        info.insert(QStringLiteral("version"), QStringLiteral(AGMEM_VERSION));
        root.insert(QStringLiteral("info"), info);
        return QJsonDocument(root).toJson(QJsonDocument::Indented);
    }();
    return document;
}

QByteArray OperationsApi::docsPage(const QByteArray &openApi)
{
    const QJsonObject root = QJsonDocument::fromJson(openApi).object();
    const QJsonObject info = root.value(u"info").toObject();
    const QJsonObject paths = root.value(u"paths").toObject();
    const QJsonObject schemas = root.value(u"components").toObject().value(u"schemas").toObject();
    QString out;
    out +=
        QStringLiteral("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    out += u"<title>" + html(info.value(u"title").toString()) + u" API</title>";
    out += QStringLiteral(
        "<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;"
        "padding:0 1rem;color:#222;line-height:1.45}h2{border-bottom:1px solid #ccc;"
        "padding-bottom:.2rem;margin-top:2.5rem}.op{border:1px solid #ddd;border-radius:6px;"
        "margin:1rem 0;padding:.6rem 1rem}.m{display:inline-block;min-width:4.5rem;"
        "font-weight:bold;font-family:monospace}.get{color:#0a6}.post{color:#06c}"
        ".delete{color:#c20}.head{color:#777}code,pre{background:#f5f5f5;border-radius:4px}"
        "pre{padding:.5rem;overflow:auto;font-size:.85rem}table{border-collapse:collapse}"
        "td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left;vertical-align:top}"
        ".scope{font-size:.85rem;color:#555}</style></head><body>\n");
    out += u"<h1>" + html(info.value(u"title").toString()) + u" <small>" +
           html(info.value(u"version").toString()) + u"</small></h1>\n";
    out += u"<p>" + html(info.value(u"description").toString()) + u"</p>\n";
    static const QStringList methods{QStringLiteral("get"), QStringLiteral("head"),
                                     QStringLiteral("post"), QStringLiteral("delete")};
    for (auto it = paths.begin(); it != paths.end(); ++it) {
        const QJsonObject item = it.value().toObject();
        out += u"<h2 id=\"" + html(it.key()) + u"\"><code>" + html(it.key()) + u"</code></h2>\n";
        for (const QString &method : methods) {
            if (!item.contains(method))
                continue;
            const QJsonObject op = item.value(method).toObject();
            out += u"<div class=\"op\"><p><span class=\"m " + method + u"\">" + method.toUpper() +
                   u"</span> <code>" + html(it.key()) + u"</code> — " +
                   html(op.value(u"summary").toString());
            const QString scope = op.value(u"x-scope").toString();
            if (!scope.isEmpty())
                out += u" <span class=\"scope\">(scope: " + html(scope) + u")</span>";
            out += u"</p>";
            if (op.contains(u"description"))
                out += u"<p>" + html(op.value(u"description").toString()) + u"</p>";
            const QJsonArray parameters = op.value(u"parameters").toArray();
            if (!parameters.isEmpty()) {
                out += QStringLiteral(
                    "<table><tr><th>Parameter</th><th>In</th><th>Description</th></tr>");
                for (const QJsonValue &p : parameters) {
                    const QJsonObject o = p.toObject();
                    out += u"<tr><td><code>" + html(o.value(u"name").toString()) +
                           u"</code></td><td>" + html(o.value(u"in").toString()) + u"</td><td>" +
                           html(o.value(u"description").toString()) + u"</td></tr>";
                }
                out += u"</table>";
            }
            if (op.contains(u"requestBody")) {
                const QJsonObject schema = op.value(u"requestBody")
                                               .toObject()
                                               .value(u"content")
                                               .toObject()
                                               .value(u"application/json")
                                               .toObject()
                                               .value(u"schema")
                                               .toObject();
                out += u"<p>Request body:</p><pre>" +
                       html(QString::fromUtf8(QJsonDocument(schema).toJson())) + u"</pre>";
            }
            const QJsonObject responses = op.value(u"responses").toObject();
            out += QStringLiteral("<table><tr><th>Status</th><th>Response</th></tr>");
            for (auto r = responses.begin(); r != responses.end(); ++r) {
                out += u"<tr><td>" + html(r.key()) + u"</td><td>" +
                       html(r.value().toObject().value(u"description").toString()) + u"</td></tr>";
            }
            out += u"</table></div>\n";
        }
    }
    if (!schemas.isEmpty()) {
        out += u"<h2 id=\"schemas\">Schemas</h2>\n";
        for (auto it = schemas.begin(); it != schemas.end(); ++it) {
            out += u"<h3 id=\"schema-" + html(it.key()) + u"\">" + html(it.key()) + u"</h3><pre>" +
                   html(QString::fromUtf8(QJsonDocument(it.value().toObject()).toJson())) +
                   u"</pre>\n";
        }
    }
    out += u"</body></html>\n";
    return out.toUtf8();
}

} // namespace agmem
