#include "coordinatorapi.h"

#include "operationsapi.h"
#include "webui.h"

#include "core/jsonwriter.h"
#include "core/logging.h"

#include <QHostAddress>
#include <QJsonArray>
#include <QJsonObject>
#include <QMetaObject>

#include <cstring>

namespace agmem {

namespace {

constexpr int HousekeepingMs = 10000;
// PostgreSQL: how often an idle instance looks for pushes that arrived through others, so
// the window (mergeChanged) shows them.
constexpr int CatchUpMs = 1000;
const QByteArray Options = QByteArrayLiteral("OPTIONS");
const QByteArray Get = QByteArrayLiteral("GET");
const QByteArray Head = QByteArrayLiteral("HEAD");
const QByteArray Post = QByteArrayLiteral("POST");
const QByteArray Delete = QByteArrayLiteral("DELETE");

QJsonArray toJson(const QList<FieldError> &errors)
{
    QJsonArray out;
    for (const FieldError &e : errors) {
        out.append(QJsonObject{{QStringLiteral("loc"), e.loc},
                               {QStringLiteral("msg"), e.msg},
                               {QStringLiteral("type"), e.type}});
    }
    return out;
}

HttpReply storeUnreachable(const QString &error)
{
    return HttpReply::error(503,
                            QStringLiteral("The store is unreachable: %1").arg(error.left(200)));
}

} // namespace

const QList<CoordinatorApi::Route> &CoordinatorApi::routes()
{
    using C = CoordinatorApi;
    static const QList<Route> table = {
        {QStringLiteral("/"), {Get, Head}, Scope::None, &C::root},
        {QStringLiteral("/health"), {Get, Head}, Scope::None, &C::health},
        {QStringLiteral("/push"), {Post}, Scope::Push, &C::push},
        {QStringLiteral("/pull"), {Get, Head}, Scope::Pull, &C::pull},
        {QStringLiteral("/admin/reset"), {Delete}, Scope::Admin, &C::reset},
        {QStringLiteral("/agents"), {Get, Head}, Scope::Pull, &C::listAgents},
        {QStringLiteral("/agents/{agent_id}"), {Get, Head}, Scope::Pull, &C::agentDetail},
        {QStringLiteral("/agents/{agent_id}"), {Delete}, Scope::Admin, &C::deleteAgent},
        // Open from this machine (after a trusted proxy: the client's address), pull otherwise.
        {QStringLiteral("/metrics"), {Get, Head}, Scope::Pull, &C::metrics},
        {QStringLiteral("/openapi.json"), {Get, Head}, Scope::None, &C::openApi},
        // The interactive API docs and the dashboard: static pages (webui.h).
        {QStringLiteral("/docs"), {Get, Head}, Scope::None, &C::webUi},
        {QStringLiteral("/redoc"), {Get, Head}, Scope::None, &C::webUi},
        // The web dashboard (webui.h) and what it reads beyond /agents.
        {QStringLiteral("/ui"), {Get, Head}, Scope::None, &C::webUi},
        {QStringLiteral("/ui/"), {Get, Head}, Scope::None, &C::webUi},
        {QStringLiteral("/ui/{file}"), {Get, Head}, Scope::None, &C::webUi},
        {QStringLiteral("/events"), {Get}, Scope::Pull, &C::eventStream},
        {QStringLiteral("/topics"), {Get, Head}, Scope::Pull, &C::listTopics},
        {QStringLiteral("/topics/{topic}"), {Get, Head}, Scope::Pull, &C::topicAgents},
        {QStringLiteral("/facts"), {Get, Head}, Scope::Pull, &C::listFacts},
        {QStringLiteral("/pushes/per-minute"), {Get, Head}, Scope::Pull, &C::pushesPerMinute},
    };
    return table;
}

bool CoordinatorApi::matchRoute(const QString &pattern, const QString &path, QString *parameter)
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

const CoordinatorApi::PathMatch &CoordinatorApi::matchPath(const QString &path)
{
    if (m_lastMatch.valid && m_lastMatch.path == path)
        return m_lastMatch;
    PathMatch match;
    match.path = path;
    for (const Route &r : routes()) {
        if (matchRoute(r.path, path, &match.parameter))
            match.rows.append(&r);
    }
    match.valid = true;
    m_lastMatch = std::move(match);
    return m_lastMatch;
}

CoordinatorApi::CoordinatorApi(const ServerConfig &config, std::unique_ptr<Store> reader)
    : m_config(config)
    , m_store(std::move(reader))
    , m_access(std::make_unique<AccessControl>(config.access, m_store.get(), config.host,
                                               !config.tlsCertificate.isEmpty()))
    , m_events(std::make_unique<EventHub>(config.eventRingSize))
    , m_parser(config.limits)
    , m_startedAt(nowInstant())
{
    m_shared = m_store->dialect().isPostgres();
    // A zero timer fires once the event loop has nothing else ready: every request that
    // has arrived is read first.
    m_handOver.setSingleShot(true);
    m_handOver.setInterval(0);
    connect(&m_handOver, &QTimer::timeout, this, &CoordinatorApi::handOver);
    // Last-use times of keys are written in batches, not on every request.
    m_housekeeping.setInterval(HousekeepingMs);
    connect(&m_housekeeping, &QTimer::timeout, this, [this] {
        const QHash<qint64, Instant> used = m_access->takeLastUsed();
        if (!used.isEmpty()) {
            handOver(); // pushes queued before go first
            m_writer->submit([used](CoordinatorWriter &w) { return w.touchKeys(used); },
                             [](bool ok) {
                                 if (!ok)
                                     qCWarning(lcServer) << "key last-use times were not stored";
                             });
        }
        m_access->prune();
    });
    m_housekeeping.start();
}

CoordinatorApi::~CoordinatorApi()
{
    // A fact search still running reads the writer's view and answers to this object.
    m_searches.waitForDone();
    if (!m_writer)
        return;
    // No pull answer may be handed back while this object goes.
    m_writer->writer().pullView().answer->waitForIdle();
    const QHash<qint64, Instant> used = m_access->takeLastUsed();
    handOver();
    m_writer->call([used](CoordinatorWriter &w) { return w.touchKeys(used); });
    flushPushes();
    // Joins the writer while every member is alive: answers it still delivers may use them.
    m_writer.reset();
}

std::unique_ptr<CoordinatorApi> CoordinatorApi::create(const ServerConfig &config, QString *error)
{
    RetentionPolicy retention;
    retention.historyRetentionDays = config.historyRetentionDays;
    retention.historyMaxPerAgent = config.historyMaxPerAgent;
    retention.agentExpiryDays = config.agentExpiryDays;
    retention.batch = config.retentionBatch;
    retention.clock = config.clock;
    std::unique_ptr<WriterThread> writer = WriterThread::start(
        [&](QString *failure) {
            return CoordinatorWriter::open(config.store, config.storeOptions, config.mergeMode,
                                           retention, failure);
        },
        config.maxBatch, error, config.writerThread);
    if (!writer)
        return nullptr;
    // Opened after the writer migrated the schema.
    StoreOptions readOptions = config.storeOptions;
    readOptions.readOnly = true;
    std::unique_ptr<Store> reader = Store::open(config.store, readOptions, error);
    if (!reader)
        return nullptr;
    std::unique_ptr<CoordinatorApi> api(new CoordinatorApi(config, std::move(reader)));
    api->m_writer = std::move(writer);
    CoordinatorWriter &w = api->m_writer->writer();
    connect(&w, &CoordinatorWriter::mergeChanged, api.get(), &CoordinatorApi::mergeChanged,
            Qt::DirectConnection);
    api->m_operations = std::make_unique<OperationsApi>(config, w, *api->m_store);
    api->m_searches.setMaxThreadCount(1);
    api->m_searches.setObjectName(QStringLiteral("agmem-search"));
    api->m_events->setSequence(
        w.read([](const MergeEngine &engine, const WriterTotals &) { return engine.sequence(); }));
    api->connectEvents();
    api->m_writer->call([&config](CoordinatorWriter &cw) {
        cw.startTimers(config.retentionIntervalMs, CatchUpMs);
        return true;
    });
    return api;
}

void CoordinatorApi::connectEvents()
{
    // Emitted in the writer thread right after each commit: the hub is thread-safe, and the
    // events are built from the outcomes (a catch-up: from the view it just loaded).
    CoordinatorWriter &w = m_writer->writer();
    EventHub *hub = m_events.get();
    connect(
        &w, &CoordinatorWriter::pushesCommitted, hub,
        [hub](const QList<PushOutcome> &outcomes) {
            QList<ChangeEvent> events;
            for (const PushOutcome &o : outcomes) {
                if (o.stored())
                    events.append(ChangeEvent::push(o.agentId, o.before, o.after, o.timestamp,
                                                    o.receivedAt, o.sequence));
            }
            // One publish per commit batch: each event stream writes the batch at once.
            if (!events.isEmpty())
                hub->publish(std::move(events));
        },
        Qt::DirectConnection);
    connect(
        &w, &CoordinatorWriter::resetDone, hub,
        [hub](const ResetOutcome &o) {
            if (o.ok)
                hub->publish({ChangeEvent::reset(o.sequence)});
        },
        Qt::DirectConnection);
    connect(
        &w, &CoordinatorWriter::agentRemoved, hub,
        [hub](const RemoveOutcome &o) {
            if (o.status == RemoveOutcome::Status::Removed)
                hub->publish({ChangeEvent::agentRemoved(o.agentId, o.sequence)});
        },
        Qt::DirectConnection);
    connect(
        &w, &CoordinatorWriter::caughtUp, hub,
        [hub, &w](const CatchUpOutcome &o) {
            // A reload with nothing new (the first catch-up) tells nothing.
            if (!o.ok || o.sequence == o.before)
                return;
            // Other instances' changes, as far as the loaded rows tell them: after a reload
            // (a reset or removal elsewhere) a reset; else each agent that changed, without
            // deltas. In the writer thread: the view is the one just caught up.
            QList<ChangeEvent> events = w.read([&o](const MergeEngine &engine,
                                                    const WriterTotals &) {
                QList<ChangeEvent> out;
                if (o.reloaded) {
                    out.append(ChangeEvent::reset(engine.sequence()));
                    out.last().local = false;
                    return out;
                }
                for (const AgentState &a : engine.agents()) {
                    if (a.sequence <= o.before)
                        continue;
                    ChangeEvent e;
                    e.agentId = a.agentId;
                    e.sequence = a.sequence;
                    e.timestamp = a.current ? a.current->timestamp : 0;
                    e.receivedAt = a.lastSeen;
                    e.changesMerge = true;
                    e.local = false;
                    out.append(e);
                }
                std::sort(out.begin(), out.end(), [](const ChangeEvent &x, const ChangeEvent &y) {
                    return x.sequence < y.sequence;
                });
                return out;
            });
            hub->publish(std::move(events));
            hub->setSequence(o.sequence);
        },
        Qt::DirectConnection);
}

std::optional<HttpReply> CoordinatorApi::authorizeHead(const HttpRequest &head, bool *authorized)
{
    *authorized = false;
    HttpRequest request = head;
    QString pathKey;
    if (request.path.startsWith(u"/k/")) {
        const qsizetype slash = request.path.indexOf(u'/', 3);
        pathKey = request.path.mid(3, slash < 0 ? -1 : slash - 3);
        request.path = slash < 0 ? QStringLiteral("/") : request.path.mid(slash);
    }
    const Route *route = nullptr;
    for (const Route *r : matchPath(request.path).rows) {
        if (r->methods.contains(request.method)) {
            route = r;
            break;
        }
    }
    // Unknown routes and methods get their 404/405 once the request is whole.
    if (!route || route->handler == &CoordinatorApi::health)
        return std::nullopt;
    const QString client = m_access->clientAddress(request);
    Scope scope = route->scope;
    if (route->path == u"/metrics" && QHostAddress(client).isLoopback())
        scope = Scope::None;
    if (auto refused = m_access->authorize(request, client, pathKey, scope)) {
        refused->client = client;
        refused->headers += m_access->corsHeaders(request);
        return refused;
    }
    *authorized = true;
    return std::nullopt;
}

bool CoordinatorApi::isPush(const HttpRequest &request)
{
    return request.method == Post && request.path.endsWith(u"/push");
}

void CoordinatorApi::handle(HttpRequest request, Respond respond)
{
    // The unmodified agmem client sends no headers: its key can ride in the URL,
    // coordinator_url: http://host:8000/k/KEY
    QString pathKey;
    if (request.path.startsWith(u"/k/")) {
        const qsizetype slash = request.path.indexOf(u'/', 3);
        pathKey = request.path.mid(3, slash < 0 ? -1 : slash - 3);
        request.path = slash < 0 ? QStringLiteral("/") : request.path.mid(slash);
    }
    // The writer's connection found the file damaged: this thread's connection refuses
    // from now on as well (/health says unhealthy, reads answer 503).
    if (!m_store->corrupted()) {
        if (const std::optional<QString> damage = m_writer->writer().damage())
            m_store->markCorrupted(*damage);
    }
    const QString client = m_access->clientAddress(request);
    const HeaderList cors = m_access->corsHeaders(request);
    // May be called after a commit: owns what it uses.
    Respond answer = [respond = std::move(respond), client, cors](const HttpReply &reply) {
        HttpReply r = reply;
        r.client = client;
        r.headers += cors;
        respond(r);
    };

    // The row for this path and method (a path may have a row per scope); `allowed`: the
    // methods of every row for the path.
    const Route *route = nullptr;
    QByteArrayList allowed;
    const PathMatch &match = matchPath(request.path);
    const QString parameter = match.parameter;
    for (const Route *r : match.rows) {
        allowed += r->methods;
        if (!route ||
            (!route->methods.contains(request.method) && r->methods.contains(request.method)))
            route = r;
    }
    if (!route) {
        answer(HttpReply::error(404, QStringLiteral("Not Found")));
        return;
    }
    if (request.method == Options && m_access->corsAllowed(request)) {
        answer(preflight(allowed));
        return;
    }
    if (!route->methods.contains(request.method)) {
        answer(HttpReply::error(405, QStringLiteral("Method Not Allowed"))
                   .withHeader("Allow", allowed.join(", ")));
        return;
    }
    // Host (DNS rebinding), Origin (cross-site writes) and Content-Type, for every route:
    // the one place these edge checks run (accesscontrol.h).
    if (const auto refused = m_access->screen(request)) {
        answer(*refused);
        return;
    }
    Scope scope = route->scope;
    // From this machine: the client address resolved through trusted proxies.
    if (route->path == u"/metrics" && QHostAddress(client).isLoopback())
        scope = Scope::None;
    // A request with a body was checked from its head already (authorizeHead()).
    const bool checked = request.authorizedFromHead && !request.body.isEmpty();
    if (route->handler != &CoordinatorApi::health && !checked) {
        if (const auto refused = m_access->authorize(request, client, pathKey, scope)) {
            answer(*refused);
            return;
        }
    }
    (this->*route->handler)(Call{std::move(request), client, parameter, std::move(answer)});
    // This thread's read-only connection found the file damaged (SQLite): the writer's
    // connection refuses writes from now on too, so nothing more is acknowledged into it.
    if (m_store->corrupted() && !m_damageReported) {
        m_damageReported = true;
        handOver(); // pushes queued before go first
        m_writer->submit(
            [detail = m_store->lastError()](CoordinatorWriter &w) {
                w.store().markCorrupted(detail);
                return true;
            },
            [](bool) {});
    }
}

void CoordinatorApi::handOver()
{
    m_handOver.stop();
    if (!m_pending.isEmpty()) {
        // The next batch starts with room for one as large (no growth step by step).
        const qsizetype size = m_pending.size();
        m_writer->push(std::exchange(m_pending, {}));
        m_pending.reserve(size);
    }
}

void CoordinatorApi::flushPushes()
{
    if (!m_writer)
        return;
    handOver();
    m_writer->waitForIdle();
}

HttpReply CoordinatorApi::preflight(const QByteArrayList &methods) const
{
    HttpReply reply;
    reply.status = 204;
    reply.headers = {
        {"Access-Control-Allow-Methods", methods.join(", ")},
        {"Access-Control-Allow-Headers", "Authorization, Content-Type, X-API-Key, If-None-Match"},
        {"Access-Control-Max-Age", "600"}};
    return reply;
}

void CoordinatorApi::afterCatchUp(std::function<void(bool, const QString &)> next)
{
    if (!m_shared) {
        next(true, QString());
        return;
    }
    handOver(); // pushes queued before go first
    m_writer->submit([](CoordinatorWriter &w) { return w.catchUp(); },
                     [next = std::move(next)](const CatchUpOutcome &outcome) {
                         next(outcome.ok, outcome.error);
                     });
}

void CoordinatorApi::root(Call call)
{
    // On failure, the totals this instance knows.
    afterCatchUp([this, call = std::move(call)](bool, const QString &) {
        QJsonArray endpoints;
        for (const Route &r : routes()) {
            for (const QByteArray &m : r.methods) {
                if (m != Head)
                    endpoints.append(QString(QString::fromLatin1(m) + u' ' + r.path));
            }
        }
        const auto [totalPushes, agents, mode] =
            m_writer->writer().read([](const MergeEngine &engine, const WriterTotals &totals) {
                return std::tuple(totals.totalPushes, qint64(engine.agentCount()), engine.mode());
            });
        call.respond(HttpReply::json(
            200, QJsonObject{
                     {QStringLiteral("service"), QStringLiteral("agmem-coordinator")},
                     {QStringLiteral("version"), QStringLiteral(AGMEM_VERSION)},
                     {QStringLiteral("status"), QStringLiteral("running")},
                     {QStringLiteral("endpoints"), endpoints},
                     {QStringLiteral("started_at"), formatIsoTimestamp(m_startedAt)},
                     {QStringLiteral("total_pushes"), totalPushes},
                     {QStringLiteral("total_agents"), agents},
                     {QStringLiteral("merge_mode"), mergeModeName(mode)},
                     // Whether push and pull need a key (the web dashboard asks for one
                     // exactly then).
                     {QStringLiteral("key_required"), m_access->keysRequired()},
                 }));
    });
}

void CoordinatorApi::health(Call call)
{
    const QString now = formatIsoTimestamp(nowInstant());
    if (!m_store->ping() && !(m_shared && m_store->reopen() && m_store->ping())) {
        call.respond(HttpReply::json(
            503, QJsonObject{{QStringLiteral("status"), QStringLiteral("unhealthy")},
                             {QStringLiteral("timestamp"), now},
                             {QStringLiteral("detail"), m_store->lastError()}}));
        return;
    }
    call.respond(
        HttpReply::json(200, QJsonObject{{QStringLiteral("status"), QStringLiteral("healthy")},
                                         {QStringLiteral("timestamp"), now}}));
}

void CoordinatorApi::pull(Call call)
{
    afterCatchUp([this, call = std::move(call)](bool ok, const QString &error) {
        if (!ok) {
            call.respond(storeUnreachable(error).withHeader("Vary", "Accept-Encoding"));
            return;
        }
        // The maintained answer (h13b's PullAnswer, updated by the writer after each
        // commit): its pieces are serialized and deflated once per change, and shared by
        // every pull of that state. The body names the sequence it holds: the ETag always
        // names this body.
        const CoordinatorWriter::PullView view = m_writer->writer().pullView();
        const auto tagOf = [databaseId = view.databaseId](quint64 sequence) -> QByteArray {
            return '"' + databaseId.left(8).toLatin1() + '-' + QByteArray::number(sequence) + '"';
        };
        const QByteArray ifNoneMatch = call.request.header("if-none-match");
        if (!ifNoneMatch.isEmpty()) {
            const QByteArray current = tagOf(view.sequence);
            for (QByteArray candidate : ifNoneMatch.split(',')) {
                candidate = candidate.trimmed();
                if (candidate.startsWith("W/"))
                    candidate = candidate.mid(2);
                if (candidate == current || candidate == "*") {
                    HttpReply reply;
                    reply.status = 304;
                    reply.headers = {{"ETag", current},
                                     {"Cache-Control", "no-cache"},
                                     {"Vary", "Accept-Encoding"}};
                    call.respond(reply);
                    return;
                }
            }
        }
        const bool gzip = call.request.acceptsGzip();
        // The answer reflects at least every change committed before this request (its
        // body's sequence names it: a build may take later changes along). Its pieces are
        // written one after the other, never joined.
        const auto answerWith = [tagOf, gzip](const PullAnswer::BodyPtr &body) {
            HttpReply reply = HttpReply::json(200, QByteArray());
            reply.bodyPieces = body->pieces;
            reply.bodyPiecesSize = body->size;
            reply.headers.append({QByteArrayLiteral("ETag"), tagOf(body->sequence)});
            reply.headers.append(
                {QByteArrayLiteral("Cache-Control"), QByteArrayLiteral("no-cache")});
            reply.headers.append({QByteArrayLiteral("Vary"), QByteArrayLiteral("Accept-Encoding")});
            if (gzip)
                reply.headers.append(
                    {QByteArrayLiteral("Content-Encoding"), QByteArrayLiteral("gzip")});
            return reply;
        };
        const auto encoding = gzip ? PullAnswer::Encoding::Gzip : PullAnswer::Encoding::Plain;
        if (const PullAnswer::BodyPtr body = view.answer->ready(encoding)) {
            call.respond(answerWith(body));
            return;
        }
        // Built off this thread; concurrent pulls share the build. The answer comes back to
        // this thread as a queued call (~CoordinatorApi waits for the worker first, and Qt
        // drops calls queued for an object that is gone).
        view.answer->request(
            encoding, [this, respond = call.respond, answerWith](PullAnswer::BodyPtr body) {
                QMetaObject::invokeMethod(
                    this, [respond, answerWith, body] { respond(answerWith(body)); },
                    Qt::QueuedConnection);
            });
    });
}

void CoordinatorApi::reset(Call call)
{
    // The client behind trusted proxies, not the proxy.
    const QString peer = logSafe(call.client);
    handOver(); // pushes queued before go first
    m_writer->submit(
        [](CoordinatorWriter &w) { return w.reset(); },
        [call = std::move(call), peer](const ResetOutcome &outcome) {
            if (!outcome.ok) {
                call.respond(HttpReply::error(
                    503, QStringLiteral("The store could not reset: %1").arg(outcome.error)));
                return;
            }
            qCInfo(lcServer).noquote() << "store reset by" << peer;
            call.respond(HttpReply::json(
                200, QJsonObject{{QStringLiteral("status"), QStringLiteral("reset")},
                                 {QStringLiteral("message"),
                                  QStringLiteral("All summaries were deleted")}}));
        });
}

void CoordinatorApi::listAgents(Call call)
{
    afterCatchUp([this, call = std::move(call)](bool, const QString &) {
        call.respond(m_operations->listAgents(call.request));
    });
}

void CoordinatorApi::agentDetail(Call call)
{
    afterCatchUp([this, call = std::move(call)](bool, const QString &) {
        call.respond(m_operations->agentDetail(call.request, call.parameter));
    });
}

void CoordinatorApi::deleteAgent(Call call)
{
    const QString agentId = call.parameter;
    handOver(); // pushes queued before go first
    m_writer->submit(
        [agentId](CoordinatorWriter &w) { return w.removeAgent(agentId); },
        [call = std::move(call)](const RemoveOutcome &outcome) {
            switch (outcome.status) {
            case RemoveOutcome::Status::NotFound:
                call.respond(HttpReply::error(404, QStringLiteral("Agent not found")));
                return;
            case RemoveOutcome::Status::StoreFailed:
                call.respond(
                    HttpReply::error(503, QStringLiteral("The store could not delete the agent: %1")
                                              .arg(outcome.error.left(200))));
                return;
            case RemoveOutcome::Status::Removed:
                break;
            }
            qCInfo(lcServer).noquote() << "agent" << logSafe(outcome.agentId) << "deleted";
            HttpReply reply = HttpReply::json(
                200, QJsonObject{{QStringLiteral("status"), QStringLiteral("deleted")},
                                 {QStringLiteral("agent_id"), outcome.agentId},
                                 {QStringLiteral("message"),
                                  QStringLiteral("Agent %1 and its history were deleted")
                                      .arg(outcome.agentId)}});
            reply.agentId = outcome.agentId;
            call.respond(reply);
        });
}

void CoordinatorApi::metrics(Call call)
{
    call.respond(m_operations->metricsReply());
}

void CoordinatorApi::openApi(Call call)
{
    call.respond(HttpReply::json(200, OperationsApi::openApiDocument()));
}

void CoordinatorApi::webUi(Call call)
{
    const Route *route = nullptr;
    QString parameter;
    for (const Route &r : routes()) {
        if (r.handler == &CoordinatorApi::webUi &&
            matchRoute(r.path, call.request.path, &parameter)) {
            route = &r;
            break;
        }
    }
    call.respond(WebUi::handle(call.request, route ? route->path : QString(), call.parameter));
}

void CoordinatorApi::eventStream(Call call)
{
    afterCatchUp([call = std::move(call)](bool, const QString &) {
        // The transport writes the stream head and keeps the connection (apiserver.cpp).
        HttpReply stream;
        stream.eventStream = true;
        stream.headers = EventStreams::streamHeaders(call.request.acceptsGzip());
        call.respond(stream);
    });
}

void CoordinatorApi::listTopics(Call call)
{
    afterCatchUp([this, call = std::move(call)](bool, const QString &) {
        call.respond(m_operations->listTopics(call.request));
    });
}

void CoordinatorApi::topicAgents(Call call)
{
    afterCatchUp([this, call = std::move(call)](bool, const QString &) {
        call.respond(m_operations->topicAgents(call.request, call.parameter));
    });
}

void CoordinatorApi::listFacts(Call call)
{
    afterCatchUp([this, call = std::move(call)](bool, const QString &) {
        if (!call.request.query.hasQueryItem(QStringLiteral("q"))) {
            // A page without a search skips whole chunks: cheap at any size.
            call.respond(m_operations->listFacts(call.request));
            return;
        }
        // A search reads every fact (a million: ~0.1 s): off this thread, so pushes and
        // other requests of this thread never wait behind it. Answered here as a queued
        // call (~CoordinatorApi waits for the searches first).
        m_searches.start([this, call] {
            if (m_config.beforeFactSearch)
                m_config.beforeFactSearch();
            HttpReply reply = m_operations->listFacts(call.request);
            QMetaObject::invokeMethod(
                this, [respond = call.respond, reply = std::move(reply)] { respond(reply); },
                Qt::QueuedConnection);
        });
    });
}

void CoordinatorApi::pushesPerMinute(Call call)
{
    call.respond(m_operations->pushesPerMinute());
}

void CoordinatorApi::push(Call call)
{
    const HttpRequest &request = call.request;
    // The Content-Type was checked by AccessControl::screen() with every request's.
    if (request.body.size() > m_config.limits.maxBodyBytes) {
        call.respond(HttpReply::error(413, QStringLiteral("Request body is larger than %1 bytes")
                                               .arg(m_config.limits.maxBodyBytes)));
        return;
    }
    ParseOutcome outcome = m_parser.parse(request.body);
    switch (outcome.status) {
    case ParseOutcome::Status::Ok:
        break;
    case ParseOutcome::Status::BadEncoding:
    case ParseOutcome::Status::BadTimestamp:
        call.respond(HttpReply::error(400, outcome.detail));
        return;
    case ParseOutcome::Status::Invalid:
        call.respond(HttpReply::validationError(toJson(outcome.errors)));
        return;
    }
    // Answered after the commit (in the writer thread; the answer comes back here).
    m_pending.append(
        {{std::move(outcome.summary), nowInstant(), call.client},
         [respond = std::move(call.respond)](const PushOutcome &o) { respond(pushReply(o)); }});
    if (m_pending.size() >= m_config.maxBatch)
        handOver();
    else if (!m_handOver.isActive())
        m_handOver.start();
}

HttpReply CoordinatorApi::pushReply(const PushOutcome &o)
{
    HttpReply reply;
    switch (o.status) {
    case PushOutcome::Status::Overflow:
        reply = HttpReply::validationError(QJsonArray{QJsonObject{
            {QStringLiteral("loc"), QJsonArray{QStringLiteral("body"), QStringLiteral("summary"),
                                               QStringLiteral("topic_counts"), o.overflowTopic}},
            {QStringLiteral("msg"), QStringLiteral("the merged count would exceed 2^63-1")},
            {QStringLiteral("type"), QStringLiteral("value_error.number.overflow")}}});
        break;
    case PushOutcome::Status::StoreFailed:
        reply = HttpReply::error(
            503, QStringLiteral("The store could not commit the push; nothing was stored (%1)")
                     .arg(o.error.left(200)));
        break;
    case PushOutcome::Status::Merged:
    case PushOutcome::Status::Unchanged: {
        // Every push answers this: written straight as the bytes QJsonDocument would make
        // of {"status", "agent_id", "timestamp", "message"} (keys in its sorted order),
        // without building a tree (a third of the HTTP thread's instructions per push).
        const bool merged = o.status == PushOutcome::Status::Merged;
        const QByteArrayView head = R"({"agent_id":)";
        const QByteArrayView message = R"(,"message":"Summary from )";
        const QByteArrayView tail =
            merged ? QByteArrayView(R"( stored successfully","status":"accepted","timestamp":)")
                   : QByteArrayView(R"( stored successfully; the merged view already reflects )"
                                    R"(a summary at least as new","status":"accepted",)"
                                    R"("timestamp":)");
        QByteArray body;
        // Room for the escaped id twice (at most 6 bytes per UTF-16 unit) and the timestamp.
        body.reserve(head.size() + message.size() + tail.size() + 12 * o.agentId.size() +
                     IsoTimestampMaxSize + 8);
        body.append(head);
        const qsizetype idStart = body.size();
        JsonWriter::appendString(&body, o.agentId); // escaped, quoted
        const qsizetype idSize = body.size() - idStart;
        // The rest up to the timestamp written in place (one resize, no append per piece).
        const qsizetype at = body.size();
        body.resize(at + message.size() + idSize - 2 + tail.size());
        char *p = body.data() + at;
        std::memcpy(p, message.data(), size_t(message.size()));
        p += message.size();
        // The id again, inside the message's quotes.
        std::memcpy(p, body.constData() + idStart + 1, size_t(idSize - 2));
        p += idSize - 2;
        std::memcpy(p, tail.data(), size_t(tail.size()));
        JsonWriter::appendTimestamp(&body, o.receivedAt);
        body.append('}');
        reply = HttpReply::json(200, body);
        reply.note = merged ? QStringLiteral("merged") : QStringLiteral("unchanged");
        break;
    }
    }
    reply.agentId = o.agentId;
    return reply;
}

} // namespace agmem
