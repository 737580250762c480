#include "operationsapi.h"

#include "coordinatorapi.h"

#include "core/logging.h"
#include "core/pullanswer.h"

#include <QFile>
#include <QHostAddress>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <algorithm>
#include <vector>

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

// ?q= as the dashboard's filter boxes send it: a case-insensitive substring, at most 256
// characters (else a validation error in `errors`).
QString searchParameter(const QUrlQuery &query, QJsonArray *errors)
{
    const QString q = query.queryItemValue(QStringLiteral("q"), QUrl::FullyDecoded);
    if (q.size() > 256) {
        errors->append(QJsonObject{
            {QStringLiteral("loc"), QJsonArray{QStringLiteral("query"), QStringLiteral("q")}},
            {QStringLiteral("msg"), QStringLiteral("ensure this value has at most 256 characters")},
            {QStringLiteral("type"), QStringLiteral("value_error.any_str.max_length")},
            {QStringLiteral("ctx"), QJsonObject{{QStringLiteral("limit_value"), 256}}}});
    }
    return q;
}

QJsonValue nextOffset(qint64 offset, qint64 limit, qint64 total)
{
    return offset + limit < total ? QJsonValue(offset + limit) : QJsonValue::Null;
}

// ?limit=&offset=&q= of the paged lists (/agents, /topics, /facts); problems go to `errors`.
struct PageQuery
{
    qint64 limit = 0;
    qint64 offset = 0;
    QString q;
};

PageQuery pageQuery(const QUrlQuery &query, QJsonArray *errors)
{
    PageQuery page;
    page.limit = intParameter(query, QStringLiteral("limit"), DefaultLimit, 1, MaxLimit, errors);
    page.offset = intParameter(query, QStringLiteral("offset"), 0, 0,
                               std::numeric_limits<int>::max(), errors);
    page.q = searchParameter(query, errors);
    return page;
}

// One page of a list, as every paged route answers it: the items under `key`.
QJsonObject pageJson(const QString &key, const QJsonArray &items, qint64 total,
                     const PageQuery &query)
{
    return QJsonObject{
        {key, items},
        {QStringLiteral("total"), total},
        {QStringLiteral("limit"), query.limit},
        {QStringLiteral("offset"), query.offset},
        {QStringLiteral("next_offset"), nextOffset(query.offset, query.limit, total)}};
}

// The page [offset, offset + limit) of `keys` in code-point order, without sorting all of
// them (the merged view's containers are hashed: their order is none). Linear in the keys.
template <typename It>
std::vector<It> sortedPage(std::vector<It> keys, qint64 offset, qint64 limit)
{
    const auto less = [](const It &a, const It &b) { return CodePointLess{}(a->first, b->first); };
    const auto total = qint64(keys.size());
    if (offset >= total)
        return {};
    const auto first = keys.begin() + offset;
    const auto last = keys.begin() + std::min(total, offset + limit);
    if (offset > 0)
        std::nth_element(keys.begin(), first, keys.end(), less);
    std::partial_sort(first, last, keys.end(), less);
    return std::vector<It>(first, last);
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

} // namespace

OperationsApi::OperationsApi(const ServerConfig &config, const CoordinatorWriter &view,
                             Store &reader)
    : m_config(config)
    , m_view(view)
    , m_store(reader)
{}

HttpReply OperationsApi::listTopics(const HttpRequest &request) const
{
    QJsonArray errors;
    const PageQuery query = pageQuery(request.query, &errors);
    const auto &[limit, offset, q] = query;
    if (!errors.isEmpty())
        return HttpReply::validationError(errors);
    // In topic order (as /pull); the filter walks every topic, the page only what it shows.
    // Under the writer's read lock: the page is small, the walk is over the totals only.
    QJsonArray page;
    const qint64 matched =
        m_view.read([&](const MergeEngine &engine, const WriterTotals &) -> qint64 {
            using It = TopicTotals::const_iterator;
            std::vector<It> keys;
            keys.reserve(engine.topicTotals().size());
            for (auto it = engine.topicTotals().cbegin(); it != engine.topicTotals().cend(); ++it) {
                if (q.isEmpty() || it->first.contains(q, Qt::CaseInsensitive))
                    keys.push_back(it);
            }
            const auto n = qint64(keys.size());
            for (const It &it : sortedPage(std::move(keys), offset, limit)) {
                page.append(QJsonObject{{QStringLiteral("topic"), it->first},
                                        {QStringLiteral("total"), it->second.total},
                                        {QStringLiteral("agents"), it->second.holders}});
            }
            return n;
        });
    return HttpReply::json(200, pageJson(QStringLiteral("topics"), page, matched, query));
}

HttpReply OperationsApi::topicAgents(const HttpRequest &request, const QString &topic) const
{
    Q_UNUSED(request);
    QList<QPair<qint64, QString>> rows;
    const std::optional<qint64> total =
        m_view.read([&](const MergeEngine &engine, const WriterTotals &) -> std::optional<qint64> {
            const auto it = engine.topicTotals().find(topic);
            if (it == engine.topicTotals().end())
                return std::nullopt;
            for (const AgentState &a : engine.agents()) {
                if (!a.current)
                    continue;
                const auto &topics = a.current->topics;
                const auto t =
                    std::lower_bound(topics.begin(), topics.end(), topic,
                                     [](const QPair<QString, qint64> &e, const QString &k) {
                                         return CodePointLess{}(e.first, k);
                                     });
                if (t != topics.end() && t->first == topic)
                    rows.append({t->second, a.agentId});
            }
            return it->second.total;
        });
    if (!total)
        return HttpReply::error(404, QStringLiteral("Topic not found"));
    // Largest count first; the agent id breaks ties.
    std::sort(rows.begin(), rows.end(), [](const auto &x, const auto &y) {
        return x.first != y.first ? x.first > y.first : CodePointLess{}(x.second, y.second);
    });
    QJsonArray agents;
    for (const auto &[count, agent] : rows)
        agents.append(
            QJsonObject{{QStringLiteral("agent_id"), agent}, {QStringLiteral("count"), count}});
    return HttpReply::json(200, QJsonObject{{QStringLiteral("topic"), topic},
                                            {QStringLiteral("total"), *total},
                                            {QStringLiteral("agents"), agents}});
}

HttpReply OperationsApi::pushesPerMinute()
{
    // The last hour, as the window's chart reads it at launch (bounded walk of the history),
    // through this thread's read-only connection.
    constexpr qint64 MaxRows = 500000;
    const Instant since = now() - Instant(59) * 60 * 1000000;
    const auto minutes = m_store.pushesPerMinute(since, MaxRows);
    if (!minutes)
        return HttpReply::error(
            503, QStringLiteral("The store is unreachable: %1").arg(m_store.lastError().left(200)));
    QJsonArray out;
    for (const Store::MinuteCount &m : minutes->minutes)
        out.append(QJsonObject{{QStringLiteral("minute"), formatIsoTimestamp(m.minute)},
                               {QStringLiteral("pushes"), m.pushes}});
    return HttpReply::json(200, QJsonObject{{QStringLiteral("minutes"), out},
                                            {QStringLiteral("complete"), minutes->complete}});
}

HttpReply OperationsApi::listFacts(const HttpRequest &request) const
{
    QJsonArray errors;
    const PageQuery query = pageQuery(request.query, &errors);
    const auto &[limit, offset, q] = query;
    if (!errors.isEmpty())
        return HttpReply::validationError(errors);
    // The sorted facts are kept in chunks by the /pull answer: a page (or a search) is read
    // from them outside the view's lock, never by sorting the whole set again after a
    // change (a million facts: ~1 s).
    const std::shared_ptr<PullAnswer> answer = m_view.read(
        [](const MergeEngine &engine, const WriterTotals &) { return engine.answer(); });
    const PullAnswer::FactsPage found = answer->facts(offset, limit, q);
    QJsonArray page;
    m_view.read([&](const MergeEngine &engine, const WriterTotals &) {
        const FactHolders &facts = engine.factHolders();
        for (const QString &fact : found.facts) {
            const auto it = facts.find(fact);
            page.append(
                QJsonObject{{QStringLiteral("fact"), fact},
                            {QStringLiteral("agents"), it != facts.end() ? it->second : 0}});
        }
    });
    const qint64 matched = found.total;
    return HttpReply::json(200, pageJson(QStringLiteral("facts"), page, matched, query));
}

Instant OperationsApi::now() const
{
    return m_config.clock ? m_config.clock() : nowInstant();
}

HttpReply OperationsApi::listAgents(const HttpRequest &request) const
{
    QJsonArray errors;
    const PageQuery query = pageQuery(request.query, &errors);
    const auto &[limit, offset, q] = query;
    // ?sort=field (ascending) or -field (descending); newest first by default.
    QString sort = request.query.hasQueryItem(QStringLiteral("sort"))
                       ? request.query.queryItemValue(QStringLiteral("sort"), QUrl::FullyDecoded)
                       : QStringLiteral("-last_seen");
    const bool descending = sort.startsWith(u'-');
    if (descending)
        sort.remove(0, 1);
    static const QStringList fields{QStringLiteral("last_seen"), QStringLiteral("first_seen"),
                                    QStringLiteral("agent_id"), QStringLiteral("push_count"),
                                    QStringLiteral("fact_count")};
    if (!fields.contains(sort)) {
        errors.append(QJsonObject{
            {QStringLiteral("loc"), QJsonArray{QStringLiteral("query"), QStringLiteral("sort")}},
            {QStringLiteral("msg"),
             QStringLiteral("value is not one of %1, optionally with a leading -")
                 .arg(fields.join(u", "))},
            {QStringLiteral("type"), QStringLiteral("type_error.enum")}});
    }
    if (!errors.isEmpty())
        return HttpReply::validationError(errors);

    // A copy (implicitly shared: cheap here, the writer pays a detach on its next change).
    const QHash<QString, AgentState> all = m_view.read(
        [](const MergeEngine &engine, const WriterTotals &) { return engine.agents(); });
    QList<const AgentState *> agents;
    agents.reserve(all.size());
    for (const AgentState &a : all) {
        if (q.isEmpty() || a.agentId.contains(q, Qt::CaseInsensitive))
            agents.append(&a);
    }

    const auto key = [&sort](const AgentState *a) -> qint64 {
        if (sort == u"first_seen")
            return a->firstSeen;
        if (sort == u"push_count")
            return a->pushCount;
        if (sort == u"fact_count")
            return a->current ? qint64(a->current->facts.size()) : 0;
        return a->lastSeen;
    };
    // The agent id breaks ties, so pages are stable.
    std::sort(agents.begin(), agents.end(), [&](const AgentState *a, const AgentState *b) {
        if (sort != u"agent_id") {
            const qint64 x = key(a);
            const qint64 y = key(b);
            if (x != y)
                return descending ? x > y : x < y;
        } else if (descending) {
            return CodePointLess()(b->agentId, a->agentId);
        }
        return CodePointLess()(a->agentId, b->agentId);
    });
    QJsonArray page;
    for (qint64 i = offset; i < agents.size() && i < offset + limit; ++i)
        page.append(agentJson(*agents.at(i), false));
    return HttpReply::json(200, pageJson(QStringLiteral("agents"), page, agents.size(), query));
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
    m_view.read([&gauges](const MergeEngine &engine, const WriterTotals &totals) {
        gauges.commitSizes = totals.commitSizes;
        gauges.committedInBatches = totals.committedInBatches;
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

} // namespace agmem
