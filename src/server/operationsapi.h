#pragma once

#include "httpmessage.h"
#include "metrics.h"
#include "serverconfig.h"

#include "core/mergeengine.h"
#include "store/coordinatorwriter.h"
#include "store/store.h"

#include <functional>

namespace agmem {

// The operator's routes of the coordinator: /agents (list, detail), /topics, /facts,
// /pushes/per-minute, /metrics and /openapi.json, as answers built in the HTTP thread from the
// committed merged view (read under the writer's lock) and this thread's read-only store
// connection. Writes (agent removal, retention) are the writer's (store/coordinatorwriter.h).
class OperationsApi
{
public:
    OperationsApi(const ServerConfig &config, const CoordinatorWriter &view, Store &reader);

    HttpReply listAgents(const HttpRequest &request) const;
    HttpReply agentDetail(const HttpRequest &request, const QString &agentId);
    HttpReply metricsReply();
    HttpReply listTopics(const HttpRequest &request) const;
    HttpReply topicAgents(const HttpRequest &request, const QString &topic) const;
    HttpReply listFacts(const HttpRequest &request) const;
    HttpReply pushesPerMinute();

    Metrics &metrics() { return m_metrics; }
    void setOpenConnections(std::function<qint64()> provider)
    {
        m_openConnections = std::move(provider);
    }

    // The OpenAPI document (resources/openapi.json), its version filled in.
    static QByteArray openApiDocument();

private:
    Instant now() const;

    ServerConfig m_config;
    const CoordinatorWriter &m_view;
    Store &m_store;
    std::function<qint64()> m_openConnections;
    Metrics m_metrics;
};

} // namespace agmem
