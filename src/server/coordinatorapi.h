#pragma once

#include "accesscontrol.h"
#include "eventhub.h"
#include "httpmessage.h"
#include "serverconfig.h"

#include "core/mergeengine.h"
#include "core/summaryparser.h"
#include "store/store.h"

#include <QDateTime>
#include <QObject>
#include <QTimer>

#include <functional>
#include <memory>

namespace agmem {

class OperationsApi;

// The coordinator's HTTP API, independent of the transport: routes, validation, merge,
// and group commit of pushes. Lives in the server thread with its own store connection.
class CoordinatorApi : public QObject
{
    Q_OBJECT

public:
    using Respond = std::function<void(const HttpReply &)>;

    CoordinatorApi(const ServerConfig &config, std::unique_ptr<Store> store, MergeEngine engine,
                   QObject *parent = nullptr);
    ~CoordinatorApi() override;

    // Opens the store and loads the merged view; nullptr and an error on failure.
    static std::unique_ptr<CoordinatorApi> create(const ServerConfig &config, QString *error);

    // Answers a request. Pushes are answered after their batch commits, later in the
    // same thread; everything else at once.
    void handle(const HttpRequest &request, const Respond &respond);
    // For a request whose body is not read yet (the connection guard asks): its
    // 401/403/429, or none. `*authorized`: the access check ran and passed; handle() then
    // skips it for that request (request.authorizedFromHead).
    std::optional<HttpReply> authorizeHead(const HttpRequest &head, bool *authorized);

    // Commits the pushes received so far and answers them.
    void flushPushes();
    bool hasPendingPushes() const { return !m_pending.isEmpty(); }

    const MergeEngine &engine() const { return m_engine; }
    Store &store() { return *m_store; }
    AccessControl &access() { return *m_access; }
    const ServerConfig &config() const { return m_config; }
    // What GET /events tells: every committed change is published here.
    EventHub &events() { return *m_events; }
    // /agents, /metrics, /openapi.json, /docs, gzip and retention (operationsapi.h).
    OperationsApi &operations() { return *m_operations; }

    struct Route
    {
        QString path;
        QList<QByteArray> methods;
        Scope scope;
    };
    // Every route the API answers, for 405/Allow and for the docs.
    static const QList<Route> &routes();

Q_SIGNALS:
    // Emitted after a batch commits that changed the merged view.
    void mergeChanged(quint64 sequence);

private:
    struct PendingPush
    {
        Summary summary;
        QString source;
        Instant receivedAt;
        Respond respond;
    };

    HttpReply root() const;
    HttpReply health();
    // Answers at once when the answer is built, else later from the answer's worker thread.
    void pull(const HttpRequest &request, const Respond &respond);
    HttpReply reset(const HttpRequest &request);
    void push(const HttpRequest &request, const QString &client, const Respond &respond);
    HttpReply preflight(const HttpRequest &request, const Route &route) const;
    QByteArray etag() const;
    QByteArray etagOf(quint64 sequence) const;
    // Several instances on one PostgreSQL database: applies what the others committed
    // since the last sequence this one saw (all of it after a reset). `reconnect`: reopen
    // the connection once when the database went away. SQLite: nothing to do.
    bool catchUp(bool reconnect = true);
    // Publishes what a catch-up loaded (agents with a sequence after `before`).
    void publishCaughtUp(quint64 before, bool reloaded);

    ServerConfig m_config;
    std::unique_ptr<Store> m_store;
    std::unique_ptr<AccessControl> m_access;
    std::unique_ptr<EventHub> m_events;
    QTimer m_housekeeping;
    // PostgreSQL: the database is shared with other instances.
    bool m_shared = false;
    qint64 m_resetGeneration = 0;
    bool m_resyncNeeded = false;
    QTimer m_catchUpTimer;
    MergeEngine m_engine;
    SummaryParser m_parser;
    QString m_databaseId;
    qint64 m_totalPushes = 0;
    Instant m_startedAt;
    QList<PendingPush> m_pending;
    QTimer m_flushTimer;
    std::unique_ptr<OperationsApi> m_operations;
};

} // namespace agmem
