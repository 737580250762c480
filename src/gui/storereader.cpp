#include "storereader.h"

#include <QSet>
#include <QSqlQuery>

#include <algorithm>

namespace agmem {

namespace {

// Registered once for queued signals.
const int registered = [] {
    qRegisterMetaType<LiveDeltaPtr>();
    qRegisterMetaType<QList<Store::PushRecord>>();
    qRegisterMetaType<QList<ApiKeyRecord>>();
    return 0;
}();

} // namespace

StoreReader::StoreReader(const StoreUrl &url)
    : m_url(url)
{
    Q_UNUSED(registered);
}

StoreReader::~StoreReader() = default;

void StoreReader::close()
{
    m_store.reset();
    m_writeStore.reset();
}

Store *StoreReader::store(QString *error)
{
    if (!m_store) {
        StoreOptions options;
        options.readOnly = true;
        m_store = Store::open(m_url, options, error);
    }
    return m_store.get();
}

Store *StoreReader::writeStore(QString *error)
{
    if (!m_writeStore)
        m_writeStore = Store::open(m_url, StoreOptions{}, error);
    return m_writeStore.get();
}

void StoreReader::seed(const AgentsSnapshotPtr &snapshot)
{
    if (m_loaded || !snapshot)
        return;
    m_engine.clear();
    qsizetype facts = 0;
    for (const AgentState &agent : snapshot->agents)
        facts += agent.current ? agent.current->facts.size() : 0;
    m_engine.reserve(snapshot->agents.size(), std::min<qsizetype>(facts, 1 << 22));
    for (const AgentState &agent : snapshot->agents)
        m_engine.restore(agent);
    // Read changes after the newest agent row the snapshot holds, not after the sequence it
    // claims: on PostgreSQL another instance may have committed between the server's load
    // and its reading the sequence (commits take their sequence in order, under the state
    // row's lock, so everything up to an agent's sequence is in the load).
    quint64 newest = 0;
    for (const AgentState &agent : snapshot->agents)
        newest = std::max(newest, agent.sequence);
    m_state = {};
    m_state.sequence = std::min(snapshot->sequence, newest);
    m_seeded = true;
}

void StoreReader::refresh(const Request &request)
{
    auto delta = std::make_shared<LiveDelta>();
    QString error;
    if (!readSnapshot(request, delta.get(), &error)) {
        // Not created yet (the server migrates it), or gone: open it again next time.
        m_store.reset();
        Q_EMIT refreshFailed(error);
        return;
    }
    Q_EMIT refreshed(std::move(delta));
}

bool StoreReader::readSnapshot(const Request &request, LiveDelta *delta, QString *error)
{
    Store *s = store(error);
    if (!s)
        return false;
    QSqlDatabase db = s->database();
    // One snapshot for every statement of the refresh: the counters, the contributions
    // and the chart's history agree with each other.
    if (!db.transaction()) {
        *error = s->lastError().isEmpty() ? QStringLiteral("cannot begin a read") : s->lastError();
        return false;
    }
    if (s->dialect().isPostgres()) {
        QSqlQuery q(db);
        q.exec(QStringLiteral("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"));
    }
    const auto fail = [&] {
        *error = s->lastError();
        db.rollback();
        return false;
    };
    if (request.pushMinutesSince > 0) {
        delta->pushMinutes = s->pushesPerMinute(request.pushMinutesSince,
                                                std::max<qint64>(request.pushMinutesMaxRows, 1));
        if (!delta->pushMinutes)
            return fail();
    }
    std::optional<QList<AgentState>> counters = s->listAgents();
    if (!counters)
        return fail();
    MergeEngine changed;
    std::optional<StoreState> state =
        s->loadChanges(changed, m_loaded || m_seeded ? m_state.sequence : 0);
    if (!state)
        return fail();
    // The first snapshot shown replaces everything: read in full, or a seed and what
    // changed after it. A seed from another database (its sequence is ahead) is dropped.
    const bool reset =
        !m_loaded || state->databaseId != m_state.databaseId || state->sequence < m_state.sequence;
    const bool reload = reset && (m_loaded || (m_seeded && state->sequence < m_state.sequence));
    if (reload) {
        changed.clear();
        state = s->loadChanges(changed, 0);
        if (!state)
            return fail();
    }
    const bool fromSeed = reset && m_seeded && !reload;
    m_seeded = false;
    db.commit();

    // Usually in order already (SQLite compares UTF-8 bytes: code point order).
    const auto byId = [](const AgentState &a, const AgentState &b) {
        return CodePointLess{}(a.agentId, b.agentId);
    };
    if (!std::is_sorted(counters->cbegin(), counters->cend(), byId))
        std::sort(counters->begin(), counters->end(), byId);

    delta->reset = reset;
    delta->state = *state;
    if (reset) {
        if (fromSeed) {
            // The seed, less the agents gone since (a reset or a removal elsewhere), plus
            // what changed.
            QSet<QString> present;
            present.reserve(counters->size());
            for (const AgentState &agent : std::as_const(*counters))
                present.insert(agent.agentId);
            QStringList gone;
            for (auto it = m_engine.agents().cbegin(); it != m_engine.agents().cend(); ++it) {
                if (!present.contains(it.key()))
                    gone.append(it.key());
            }
            for (const QString &id : std::as_const(gone))
                m_engine.removeAgent(id);
            for (const AgentState &agent : changed.agents())
                m_engine.restore(agent);
        } else {
            // Everything was read into `changed`: it becomes the engine.
            m_engine = std::move(changed);
        }
        delta->changedAgents.reserve(m_engine.agentCount());
        for (const AgentState &agent : m_engine.agents())
            delta->changedAgents.append(agent);
        const FactHolders &holders = m_engine.factHolders();
        delta->allFacts = std::make_shared<std::vector<QString>>();
        delta->allFacts->reserve(holders.size());
        delta->allHolders = std::make_shared<QHash<QString, qint64>>();
        delta->allHolders->reserve(qsizetype(holders.size()));
        for (const auto &[fact, count] : holders) {
            delta->allFacts->push_back(fact);
            delta->allHolders->insert(fact, count);
        }
        sortByCodePoint(*delta->allFacts);
        delta->addedFacts = qsizetype(holders.size());
    } else {
        // The facts whose holder count may change, and whether they are held now: only
        // facts in one of an agent's old and new lists but not the other.
        QSet<QString> touched;
        const auto addAll = [&touched](const std::optional<Contribution> &c) {
            if (c) {
                for (const QString &fact : c->facts)
                    touched.insert(fact);
            }
        };
        QSet<QString> present;
        present.reserve(counters->size());
        for (const AgentState &agent : *counters)
            present.insert(agent.agentId);
        for (auto it = m_engine.agents().cbegin(); it != m_engine.agents().cend(); ++it) {
            if (!present.contains(it.key())) {
                delta->goneAgents.append(it.key());
                addAll(it->current);
            }
        }
        for (const AgentState &agent : changed.agents()) {
            const auto old = m_engine.agents().constFind(agent.agentId);
            if (old == m_engine.agents().cend() || !old->current) {
                addAll(agent.current);
            } else if (!agent.current) {
                addAll(old->current);
            } else {
                QStringList diff;
                std::set_symmetric_difference(
                    old->current->facts.cbegin(), old->current->facts.cend(),
                    agent.current->facts.cbegin(), agent.current->facts.cend(),
                    std::back_inserter(diff), CodePointLess{});
                for (const QString &fact : diff)
                    touched.insert(fact);
            }
        }
        std::vector<QString> facts(touched.cbegin(), touched.cend());
        std::sort(facts.begin(), facts.end(), CodePointLess{});
        std::vector<bool> wasHeld;
        wasHeld.reserve(facts.size());
        for (const QString &fact : facts)
            wasHeld.push_back(m_engine.factHolders().count(fact) > 0);

        for (const QString &id : std::as_const(delta->goneAgents))
            m_engine.removeAgent(id);
        for (const AgentState &agent : changed.agents()) {
            m_engine.restore(agent);
            delta->changedAgents.append(agent);
        }
        const FactHolders &holders = m_engine.factHolders();
        delta->changedFacts.reserve(qsizetype(facts.size()));
        for (size_t i = 0; i < facts.size(); ++i) {
            const auto it = holders.find(facts[i]);
            const qint64 count = it != holders.end() ? it->second : 0;
            if (count > 0 && !wasHeld[i])
                ++delta->addedFacts;
            else if (count == 0 && wasHeld[i])
                ++delta->removedFacts;
            delta->changedFacts.append({facts[i], count});
        }
        const size_t rows = delta->addedFacts + delta->removedFacts;
        if (rows > size_t(RowByRowLimit) ||
            rows * std::max<size_t>(holders.size(), 1) > 4'000'000) {
            // Sorting a million rows is the reader's work, not the window's; so are the
            // holder counts (20,000 updates of a hash of a million cost the GUI thread
            // ~45 ms in cache misses; swapping a new one in costs nothing).
            delta->allFacts = std::make_shared<std::vector<QString>>();
            delta->allFacts->reserve(holders.size());
            delta->allHolders = std::make_shared<QHash<QString, qint64>>();
            delta->allHolders->reserve(qsizetype(holders.size()));
            for (const auto &[fact, count] : holders) {
                delta->allFacts->push_back(fact);
                delta->allHolders->insert(fact, count);
            }
            // The engine's map is hashed: the window shows code-point order.
            sortByCodePoint(*delta->allFacts);
        }
    }
    // Not m_engine.setSequence(): that publishes the engine's /pull answer (a sorted,
    // serialized copy of a million facts), which nobody asks this engine for.
    if (reset || !delta->changedAgents.isEmpty() || !delta->goneAgents.isEmpty())
        delta->topics = m_engine.topicTotals();
    delta->counters = std::move(*counters);
    delta->factCount = qsizetype(m_engine.factHolders().size());
    delta->contributingAgents = m_engine.contributingAgents();
    m_state = *state;
    m_loaded = true;
    return true;
}

void StoreReader::readAgentHistory(const QString &agentId, int limit, quint64 token)
{
    QString error;
    QList<Store::PushRecord> records;
    if (Store *s = store(&error)) {
        if (auto read = s->agentHistory(agentId, limit))
            records = std::move(*read);
        else
            error = s->lastError();
    }
    Q_EMIT agentHistoryRead(token, agentId, records, error);
}

void StoreReader::listKeys(quint64 token)
{
    QString error;
    QList<ApiKeyRecord> keys;
    if (Store *s = store(&error)) {
        if (auto read = s->listKeys())
            keys = std::move(*read);
        else
            error = s->lastError();
    }
    if (!error.isEmpty())
        m_store.reset();
    Q_EMIT keysListed(token, keys, error);
}

void StoreReader::createKey(const QString &name, unsigned scopes, quint64 token)
{
    QString error;
    QString key;
    if (Store *s = writeStore(&error)) {
        ApiKeyRecord record;
        if (auto made = s->createKey(name, scopes, &record))
            key = *made;
        else
            error = s->lastError();
    }
    if (!error.isEmpty())
        m_writeStore.reset();
    Q_EMIT keyCreated(token, key, error);
}

void StoreReader::revokeKey(qint64 id, quint64 token)
{
    QString error;
    bool ok = false;
    if (Store *s = writeStore(&error)) {
        ok = s->revokeKey(id);
        if (!ok)
            error = s->lastError();
    }
    Q_EMIT keyRevoked(token, ok, error);
}

void StoreReader::ping(quint64 token)
{
    QString error;
    if (Store *s = store(&error)) {
        if (!s->ping()) {
            error = s->lastError().isEmpty() ? QStringLiteral("no answer") : s->lastError();
            m_store.reset();
        }
    }
    Q_EMIT pinged(token, error);
}

// ---------------------------------------------------------------------------- ReaderThread

ReaderThread::ReaderThread(const StoreUrl &url)
    : m_thread(new QThread)
    , m_reader(new StoreReader(url))
{
    m_thread->setObjectName(QStringLiteral("agmem-window-reader"));
    m_reader->moveToThread(m_thread);
    // The reader and its connections are destroyed on its thread.
    QObject::connect(m_thread, &QThread::finished, m_reader, [reader = m_reader] {
        reader->close();
        delete reader;
    });
    m_thread->start();
}

ReaderThread::~ReaderThread()
{
    m_reader->disconnect();
    m_thread->quit();
    if (m_thread->wait(3000)) {
        delete m_thread;
        return;
    }
    // Stuck in a database that does not answer: the process is on its way out; leaving
    // the thread behind is better than a window that does not close.
    qWarning("the window's database reader does not answer; not waiting for it");
}

} // namespace agmem
