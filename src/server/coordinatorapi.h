#pragma once

#include "accesscontrol.h"
#include "eventhub.h"
#include "httpmessage.h"
#include "serverconfig.h"

#include "core/mergeengine.h"
#include "core/summaryparser.h"
#include "store/coordinatorwriter.h"
#include "store/store.h"
#include "store/writerthread.h"

#include <QDateTime>
#include <QObject>
#include <QThreadPool>
#include <QTimer>

#include <functional>
#include <memory>

namespace agmem {

class OperationsApi;

// The coordinator's HTTP API, independent of the transport: the route table, validation,
// and the mapping of the writer's outcomes to answers. Lives in the HTTP thread with a
// read-only store connection of its own; every write goes to the writer thread
// (store/writerthread.h), and a write's answer is given after its commit.
class CoordinatorApi : public QObject
{
    Q_OBJECT

public:
    using Respond = std::function<void(const HttpReply &)>;

    // One request on its way through a route's handler.
    struct Call
    {
        HttpRequest request;
        QString client;    // the client's address (after a trusted proxy)
        QString parameter; // what {agent_id} matched
        // Called exactly once, at once or later (after a commit): a handler owns its call
        // and may move `respond` out of it.
        Respond respond;
    };
    using Handler = void (CoordinatorApi::*)(Call call);

    struct Route
    {
        QString path;
        QList<QByteArray> methods;
        Scope scope;
        Handler handler;
    };
    // The one route table: dispatch, 405/Allow, CORS preflight, GET / and metric labels
    // use it; tests compare it with resources/openapi.json. A path may have several rows
    // (a scope per method).
    static const QList<Route> &routes();
    // "/agents/{agent_id}" matches "/agents/anything/else": the parameter is the rest of
    // the (decoded) path, so agent ids with a slash work when percent-encoded.
    static bool matchRoute(const QString &pattern, const QString &path, QString *parameter);

    ~CoordinatorApi() override;

    // Starts the writer thread (opening the store and loading the merged view there) and
    // opens this thread's read-only connection; nullptr and an error on failure.
    static std::unique_ptr<CoordinatorApi> create(const ServerConfig &config, QString *error);

    // Answers a request through `respond`: at once, or after a write committed (pushes,
    // reset, removal, and reads that first catch up with other instances). Answers to one
    // connection's requests may complete out of order; the transport writes them in order.
    void handle(HttpRequest request, Respond respond);
    // For a request whose body is not read yet (the connection guard asks): its
    // 401/403/429, or none. `*authorized`: the access check ran and passed; handle() then
    // skips it for that request (request.authorizedFromHead).
    std::optional<HttpReply> authorizeHead(const HttpRequest &head, bool *authorized);
    // Whether a request is a push (a connection's consecutive pushes may be in flight
    // together; any other request waits for the answers before it, see ApiServer).
    static bool isPush(const HttpRequest &request);

    // Waits until the writer has committed everything queued, and gives those answers
    // (shutdown and tests; the server never calls it on a request's path).
    void flushPushes();

    // The committed merged view (read under the writer's lock; the test thread may read it
    // directly when the writer is idle).
    const MergeEngine &engine() const { return m_writer->writer().engine(); }
    CoordinatorWriter &writer() { return m_writer->writer(); }
    WriterThread &writerThread() { return *m_writer; }
    // This thread's read-only connection.
    Store &store() { return *m_store; }
    AccessControl &access() { return *m_access; }
    const ServerConfig &config() const { return m_config; }
    // What GET /events tells: every committed change is published here (from the writer's
    // outcomes, in the writer thread; the hub is thread-safe).
    EventHub &events() { return *m_events; }
    // /agents, /topics, /facts, /metrics, /openapi.json (operationsapi.h).
    OperationsApi &operations() { return *m_operations; }

Q_SIGNALS:
    // The merged view changed (a commit here, or other instances' commits caught up).
    // Emitted in the writer thread right after the commit: connect with a receiver context.
    void mergeChanged(quint64 sequence);

private:
    CoordinatorApi(const ServerConfig &config, std::unique_ptr<Store> reader);

    // Handlers of the route table.
    void root(Call call);
    void health(Call call);
    void push(Call call);
    void pull(Call call);
    void reset(Call call);
    void listAgents(Call call);
    void agentDetail(Call call);
    void deleteAgent(Call call);
    void metrics(Call call);
    void openApi(Call call);
    void webUi(Call call);
    void eventStream(Call call);
    void listTopics(Call call);
    void topicAgents(Call call);
    void listFacts(Call call);
    void pushesPerMinute(Call call);

    // Feeds m_events from the writer's signals (connected in create()).
    void connectEvents();

    HttpReply preflight(const QByteArrayList &methods) const;
    // PostgreSQL: runs `next(ok)` after the writer caught up with the other instances
    // (SQLite: at once, ok).
    void afterCatchUp(std::function<void(bool ok, const QString &error)> next);
    // The answer to a push's outcome.
    static HttpReply pushReply(const PushOutcome &outcome);

    // The rows of routes() whose path matches, in table order, and the parameter the
    // whole walk leaves (the last parameterized row's); remembered for the last path.
    struct PathMatch
    {
        QString path;
        QList<const Route *> rows;
        QString parameter;
        bool valid = false;
    };
    const PathMatch &matchPath(const QString &path);
    PathMatch m_lastMatch;

    ServerConfig m_config;
    // Pushes validated in this pass of the event loop: handed to the writer together when
    // the pass ends (so they share a commit), or at once when the batch is full.
    QList<QPair<PushRequest, WriterThread::PushDone>> m_pending;
    QTimer m_handOver;
    void handOver();
    std::unique_ptr<Store> m_store;
    std::unique_ptr<AccessControl> m_access;
    std::unique_ptr<EventHub> m_events;
    std::unique_ptr<WriterThread> m_writer;
    QTimer m_housekeeping;
    bool m_shared = false;
    // The read-only connection's damage was handed to the writer (once).
    bool m_damageReported = false;
    SummaryParser m_parser;
    Instant m_startedAt;
    std::unique_ptr<OperationsApi> m_operations;
    // GET /facts?q= searches, one at a time, off the thread that accepts pushes.
    QThreadPool m_searches;
};

} // namespace agmem
