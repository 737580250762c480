#pragma once

#include "eventhub.h"
#include "httpmessage.h"
#include "metrics.h"
#include "serverconfig.h"

#include "core/mergeengine.h"
#include "store/store.h"

#include <QHash>
#include <QObject>
#include <QTimer>

#include <functional>
#include <optional>
#include <vector>

namespace agmem {

// The operator's routes of the coordinator: /agents (list, detail, delete), /topics,
// /facts, /metrics and /openapi.json; gzip for /pull; and retention (history pruning, agent expiry)
// on a timer. Owned by CoordinatorApi, in the server thread; works on its engine and store.
class OperationsApi : public QObject
{
    Q_OBJECT

public:
    // `changed` is called with the new sequence after the merged view changed.
    OperationsApi(const ServerConfig &config, MergeEngine &engine, Store &store,
                  std::function<void(quint64)> changed, QObject *parent = nullptr);

    // Whether a route pattern of CoordinatorApi::routes() is answered here.
    static bool handles(const QString &route);
    // `route` is the matched pattern, `parameter` the {agent_id} it captured.
    HttpReply handle(const HttpRequest &request, const QString &route, const QString &parameter);

    // Whether an Accept-Encoding value accepts gzip (for /pull).
    static bool acceptsGzip(const QByteArray &acceptEncoding);

    // "/agents/{agent_id}" matches "/agents/anything/else": the parameter is the rest of
    // the (decoded) path, so agent ids with a slash work when percent-encoded.
    static bool matchRoute(const QString &pattern, const QString &path, QString *parameter);

    // Removes an agent from the merge and the store in one transaction (with its history);
    // false and `error` when the store refused (nothing changed then).
    bool removeAgent(const QString &agentId, QString *error);

    struct RetentionPass
    {
        qint64 historyDeleted = 0;
        qint64 agentsExpired = 0;
        bool more = false; // a batch was full: run again soon
        bool ok = true;
    };
    // One pass of retention; the timer calls it, tests call it directly.
    RetentionPass runRetention();

    Metrics &metrics() { return m_metrics; }
    // Where removals are published for GET /events (CoordinatorApi's hub).
    void setEventHub(EventHub *hub) { m_events = hub; }
    void setOpenConnections(std::function<qint64()> provider)
    {
        m_openConnections = std::move(provider);
    }

    // The OpenAPI document (resources/openapi.json), its version filled in.
    static QByteArray openApiDocument();

private:
    HttpReply listAgents(const HttpRequest &request) const;
    HttpReply agentDetail(const HttpRequest &request, const QString &agentId);
    HttpReply deleteAgent(const QString &agentId);
    HttpReply metricsReply();
    HttpReply listTopics(const HttpRequest &request) const;
    HttpReply topicAgents(const HttpRequest &request, const QString &topic) const;
    HttpReply listFacts(const HttpRequest &request) const;
    // The engine's facts in code-point order (its map is hashed), kept until the next change.
    const std::vector<QString> &sortedFacts() const;
    HttpReply pushesPerMinute();
    Instant now() const;

    ServerConfig m_config;
    MergeEngine &m_engine;
    Store &m_store;
    std::function<void(quint64)> m_changed;
    std::function<qint64()> m_openConnections;
    EventHub *m_events = nullptr;
    Metrics m_metrics;
    bool m_shared = false;
    QTimer m_retentionTimer;
    // Agents whose history was pruned to the limit, with their push count then.
    QHash<QString, qint64> m_prunedAt;
    mutable std::vector<QString> m_sortedFacts;
    mutable std::optional<quint64> m_sortedFactsAt;
};

} // namespace agmem
