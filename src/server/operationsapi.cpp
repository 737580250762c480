#include "operationsapi.h"

#include "coordinatorapi.h"

#include "core/logging.h"

#include <QFile>
#include <QHostAddress>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <algorithm>

namespace agmem {

namespace {

constexpr qint64 DefaultLimit = 100;
constexpr qint64 MaxLimit = 1000;
constexpr qint64 MicrosPerDay = qint64(86400) * 1000000;

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

OperationsApi::OperationsApi(const ServerConfig &config, MergeEngine &engine, Store &store,
                             std::function<void(quint64)> changed, QObject *parent)
    : QObject(parent)
    , m_config(config)
    , m_engine(engine)
    , m_store(store)
    , m_changed(std::move(changed))
    , m_shared(store.dialect().isPostgres())
{
    if (config.historyRetentionDays > 0 || config.historyMaxPerAgent > 0 ||
        config.agentExpiryDays > 0) {
        m_retentionTimer.setSingleShot(true);
        m_retentionTimer.setInterval(config.retentionIntervalMs);
        connect(&m_retentionTimer, &QTimer::timeout, this, [this] {
            const RetentionPass pass = runRetention();
            // A full batch: the next one as soon as the requests waiting now are answered.
            m_retentionTimer.start(pass.more ? 0 : m_config.retentionIntervalMs);
        });
        m_retentionTimer.start();
    }
}

Instant OperationsApi::now() const
{
    return m_config.clock ? m_config.clock() : nowInstant();
}

bool OperationsApi::handles(const QString &route)
{
    return route == u"/agents" || route == u"/agents/{agent_id}" || route == u"/metrics" ||
           route == u"/openapi.json" || route == u"/topics" || route == u"/topics/{topic}" ||
           route == u"/facts" || route == u"/pushes/per-minute";
}

bool OperationsApi::matchRoute(const QString &pattern, const QString &path, QString *parameter)
{
    const qsizetype brace = pattern.indexOf(u'{');
    if (brace < 0)
        return pattern == path;
    const QStringView prefix = QStringView(pattern).left(brace);
    if (!path.startsWith(prefix) || path.size() == prefix.size())
        return false;
    *parameter = path.mid(prefix.size());
    return true;
}

HttpReply OperationsApi::handle(const HttpRequest &request, const QString &route,
                                const QString &parameter)
{
    if (route == u"/agents")
        return listAgents(request);
    if (route == u"/agents/{agent_id}") {
        if (request.method == "DELETE")
            return deleteAgent(parameter);
        return agentDetail(request, parameter);
    }
    if (route == u"/metrics")
        return metricsReply();
    if (route == u"/topics")
        return listTopics(request);
    if (route == u"/topics/{topic}")
        return topicAgents(request, parameter);
    if (route == u"/facts")
        return listFacts(request);
    if (route == u"/pushes/per-minute")
        return pushesPerMinute();
    return HttpReply::json(200, openApiDocument());
}

HttpReply OperationsApi::listTopics(const HttpRequest &request) const
{
    QJsonArray errors;
    const PageQuery query = pageQuery(request.query, &errors);
    const auto &[limit, offset, q] = query;
    if (!errors.isEmpty())
        return HttpReply::validationError(errors);
    // In topic order (as /pull); the filter walks every topic, the page only what it shows.
    std::vector<std::pair<QString, TopicTotal>> topics(m_engine.topicTotals().begin(),
                                                       m_engine.topicTotals().end());
    std::sort(topics.begin(), topics.end(),
              [](const auto &a, const auto &b) { return CodePointLess{}(a.first, b.first); });
    QJsonArray page;
    qint64 matched = 0;
    for (const auto &[topic, t] : topics) {
        if (!q.isEmpty() && !topic.contains(q, Qt::CaseInsensitive))
            continue;
        if (matched >= offset && matched < offset + limit) {
            page.append(QJsonObject{{QStringLiteral("topic"), topic},
                                    {QStringLiteral("total"), t.total},
                                    {QStringLiteral("agents"), t.holders}});
        }
        ++matched;
    }
    return HttpReply::json(200, pageJson(QStringLiteral("topics"), page, matched, query));
}

HttpReply OperationsApi::topicAgents(const HttpRequest &request, const QString &topic) const
{
    Q_UNUSED(request);
    const auto it = m_engine.topicTotals().find(topic);
    if (it == m_engine.topicTotals().end())
        return HttpReply::error(404, QStringLiteral("Topic not found"));
    QList<QPair<qint64, QString>> rows;
    for (const AgentState &a : m_engine.agents()) {
        if (!a.current)
            continue;
        const auto &topics = a.current->topics;
        const auto t = std::lower_bound(topics.begin(), topics.end(), topic,
                                        [](const QPair<QString, qint64> &e, const QString &k) {
                                            return CodePointLess{}(e.first, k);
                                        });
        if (t != topics.end() && t->first == topic)
            rows.append({t->second, a.agentId});
    }
    // Largest count first; the agent id breaks ties.
    std::sort(rows.begin(), rows.end(), [](const auto &x, const auto &y) {
        return x.first != y.first ? x.first > y.first : CodePointLess{}(x.second, y.second);
    });
    QJsonArray agents;
    for (const auto &[count, agent] : rows)
        agents.append(
            QJsonObject{{QStringLiteral("agent_id"), agent}, {QStringLiteral("count"), count}});
    return HttpReply::json(200, QJsonObject{{QStringLiteral("topic"), topic},
                                            {QStringLiteral("total"), it->second.total},
                                            {QStringLiteral("agents"), agents}});
}

HttpReply OperationsApi::pushesPerMinute()
{
    // The last hour, as the window's chart reads it at launch (bounded walk of the history).
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
    const FactHolders &facts = m_engine.factHolders();
    const std::vector<QString> &sorted = sortedFacts();
    const auto holdersOf = [&facts](const QString &fact) {
        const auto it = facts.find(fact);
        return it != facts.end() ? it->second : qint64(0);
    };
    QJsonArray page;
    qint64 matched = 0;
    if (q.isEmpty()) {
        // No filter: only the page is built (a million facts are never all sent).
        matched = qint64(sorted.size());
        for (qint64 i = offset; i < std::min<qint64>(offset + limit, matched); ++i)
            page.append(QJsonObject{{QStringLiteral("fact"), sorted[size_t(i)]},
                                    {QStringLiteral("agents"), holdersOf(sorted[size_t(i)])}});
    } else {
        for (const QString &fact : sorted) {
            if (!fact.contains(q, Qt::CaseInsensitive))
                continue;
            if (matched >= offset && matched < offset + limit)
                page.append(QJsonObject{{QStringLiteral("fact"), fact},
                                        {QStringLiteral("agents"), holdersOf(fact)}});
            ++matched;
        }
    }
    return HttpReply::json(200, pageJson(QStringLiteral("facts"), page, matched, query));
}

const std::vector<QString> &OperationsApi::sortedFacts() const
{
    if (m_sortedFactsAt != m_engine.sequence() ||
        m_sortedFacts.size() != m_engine.factHolders().size()) {
        m_sortedFacts.clear();
        m_sortedFacts.reserve(m_engine.factHolders().size());
        for (const auto &[fact, holders] : m_engine.factHolders())
            m_sortedFacts.push_back(fact);
        std::sort(m_sortedFacts.begin(), m_sortedFacts.end(), CodePointLess{});
        m_sortedFactsAt = m_engine.sequence();
    }
    return m_sortedFacts;
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

    QList<const AgentState *> agents;
    agents.reserve(m_engine.agents().size());
    for (const AgentState &a : m_engine.agents()) {
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
    const auto agent = m_engine.agents().constFind(agentId);
    if (agent == m_engine.agents().cend())
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

bool OperationsApi::removeAgent(const QString &agentId, QString *error)
{
    quint64 sequence = m_engine.sequence() + 1;
    bool ok = m_store.beginWrite();
    if (ok && m_shared) {
        // Several instances: the sequence comes from the database, under its lock.
        const std::optional<StoreState> locked = m_store.lockState();
        ok = locked.has_value();
        if (locked)
            sequence = std::max(sequence, locked->sequence + 1);
    }
    if (!ok || !m_store.deleteAgent(agentId, sequence) || !m_store.commit()) {
        m_store.rollback();
        if (error)
            *error = m_store.lastError();
        return false;
    }
    m_engine.removeAgent(agentId);
    m_engine.setSequence(sequence);
    m_prunedAt.remove(agentId);
    if (m_events)
        m_events->publish({ChangeEvent::agentRemoved(agentId, sequence)});
    if (m_changed)
        m_changed(sequence);
    return true;
}

HttpReply OperationsApi::deleteAgent(const QString &agentId)
{
    if (!m_engine.agents().contains(agentId))
        return HttpReply::error(404, QStringLiteral("Agent not found"));
    QString error;
    if (!removeAgent(agentId, &error))
        return HttpReply::error(
            503, QStringLiteral("The store could not delete the agent: %1").arg(error.left(200)));
    qCInfo(lcServer).noquote() << "agent" << logSafe(agentId) << "deleted";
    HttpReply reply = HttpReply::json(
        200, QJsonObject{{QStringLiteral("status"), QStringLiteral("deleted")},
                         {QStringLiteral("agent_id"), agentId},
                         {QStringLiteral("message"),
                          QStringLiteral("Agent %1 and its history were deleted").arg(agentId)}});
    reply.agentId = agentId;
    return reply;
}

HttpReply OperationsApi::metricsReply()
{
    Metrics::Gauges gauges;
    gauges.agents = m_engine.agentCount();
    gauges.uniqueFacts = qint64(m_engine.factHolders().size());
    gauges.topics = qint64(m_engine.topicTotals().size());
    gauges.storeBytes = m_store.sizeBytes().value_or(-1);
    gauges.openConnections = m_openConnections ? m_openConnections() : 0;
    HttpReply reply;
    reply.status = 200;
    reply.body = m_metrics.exposition(gauges);
    reply.headers = {{"Content-Type", "text/plain; version=0.0.4; charset=utf-8"}};
    return reply;
}

bool OperationsApi::acceptsGzip(const QByteArray &acceptEncoding)
{
    bool gzip = false;
    bool star = false;
    bool gzipListed = false;
    for (const QByteArray &item : acceptEncoding.split(',')) {
        const QList<QByteArray> parts = item.split(';');
        const QByteArray coding = parts.first().trimmed().toLower();
        double q = 1;
        for (qsizetype i = 1; i < parts.size(); ++i) {
            const QByteArray p = parts.at(i).trimmed().toLower();
            if (p.startsWith("q="))
                q = p.mid(2).toDouble();
        }
        if (coding == "gzip" || coding == "x-gzip") {
            gzipListed = true;
            gzip = gzip || q > 0;
        } else if (coding == "*") {
            star = q > 0;
        }
    }
    return gzip || (!gzipListed && star);
}

OperationsApi::RetentionPass OperationsApi::runRetention()
{
    RetentionPass pass;
    const Instant current = now();
    const int batch = qMax(1, m_config.retentionBatch);
    if (m_config.agentExpiryDays > 0) {
        const Instant cutoff = current - m_config.agentExpiryDays * MicrosPerDay;
        QStringList expired;
        for (const AgentState &a : m_engine.agents()) {
            if (a.lastSeen < cutoff)
                expired.append(a.agentId);
        }
        for (const QString &id : expired) {
            QString error;
            if (!removeAgent(id, &error)) {
                qCWarning(lcServer).noquote() << "agent expiry failed:" << error;
                pass.ok = false;
                break;
            }
            qCInfo(lcServer).noquote() << "agent" << logSafe(id) << "expired: no push for"
                                       << m_config.agentExpiryDays << "days";
            ++pass.agentsExpired;
        }
    }
    if (m_config.historyRetentionDays > 0) {
        const Instant cutoff = current - m_config.historyRetentionDays * MicrosPerDay;
        const auto deleted = m_store.pruneHistoryBefore(cutoff, batch);
        if (!deleted) {
            pass.ok = false;
        } else {
            pass.historyDeleted += *deleted;
            pass.more = pass.more || *deleted >= batch;
        }
    }
    if (m_config.historyMaxPerAgent > 0 && pass.historyDeleted < batch) {
        for (const AgentState &a : m_engine.agents()) {
            if (a.pushCount <= m_config.historyMaxPerAgent ||
                m_prunedAt.value(a.agentId, -1) == a.pushCount)
                continue;
            if (pass.historyDeleted >= batch) {
                pass.more = true; // the others on the next pass
                break;
            }
            const qint64 room = batch - pass.historyDeleted;
            const auto deleted =
                m_store.pruneAgentHistory(a.agentId, m_config.historyMaxPerAgent, int(room));
            if (!deleted) {
                pass.ok = false;
                break;
            }
            pass.historyDeleted += *deleted;
            if (*deleted < room)
                m_prunedAt.insert(a.agentId, a.pushCount); // at the limit: skip until it pushes
            else
                pass.more = true;
        }
    }
    if (pass.historyDeleted > 0)
        qCInfo(lcServer) << "retention pruned" << pass.historyDeleted << "history rows";
    return pass;
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
