#include "coordinatorapi.h"

#include "operationsapi.h"
#include "webui.h"

#include "core/jsonwriter.h"
#include "core/logging.h"

#include <QJsonArray>
#include <QJsonObject>
#include <QMetaObject>

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

bool isJsonContentType(const QByteArray &value)
{
    // As FastAPI: a missing Content-Type is read as JSON; otherwise application/json or
    // application/*+json, parameters (charset) allowed.
    if (value.isEmpty())
        return true;
    const QByteArray type = value.split(';').first().trimmed().toLower();
    return type == "application/json" ||
           (type.startsWith("application/") && type.endsWith("+json"));
}

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

} // namespace

const QList<CoordinatorApi::Route> &CoordinatorApi::routes()
{
    static const QList<Route> table = {
        {QStringLiteral("/"), {Get, Head}, Scope::None},
        {QStringLiteral("/health"), {Get, Head}, Scope::None},
        {QStringLiteral("/push"), {Post}, Scope::Push},
        {QStringLiteral("/pull"), {Get, Head}, Scope::Pull},
        {QStringLiteral("/admin/reset"), {Delete}, Scope::Admin},
        // operationsapi.h; a path may have several rows (a scope per method).
        {QStringLiteral("/agents"), {Get, Head}, Scope::Pull},
        {QStringLiteral("/agents/{agent_id}"), {Get, Head}, Scope::Pull},
        {QStringLiteral("/agents/{agent_id}"), {Delete}, Scope::Admin},
        // Open from this machine (after a trusted proxy: the client's address), pull otherwise.
        {QStringLiteral("/metrics"), {Get, Head}, Scope::Pull},
        {QStringLiteral("/openapi.json"), {Get, Head}, Scope::None},
        {QStringLiteral("/docs"), {Get, Head}, Scope::None},
        {QStringLiteral("/redoc"), {Get, Head}, Scope::None},
        // The web dashboard (webui.h) and what it reads beyond /agents.
        {QStringLiteral("/ui"), {Get, Head}, Scope::None},
        {QStringLiteral("/ui/"), {Get, Head}, Scope::None},
        {QStringLiteral("/ui/{file}"), {Get, Head}, Scope::None},
        {QStringLiteral("/events"), {Get}, Scope::Pull},
        {QStringLiteral("/topics"), {Get, Head}, Scope::Pull},
        {QStringLiteral("/topics/{topic}"), {Get, Head}, Scope::Pull},
        {QStringLiteral("/facts"), {Get, Head}, Scope::Pull},
        {QStringLiteral("/pushes/per-minute"), {Get, Head}, Scope::Pull},
    };
    return table;
}

CoordinatorApi::CoordinatorApi(const ServerConfig &config, std::unique_ptr<Store> store,
                               MergeEngine engine, QObject *parent)
    : QObject(parent)
    , m_config(config)
    , m_store(std::move(store))
    , m_access(std::make_unique<AccessControl>(config.access, m_store.get(), config.host,
                                               !config.tlsCertificate.isEmpty()))
    , m_events(std::make_unique<EventHub>(config.eventRingSize))
    , m_engine(std::move(engine))
    , m_parser(config.limits)
    , m_startedAt(nowInstant())
{
    m_shared = m_store->dialect().isPostgres();
    if (const auto state = m_store->readState()) {
        m_databaseId = state->databaseId;
        m_totalPushes = state->totalPushes;
        m_resetGeneration = state->resetGeneration;
        m_engine.setSequence(state->sequence);
        m_events->setSequence(state->sequence);
        // Pushes through another instance between loading the agents and now.
        m_resyncNeeded = m_shared;
    }
    if (m_shared) {
        m_catchUpTimer.setInterval(CatchUpMs);
        connect(&m_catchUpTimer, &QTimer::timeout, this, [this] {
            if (m_pending.isEmpty())
                catchUp();
        });
        m_catchUpTimer.start();
    }
    m_flushTimer.setSingleShot(true);
    m_flushTimer.setInterval(0);
    connect(&m_flushTimer, &QTimer::timeout, this, &CoordinatorApi::flushPushes);
    // Last-use times of keys are written in batches, not on every request.
    m_housekeeping.setInterval(HousekeepingMs);
    connect(&m_housekeeping, &QTimer::timeout, this, [this] {
        m_access->flushLastUsed();
        m_access->prune();
    });
    m_housekeeping.start();
    m_operations = std::make_unique<OperationsApi>(
        config, m_engine, *m_store, [this](quint64 sequence) { Q_EMIT mergeChanged(sequence); });
    m_operations->setEventHub(m_events.get());
}

CoordinatorApi::~CoordinatorApi()
{
    // No pull answer may be handed back while this object goes.
    m_engine.answer()->waitForIdle();
    flushPushes();
    m_access->flushLastUsed();
}

std::unique_ptr<CoordinatorApi> CoordinatorApi::create(const ServerConfig &config, QString *error)
{
    std::unique_ptr<Store> store = Store::open(config.store, config.storeOptions, error);
    if (!store)
        return nullptr;
    MergeEngine engine(config.mergeMode);
    if (!store->adoptMergeMode(config.mergeMode, engine)) {
        *error = QStringLiteral("cannot load the merged view from %1: %2")
                     .arg(config.store.displayName(), store->lastError());
        return nullptr;
    }
    return std::make_unique<CoordinatorApi>(config, std::move(store), std::move(engine));
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
    QString parameter;
    for (const Route &r : routes()) {
        if (r.methods.contains(request.method) &&
            OperationsApi::matchRoute(r.path, request.path, &parameter)) {
            route = &r;
            break;
        }
    }
    // Unknown routes and methods get their 404/405 once the request is whole.
    if (!route || request.path == u"/health")
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

void CoordinatorApi::handle(const HttpRequest &original, const Respond &respond)
{
    HttpRequest request = original;
    // The unmodified agmem client sends no headers: its key can ride in the URL,
    // coordinator_url: http://host:8000/k/KEY
    QString pathKey;
    if (request.path.startsWith(u"/k/")) {
        const qsizetype slash = request.path.indexOf(u'/', 3);
        pathKey = request.path.mid(3, slash < 0 ? -1 : slash - 3);
        request.path = slash < 0 ? QStringLiteral("/") : request.path.mid(slash);
    }
    const QString client = m_access->clientAddress(request);
    const HeaderList cors = m_access->corsHeaders(request);
    const Respond answer = [this, &respond, &client, &cors](const HttpReply &reply) {
        // An answer given now must not overtake pushes still waiting for their commit
        // (a pipelined connection gets its answers in request order).
        flushPushes();
        HttpReply r = reply;
        r.client = client;
        r.headers += cors;
        respond(r);
    };

    // The row for this path and method (a path may have a row per scope); `allowed`: the
    // methods of every row for the path.
    const Route *route = nullptr;
    QByteArrayList allowed;
    QString parameter;
    for (const Route &r : routes()) {
        if (!OperationsApi::matchRoute(r.path, request.path, &parameter))
            continue;
        allowed += r.methods;
        if (!route ||
            (!route->methods.contains(request.method) && r.methods.contains(request.method)))
            route = &r;
    }
    if (!route) {
        answer(HttpReply::error(404, QStringLiteral("Not Found")));
        return;
    }
    if (request.method == Options && m_access->corsAllowed(request)) {
        Route all = *route;
        all.methods = allowed;
        answer(preflight(request, all));
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
    if (request.path != u"/health" && !checked) {
        if (const auto refused = m_access->authorize(request, client, pathKey, scope)) {
            answer(*refused);
            return;
        }
    }
    if (request.path == u"/push") {
        // Answered after the commit, so the callback must own what it uses.
        push(request, client, [respond, client, cors](const HttpReply &reply) {
            HttpReply r = reply;
            r.client = client;
            r.headers += cors;
            respond(r);
        });
        return;
    }
    // Answers leave in request order: pushes waiting for their commit go first.
    flushPushes();
    if (request.path == u"/pull" && !catchUp()) {
        answer(HttpReply::error(
            503,
            QStringLiteral("The store is unreachable: %1").arg(m_store->lastError().left(200))));
        return;
    }
    if (request.path == u"/" || route->path.startsWith(u"/agents") ||
        route->path.startsWith(u"/topics") || route->path == u"/facts" || route->path == u"/events")
        catchUp(); // on failure, the totals this instance knows
    if (WebUi::handles(route->path)) {
        answer(WebUi::handle(request, route->path, parameter));
    } else if (route->path == u"/events") {
        // The transport writes the stream head and keeps the connection (apiserver.cpp).
        HttpReply stream;
        stream.eventStream = true;
        answer(stream);
    } else if (OperationsApi::handles(route->path))
        answer(m_operations->handle(request, route->path, parameter));
    else if (request.path == u"/")
        answer(root());
    else if (request.path == u"/health")
        answer(health());
    else if (request.path == u"/pull") {
        // Answered at once when the answer is built, else from the answer's worker thread
        // (the callback owns what it uses, as a push's does).
        pull(request, [respond, client, cors](const HttpReply &reply) {
            HttpReply r = reply;
            r.client = client;
            r.headers += cors;
            respond(r);
        });
    } else if (request.path == u"/admin/reset")
        answer(reset(request));
}

HttpReply CoordinatorApi::preflight(const HttpRequest &request, const Route &route) const
{
    QByteArrayList methods = route.methods;
    HttpReply reply;
    reply.status = 204;
    reply.headers = {
        {"Access-Control-Allow-Methods", methods.join(", ")},
        {"Access-Control-Allow-Headers", "Authorization, Content-Type, X-API-Key, If-None-Match"},
        {"Access-Control-Max-Age", "600"}};
    Q_UNUSED(request);
    return reply;
}

HttpReply CoordinatorApi::root() const
{
    QJsonArray endpoints;
    for (const Route &r : routes()) {
        for (const QByteArray &m : r.methods) {
            if (m != Head)
                endpoints.append(QString(QString::fromLatin1(m) + u' ' + r.path));
        }
    }
    return HttpReply::json(200,
                           QJsonObject{
                               {QStringLiteral("service"), QStringLiteral("agmem-coordinator")},
                               {QStringLiteral("version"), QStringLiteral(AGMEM_VERSION)},
                               {QStringLiteral("status"), QStringLiteral("running")},
                               {QStringLiteral("endpoints"), endpoints},
                               {QStringLiteral("started_at"), formatIsoTimestamp(m_startedAt)},
                               {QStringLiteral("total_pushes"), m_totalPushes},
                               {QStringLiteral("total_agents"), qint64(m_engine.agentCount())},
                               {QStringLiteral("merge_mode"), mergeModeName(m_engine.mode())},
                               // Whether push and pull need a key (the web dashboard asks
                               // for one exactly then).
                               {QStringLiteral("key_required"), m_access->keysRequired()},
                           });
}

bool CoordinatorApi::catchUp(bool reconnect)
{
    if (!m_shared)
        return true;
    const quint64 before = m_engine.sequence();
    bool reloaded = false;
    std::optional<StoreState> state;
    if (!m_resyncNeeded) {
        state = m_store->loadChanges(m_engine, m_engine.sequence());
        if (!state && reconnect && m_store->reopen())
            state = m_store->loadChanges(m_engine, m_engine.sequence());
        if (!state)
            return false;
        m_resyncNeeded = state->resetGeneration != m_resetGeneration;
    }
    if (m_resyncNeeded) {
        // A reset deleted agents (no row tells), or an earlier reload failed: reload all.
        m_engine.clear();
        state = m_store->loadChanges(m_engine, 0);
        if (!state && reconnect && m_store->reopen())
            state = m_store->loadChanges(m_engine, 0);
        if (!state)
            return false;
        m_resyncNeeded = false;
        reloaded = state->resetGeneration != m_resetGeneration;
        m_resetGeneration = state->resetGeneration;
    }
    m_engine.setSequence(state->sequence);
    m_totalPushes = state->totalPushes;
    if (state->sequence != before) {
        publishCaughtUp(before, reloaded);
        Q_EMIT mergeChanged(state->sequence);
    }
    return true;
}

void CoordinatorApi::publishCaughtUp(quint64 before, bool reloaded)
{
    // Other instances' changes, as far as the loaded rows tell them: after a reload (a reset
    // elsewhere) a reset; else each agent that changed, without deltas.
    QList<ChangeEvent> events;
    if (reloaded) {
        events.append(ChangeEvent::reset(m_engine.sequence()));
        events.last().local = false;
    } else {
        for (const AgentState &a : m_engine.agents()) {
            if (a.sequence <= before)
                continue;
            ChangeEvent e;
            e.agentId = a.agentId;
            e.sequence = a.sequence;
            e.timestamp = a.current ? a.current->timestamp : 0;
            e.receivedAt = a.lastSeen;
            e.changesMerge = true;
            e.local = false;
            events.append(e);
        }
        std::sort(events.begin(), events.end(), [](const ChangeEvent &x, const ChangeEvent &y) {
            return x.sequence < y.sequence;
        });
    }
    m_events->publish(events);
    m_events->setSequence(m_engine.sequence());
}

HttpReply CoordinatorApi::health()
{
    const QString now = formatIsoTimestamp(nowInstant());
    if (!m_store->ping() && !(m_shared && m_store->reopen() && m_store->ping())) {
        return HttpReply::json(503,
                               QJsonObject{{QStringLiteral("status"), QStringLiteral("unhealthy")},
                                           {QStringLiteral("timestamp"), now},
                                           {QStringLiteral("detail"), m_store->lastError()}});
    }
    return HttpReply::json(200, QJsonObject{{QStringLiteral("status"), QStringLiteral("healthy")},
                                            {QStringLiteral("timestamp"), now}});
}

QByteArray CoordinatorApi::etag() const
{
    return etagOf(m_engine.sequence());
}

QByteArray CoordinatorApi::etagOf(quint64 sequence) const
{
    return '"' + m_databaseId.left(8).toLatin1() + '-' + QByteArray::number(sequence) + '"';
}

void CoordinatorApi::pull(const HttpRequest &request, const Respond &respond)
{
    const QByteArray tag = etag();
    const QByteArray vary = QByteArrayLiteral("Vary");
    const QByteArray acceptEncoding = QByteArrayLiteral("Accept-Encoding");
    const QByteArray ifNoneMatch = request.header("if-none-match");
    if (!ifNoneMatch.isEmpty()) {
        for (QByteArray candidate : ifNoneMatch.split(',')) {
            candidate = candidate.trimmed();
            if (candidate.startsWith("W/"))
                candidate = candidate.mid(2);
            if (candidate == tag || candidate == "*") {
                HttpReply reply;
                reply.status = 304;
                reply.headers = {
                    {"ETag", tag}, {"Cache-Control", "no-cache"}, {vary, acceptEncoding}};
                respond(reply);
                return;
            }
        }
    }
    const bool gzip = OperationsApi::acceptsGzip(request.header("accept-encoding"));
    // The answer reflects at least every change committed before this request (its body's
    // sequence names it: a build may take later changes along).
    const auto answerWith = [this, gzip, vary, acceptEncoding](const PullAnswer::BodyPtr &body) {
        HttpReply reply = HttpReply::json(200, QByteArray());
        reply.bodyPieces = body->pieces;
        reply.bodyPiecesSize = body->size;
        reply.headers.append({QByteArrayLiteral("ETag"), etagOf(body->sequence)});
        reply.headers.append({QByteArrayLiteral("Cache-Control"), QByteArrayLiteral("no-cache")});
        reply.headers.append({vary, acceptEncoding});
        if (gzip)
            reply.headers.append(
                {QByteArrayLiteral("Content-Encoding"), QByteArrayLiteral("gzip")});
        return reply;
    };
    const std::shared_ptr<PullAnswer> answer = m_engine.answer();
    const auto encoding = gzip ? PullAnswer::Encoding::Gzip : PullAnswer::Encoding::Plain;
    if (const PullAnswer::BodyPtr body = answer->ready(encoding)) {
        respond(answerWith(body));
        return;
    }
    // Built off this thread; concurrent pulls share the build. The answer comes back to
    // this thread as a queued call (~CoordinatorApi waits for the worker first, and Qt drops
    // calls queued for an object that is gone).
    answer->request(encoding, [this, respond, answerWith](PullAnswer::BodyPtr body) {
        QMetaObject::invokeMethod(
            this, [respond, answerWith, body] { respond(answerWith(body)); }, Qt::QueuedConnection);
    });
}

HttpReply CoordinatorApi::reset(const HttpRequest &request)
{
    quint64 sequence = m_engine.sequence() + 1;
    bool ok = m_store->beginWrite();
    if (!ok && m_shared && m_store->reopen())
        ok = m_store->beginWrite();
    if (ok && m_shared) {
        // Other instances: the sequence comes from the database, under its lock.
        const std::optional<StoreState> locked = m_store->lockState();
        ok = locked.has_value();
        if (locked)
            sequence = locked->sequence + 1;
    }
    if (!ok || !m_store->deleteEverything(sequence) || !m_store->commit()) {
        m_store->rollback();
        return HttpReply::error(
            503, QStringLiteral("The store could not reset: %1").arg(m_store->lastError()));
    }
    m_engine.clear();
    m_engine.setSequence(sequence);
    if (m_shared)
        m_resyncNeeded = true; // the next catch-up reloads (and learns the new generation)
    m_totalPushes = 0;
    m_events->publish({ChangeEvent::reset(sequence)});
    // The client behind trusted proxies, not the proxy.
    qCInfo(lcServer).noquote() << "store reset by" << logSafe(m_access->clientAddress(request));
    Q_EMIT mergeChanged(sequence);
    return HttpReply::json(200, QJsonObject{{QStringLiteral("status"), QStringLiteral("reset")},
                                            {QStringLiteral("message"),
                                             QStringLiteral("All summaries were deleted")}});
}

void CoordinatorApi::push(const HttpRequest &request, const QString &client, const Respond &respond)
{
    // Rejected at once: pushes still waiting for their commit are answered first.
    const auto reject = [this, &respond](const HttpReply &reply) {
        flushPushes();
        respond(reply);
    };
    if (!isJsonContentType(request.header("content-type"))) {
        reject(HttpReply::error(415, QStringLiteral("Content-Type must be application/json")));
        return;
    }
    if (request.body.size() > m_config.limits.maxBodyBytes) {
        reject(HttpReply::error(413, QStringLiteral("Request body is larger than %1 bytes")
                                         .arg(m_config.limits.maxBodyBytes)));
        return;
    }
    ParseOutcome outcome = m_parser.parse(request.body);
    switch (outcome.status) {
    case ParseOutcome::Status::Ok:
        break;
    case ParseOutcome::Status::BadEncoding:
    case ParseOutcome::Status::BadTimestamp:
        reject(HttpReply::error(400, outcome.detail));
        return;
    case ParseOutcome::Status::Invalid:
        reject(HttpReply::validationError(toJson(outcome.errors)));
        return;
    }

    m_pending.append({std::move(outcome.summary), client, nowInstant(), respond});
    if (m_pending.size() >= m_config.maxBatch) {
        flushPushes();
    } else if (!m_flushTimer.isActive()) {
        // A zero timer fires once the event loop has nothing else ready: every request
        // that has arrived is read first, and they all share one commit (group commit).
        m_flushTimer.start();
    }
}

void CoordinatorApi::flushPushes()
{
    m_flushTimer.stop();
    if (m_pending.isEmpty())
        return;
    const QList<PendingPush> batch = std::move(m_pending);
    m_pending.clear();

    struct Undo
    {
        QString agentId;
        std::optional<AgentState> before;
    };
    QList<Undo> undo;
    QList<HttpReply> replies(batch.size());
    QList<ChangeEvent> events;
    qint64 added = 0;
    bool changed = false;
    bool ok = m_store->beginWrite();
    if (!ok && m_shared && m_store->reopen())
        ok = m_store->beginWrite();
    if (ok && m_shared) {
        // Several instances: commits are serialized by the lock on the state row; under it,
        // apply what the others committed, then plan this batch on the current merge. The
        // sequence is allocated in the database.
        ok = m_store->lockState().has_value() && catchUp(false);
    }
    quint64 sequence = m_engine.sequence();

    for (qsizetype i = 0; ok && i < batch.size(); ++i) {
        const PendingPush &p = batch.at(i);
        const MergeEngine::Plan plan = m_engine.plan(p.summary);
        if (plan.overflows()) {
            replies[i] = HttpReply::validationError(QJsonArray{QJsonObject{
                {QStringLiteral("loc"),
                 QJsonArray{QStringLiteral("body"), QStringLiteral("summary"),
                            QStringLiteral("topic_counts"), plan.overflowTopic}},
                {QStringLiteral("msg"), QStringLiteral("the merged count would exceed 2^63-1")},
                {QStringLiteral("type"), QStringLiteral("value_error.number.overflow")}}});
            continue;
        }
        const quint64 next = plan.changesMerge() ? sequence + 1 : sequence;
        if (!m_store->recordPush(p.summary, p.receivedAt, p.source, plan.next, next)) {
            ok = false;
            break;
        }
        const auto before = m_engine.agents().constFind(p.summary.agentId);
        undo.append({p.summary.agentId, before == m_engine.agents().cend()
                                            ? std::nullopt
                                            : std::optional<AgentState>(*before)});
        events.append(ChangeEvent::push(
            p.summary.agentId, undo.last().before ? undo.last().before->current : std::nullopt,
            plan.next, p.summary.timestamp, p.receivedAt, next));
        m_engine.apply(p.summary.agentId, plan.next, p.receivedAt, next);
        sequence = next;
        changed = changed || plan.changesMerge();
        ++added;
        HttpReply &reply = replies[i];
        reply = HttpReply::json(
            200,
            QJsonObject{
                {QStringLiteral("status"), QStringLiteral("accepted")},
                {QStringLiteral("agent_id"), p.summary.agentId},
                {QStringLiteral("timestamp"), formatIsoTimestamp(p.receivedAt)},
                {QStringLiteral("message"),
                 plan.changesMerge()
                     ? QStringLiteral("Summary from %1 stored successfully").arg(p.summary.agentId)
                     : QStringLiteral("Summary from %1 stored successfully; the merged view "
                                      "already reflects a summary at least as new")
                           .arg(p.summary.agentId)},
            });
        reply.note = plan.changesMerge() ? QStringLiteral("merged") : QStringLiteral("unchanged");
    }
    ok = ok && m_store->writeState(sequence, added) && m_store->commit();

    if (!ok) {
        m_store->rollback();
        for (auto it = undo.crbegin(); it != undo.crend(); ++it) {
            if (it->before)
                m_engine.restore(*it->before);
            else
                m_engine.removeAgent(it->agentId);
        }
        const QString error = m_store->lastError();
        qCWarning(lcServer).noquote()
            << "a batch of" << batch.size() << "pushes was not stored:" << error;
        for (qsizetype i = 0; i < batch.size(); ++i) {
            if (replies[i].status != 422) {
                replies[i] = HttpReply::error(
                    503, QStringLiteral("The store could not commit the push; nothing was stored "
                                        "(%1)")
                             .arg(error.left(200)));
            }
        }
    } else {
        m_engine.setSequence(sequence);
        m_totalPushes += added;
        // One publish per commit batch: each event stream writes the batch at once.
        m_events->publish(events);
    }
    for (qsizetype i = 0; i < batch.size(); ++i) {
        replies[i].agentId = batch.at(i).summary.agentId;
        batch.at(i).respond(replies[i]);
    }
    if (ok && changed)
        Q_EMIT mergeChanged(sequence);
}

} // namespace agmem
