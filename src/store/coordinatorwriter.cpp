#include "coordinatorwriter.h"

#include "core/logging.h"

#include <QSet>

#include <algorithm>
#include <limits>

namespace agmem {

namespace {

constexpr qint64 MicrosPerDay = qint64(86400) * 1000000;
constexpr qint64 MaxCount = std::numeric_limits<qint64>::max();

// The most a push can add to any merged topic count (its counts, summed, saturating).
qint64 countSum(const Summary &summary)
{
    qint64 sum = 0;
    for (const auto &entry : summary.topicCounts) {
        if (qAddOverflow(sum, qint64(entry.second), &sum))
            return MaxCount;
    }
    return sum;
}

qint64 largestTotal(const MergeEngine &engine)
{
    qint64 largest = 0;
    for (const auto &[topic, total] : engine.topicTotals())
        largest = std::max(largest, total.total);
    return largest;
}

} // namespace

CoordinatorWriter::CoordinatorWriter(std::unique_ptr<Store> store, MergeEngine engine,
                                     RetentionPolicy retention, QObject *parent)
    : CoordinatorWriter(*store, std::move(engine), std::move(retention), parent)
{
    m_ownedStore = std::move(store);
}

CoordinatorWriter::CoordinatorWriter(Store &store, MergeEngine engine, RetentionPolicy retention,
                                     QObject *parent)
    : QObject(parent)
    , m_store(&store)
    , m_engine(std::move(engine))
    , m_retention(std::move(retention))
{
    qRegisterMetaType<agmem::PushOutcome>();
    qRegisterMetaType<QList<agmem::PushOutcome>>();
    qRegisterMetaType<agmem::ResetOutcome>();
    qRegisterMetaType<agmem::RemoveOutcome>();
    qRegisterMetaType<agmem::CatchUpOutcome>();
    m_shared = m_store->dialect().isPostgres();
    if (const auto state = m_store->readState()) {
        m_totals.databaseId = state->databaseId;
        m_totals.totalPushes = state->totalPushes;
        m_resetGeneration = state->resetGeneration;
        m_engine.setSequence(state->sequence);
        // Pushes through another instance between loading the agents and now.
        m_resyncNeeded = m_shared;
    }
    m_answer = m_engine.answer();
    m_retentionTimer.setSingleShot(true);
    connect(&m_retentionTimer, &QTimer::timeout, this, [this] {
        const RetentionPass pass = runRetention();
        // A full batch: the next one as soon as the writes waiting now are done.
        m_retentionTimer.start(pass.more ? 0 : m_retentionIntervalMs);
    });
    connect(&m_catchUpTimer, &QTimer::timeout, this, [this] { catchUp(); });
}

CoordinatorWriter::~CoordinatorWriter()
{
    // The HTTP thread's read-only connection may close after this one: it cannot fold the
    // WAL into the file, so the writer does it now (the file alone holds everything).
    if (!m_store->checkpoint())
        qCWarning(lcStore).noquote()
            << "the WAL was not checkpointed at stop:" << m_store->lastError();
}

std::unique_ptr<CoordinatorWriter>
CoordinatorWriter::open(const StoreUrl &url, const StoreOptions &options, MergeMode mode,
                        RetentionPolicy retention, QString *error)
{
    std::unique_ptr<Store> store = Store::open(url, options, error);
    if (!store)
        return nullptr;
    MergeEngine engine(mode);
    if (!store->adoptMergeMode(mode, engine)) {
        *error = QStringLiteral("cannot load the merged view from %1: %2")
                     .arg(url.displayName(), store->lastError());
        return nullptr;
    }
    return std::make_unique<CoordinatorWriter>(std::move(store), std::move(engine),
                                               std::move(retention));
}

void CoordinatorWriter::startTimers(int retentionIntervalMs, int catchUpIntervalMs)
{
    m_retentionIntervalMs = retentionIntervalMs;
    if (m_retention.enabled())
        m_retentionTimer.start(retentionIntervalMs);
    if (m_shared && catchUpIntervalMs > 0)
        m_catchUpTimer.start(catchUpIntervalMs);
}

Instant CoordinatorWriter::now() const
{
    return m_retention.clock ? m_retention.clock() : nowInstant();
}

CoordinatorWriter::PullView CoordinatorWriter::pullView() const
{
    QReadLocker locker(&m_viewLock);
    return {m_answer, m_totals.databaseId, m_engine.sequence()};
}

QPair<QByteArray, quint64> CoordinatorWriter::pullBody() const
{
    // Outside the lock: the answer applies what was published up to now, and its body
    // names the sequence it holds.
    const PullAnswer::BodyPtr body = pullView().answer->plain();
    return {body->joined(), body->sequence};
}

void CoordinatorWriter::publish(const std::function<void(MergeEngine &, WriterTotals &)> &change)
{
    QWriteLocker locker(&m_viewLock);
    change(m_engine, m_totals);
    // Hands the changes to the maintained /pull answer (serialized when first asked for).
    m_answer = m_engine.answer();
}

bool CoordinatorWriter::transaction(const std::function<bool(quint64)> &write, QString *error)
{
    bool ok = m_store->beginWrite();
    if (!ok && m_shared && m_store->reopen())
        ok = m_store->beginWrite();
    if (ok && m_shared) {
        // Several instances: write transactions are serialized by the lock on the state
        // row; under it, apply what the others committed, so this one plans on the current
        // merge and allocates the next sequence of the database.
        ok = m_store->lockState().has_value();
        if (ok) {
            const CatchUpOutcome caught = catchUpLocked(false);
            ok = caught.ok;
            if (caught.ok && caught.sequence != caught.before) {
                // Committed by the others already: told now, whatever this write does.
                Q_EMIT caughtUp(caught);
                Q_EMIT mergeChanged(caught.sequence);
            }
        }
    }
    ok = ok && write(m_engine.sequence()) && m_store->commit();
    if (!ok) {
        if (error)
            *error = m_store->lastError();
        m_store->rollback();
        noteDamage();
    }
    return ok;
}

void CoordinatorWriter::noteDamage()
{
    if (!m_store->corrupted() || m_damaged.load(std::memory_order_relaxed))
        return;
    m_damage = m_store->lastError();
    m_damaged.store(true, std::memory_order_release);
}

std::optional<QString> CoordinatorWriter::damage() const
{
    if (!m_damaged.load(std::memory_order_acquire))
        return std::nullopt;
    return m_damage;
}

void WriterTotals::countCommit(qint64 pushes)
{
    const auto bound = std::lower_bound(CommitSizeBounds.cbegin(), CommitSizeBounds.cend(), pushes);
    ++commitSizes[size_t(bound - CommitSizeBounds.cbegin())];
    committedInBatches += pushes;
}

QList<PushOutcome> CoordinatorWriter::commitPushes(const QList<PushRequest> &pushes)
{
    QList<PushOutcome> outcomes(pushes.size());
    for (qsizetype i = 0; i < pushes.size(); ++i) {
        outcomes[i].agentId = pushes.at(i).summary.agentId;
        outcomes[i].receivedAt = pushes.at(i).receivedAt;
    }
    bool changed = false;
    bool failed = false;
    QString failure;
    qsizetype start = 0;
    while (start < pushes.size() && !failed) {
        // One transaction for [start, end): `end` is found while planning, the first push
        // that must see this transaction's changes in the engine first.
        struct Planned
        {
            qsizetype index;
            std::optional<Contribution> next;
        };
        QList<Planned> planned;
        planned.reserve(pushes.size() - start);
        qsizetype end = start;
        quint64 sequence = 0;
        qint64 added = 0;
        QString error;
        const bool ok = transaction(
            [&](quint64 before) {
                sequence = before;
                QSet<QString> agents;
                agents.reserve(pushes.size() - start);
                // No single plan sees the others of its transaction: stop before a push
                // whose counts could overflow a total only together with them.
                qint64 headroom = MaxCount - largestTotal(m_engine);
                for (end = start; end < pushes.size(); ++end) {
                    const PushRequest &p = pushes.at(end);
                    const qint64 adds = countSum(p.summary);
                    if (end > start && adds > headroom)
                        break;
                    // An agent already in this transaction: not inserted (one lookup).
                    const qsizetype known = agents.size();
                    agents.insert(p.summary.agentId);
                    if (agents.size() == known)
                        break;
                    headroom -= std::min(adds, headroom);
                    MergeEngine::Plan plan = m_engine.plan(p.summary);
                    outcomes[end].timestamp = p.summary.timestamp;
                    if (plan.overflows()) {
                        outcomes[end].status = PushOutcome::Status::Overflow;
                        outcomes[end].overflowTopic = plan.overflowTopic;
                        continue;
                    }
                    const quint64 next = plan.changesMerge() ? sequence + 1 : sequence;
                    if (!m_store->recordPush(p.summary, p.receivedAt, p.source, plan.next, next))
                        return false;
                    sequence = next;
                    ++added;
                    outcomes[end].status = plan.changesMerge() ? PushOutcome::Status::Merged
                                                               : PushOutcome::Status::Unchanged;
                    outcomes[end].sequence = next;
                    outcomes[end].before = std::move(plan.previous);
                    outcomes[end].after = plan.next;
                    planned.append({end, std::move(plan.next)});
                }
                return m_store->writeState(sequence, added);
            },
            &error);
        if (!ok) {
            failed = true;
            failure = error;
            break;
        }
        for (const Planned &p : std::as_const(planned))
            changed = changed || p.next.has_value();
        publish([&](MergeEngine &engine, WriterTotals &totals) {
            for (Planned &p : planned) {
                const PushRequest &push = pushes.at(p.index);
                engine.apply(push.summary.agentId, std::move(p.next), push.receivedAt,
                             outcomes.at(p.index).sequence);
            }
            engine.setSequence(sequence);
            totals.totalPushes += added;
            totals.countCommit(end - start);
        });
        start = end;
    }
    if (failed) {
        qCWarning(lcStore).noquote()
            << "a batch of" << (pushes.size() - start) << "pushes was not stored:" << failure;
        for (qsizetype i = start; i < pushes.size(); ++i) {
            if (outcomes.at(i).status == PushOutcome::Status::Overflow)
                continue; // refused anyway: what it would overflow is the answer
            outcomes[i].status = PushOutcome::Status::StoreFailed;
            outcomes[i].sequence = 0;
            outcomes[i].error = failure;
            outcomes[i].before.reset();
            outcomes[i].after.reset();
        }
    }
    Q_EMIT pushesCommitted(outcomes);
    if (changed)
        Q_EMIT mergeChanged(m_engine.sequence());
    return outcomes;
}

ResetOutcome CoordinatorWriter::reset()
{
    ResetOutcome outcome;
    outcome.ok = transaction(
        [&](quint64 before) {
            outcome.sequence = before + 1;
            return m_store->deleteEverything(outcome.sequence);
        },
        &outcome.error);
    if (outcome.ok) {
        publish([&](MergeEngine &engine, WriterTotals &totals) {
            engine.clear();
            engine.setSequence(outcome.sequence);
            totals.totalPushes = 0;
        });
        m_prunedAt.clear();
        // The next catch-up reloads (and learns the new reset generation).
        m_resyncNeeded = m_shared;
    } else {
        outcome.sequence = 0;
    }
    Q_EMIT resetDone(outcome);
    if (outcome.ok)
        Q_EMIT mergeChanged(outcome.sequence);
    return outcome;
}

RemoveOutcome CoordinatorWriter::removeAgent(const QString &agentId)
{
    RemoveOutcome outcome;
    outcome.agentId = agentId;
    bool found = false;
    const bool ok = transaction(
        [&](quint64 before) {
            // Checked under the lock, after the catch-up: another instance may have removed it.
            found = m_engine.agents().contains(agentId);
            if (!found)
                return true;
            outcome.sequence = before + 1;
            return m_store->deleteAgent(agentId, outcome.sequence);
        },
        &outcome.error);
    if (!ok) {
        outcome.status = RemoveOutcome::Status::StoreFailed;
        outcome.sequence = 0;
    } else if (!found) {
        outcome.status = RemoveOutcome::Status::NotFound;
    } else {
        outcome.status = RemoveOutcome::Status::Removed;
        publish([&](MergeEngine &engine, WriterTotals &) {
            engine.removeAgent(agentId);
            engine.setSequence(outcome.sequence);
        });
        m_prunedAt.remove(agentId);
        // deleteAgent bumped the reset generation (under the lock, after the catch-up had
        // read it) so the other instances reload; this one applied the removal itself.
        if (m_shared)
            ++m_resetGeneration;
    }
    Q_EMIT agentRemoved(outcome);
    if (outcome.status == RemoveOutcome::Status::Removed)
        Q_EMIT mergeChanged(outcome.sequence);
    return outcome;
}

CatchUpOutcome CoordinatorWriter::catchUpLocked(bool reconnect)
{
    CatchUpOutcome outcome;
    outcome.before = m_engine.sequence();
    outcome.sequence = outcome.before;
    if (!m_shared)
        return outcome;
    // Other instances' commits: published at once (they are committed already).
    publish([&](MergeEngine &engine, WriterTotals &totals) {
        std::optional<StoreState> state;
        if (!m_resyncNeeded) {
            state = m_store->loadChanges(engine, engine.sequence());
            if (!state && reconnect && m_store->reopen())
                state = m_store->loadChanges(engine, engine.sequence());
            if (!state) {
                outcome.ok = false;
                return;
            }
            m_resyncNeeded = state->resetGeneration != m_resetGeneration;
        }
        if (m_resyncNeeded) {
            // A reset or removal deleted agents (no row tells), or a reload failed: all again.
            engine.clear();
            outcome.reloaded = true;
            state = m_store->loadChanges(engine, 0);
            if (!state && reconnect && m_store->reopen())
                state = m_store->loadChanges(engine, 0);
            if (!state) {
                outcome.ok = false;
                return;
            }
            m_resyncNeeded = false;
            m_resetGeneration = state->resetGeneration;
        }
        engine.setSequence(state->sequence);
        totals.totalPushes = state->totalPushes;
        outcome.sequence = state->sequence;
    });
    if (!outcome.ok)
        outcome.error = m_store->lastError();
    return outcome;
}

CatchUpOutcome CoordinatorWriter::catchUp()
{
    const CatchUpOutcome outcome = catchUpLocked(true);
    if (m_shared) {
        Q_EMIT caughtUp(outcome);
        if (outcome.ok && outcome.changed())
            Q_EMIT mergeChanged(outcome.sequence);
    }
    return outcome;
}

bool CoordinatorWriter::touchKeys(const QHash<qint64, Instant> &lastUsed)
{
    const bool ok = lastUsed.isEmpty() || m_store->touchKeys(lastUsed);
    noteDamage();
    return ok;
}

RetentionPass CoordinatorWriter::runRetention()
{
    RetentionPass pass;
    const Instant current = now();
    const int batch = qMax(1, m_retention.batch);
    if (m_retention.agentExpiryDays > 0) {
        const Instant cutoff = current - m_retention.agentExpiryDays * MicrosPerDay;
        QStringList expired;
        for (const AgentState &a : m_engine.agents()) {
            if (a.lastSeen < cutoff)
                expired.append(a.agentId);
        }
        for (const QString &id : std::as_const(expired)) {
            const RemoveOutcome removed = removeAgent(id);
            if (removed.status == RemoveOutcome::Status::StoreFailed) {
                qCWarning(lcStore).noquote() << "agent expiry failed:" << removed.error;
                pass.ok = false;
                break;
            }
            if (removed.status == RemoveOutcome::Status::Removed) {
                qCInfo(lcStore).noquote() << "agent" << logSafe(id) << "expired: no push for"
                                          << m_retention.agentExpiryDays << "days";
                pass.agentsExpired.append(id);
            }
        }
    }
    if (m_retention.historyRetentionDays > 0) {
        const Instant cutoff = current - m_retention.historyRetentionDays * MicrosPerDay;
        const auto deleted = m_store->pruneHistoryBefore(cutoff, batch);
        if (!deleted) {
            pass.ok = false;
        } else {
            pass.historyDeleted += *deleted;
            pass.more = pass.more || *deleted >= batch;
        }
    }
    if (m_retention.historyMaxPerAgent > 0 && pass.historyDeleted < batch) {
        for (const AgentState &a : m_engine.agents()) {
            if (a.pushCount <= m_retention.historyMaxPerAgent ||
                m_prunedAt.value(a.agentId, -1) == a.pushCount)
                continue;
            if (pass.historyDeleted >= batch) {
                pass.more = true; // the others on the next pass
                break;
            }
            const qint64 room = batch - pass.historyDeleted;
            const auto deleted =
                m_store->pruneAgentHistory(a.agentId, m_retention.historyMaxPerAgent, int(room));
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
        qCInfo(lcStore) << "retention pruned" << pass.historyDeleted << "history rows";
    noteDamage();
    return pass;
}

} // namespace agmem
