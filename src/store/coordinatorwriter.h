#pragma once

#include "store.h"

#include "core/mergeengine.h"
#include "core/summary.h"

#include <QHash>
#include <QList>
#include <QMetaType>
#include <QMutex>
#include <QObject>
#include <QReadWriteLock>
#include <QString>
#include <QTimer>

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <optional>

namespace agmem {

// One validated push waiting for its commit.
struct PushRequest
{
    Summary summary;
    Instant receivedAt = 0;
    QString source; // the client's address
};

// What a push became. No JSON: the HTTP layer maps this to its answer.
struct PushOutcome
{
    enum class Status
    {
        // Stored, and the merged view changed (`sequence` is the new one).
        Merged,
        // Stored in history; the merged view already reflected a summary at least as new.
        Unchanged,
        // Refused: a merged count would exceed 2^63-1 (`overflowTopic`). Nothing stored.
        Overflow,
        // The store failed (`error`); nothing of the push was stored.
        StoreFailed,
    };
    Status status = Status::StoreFailed;
    QString agentId;
    Instant receivedAt = 0;
    // The change sequence after the push committed (Merged and Unchanged).
    quint64 sequence = 0;
    QString overflowTopic;
    QString error;
    // Stored pushes: the summary's own timestamp, and the agent's contribution to the merge
    // before and after it (after empty: the merge did not change). What GET /events tells.
    Instant timestamp = 0;
    std::optional<Contribution> before;
    std::optional<Contribution> after;

    bool stored() const { return status == Status::Merged || status == Status::Unchanged; }
};

struct ResetOutcome
{
    bool ok = false;
    quint64 sequence = 0;
    QString error;
};

struct RemoveOutcome
{
    enum class Status
    {
        Removed,
        NotFound,
        StoreFailed,
    };
    Status status = Status::StoreFailed;
    QString agentId;
    quint64 sequence = 0;
    QString error;
};

// Several instances on one PostgreSQL database: what applying the others' commits did.
struct CatchUpOutcome
{
    bool ok = true;
    quint64 before = 0;
    quint64 sequence = 0;
    // A reset or an agent removal elsewhere: the whole view was reloaded.
    bool reloaded = false;
    QString error;

    bool changed() const { return sequence != before || reloaded; }
};

struct RetentionPass
{
    qint64 historyDeleted = 0;
    // The agents removed for silence (each also reported as a RemoveOutcome).
    QStringList agentsExpired;
    bool more = false; // a batch was full: run again soon
    bool ok = true;
};

struct RetentionPolicy
{
    // 0: off. History older than this many days, and beyond the newest N pushes per agent,
    // is pruned; agents silent for agentExpiryDays are removed (as DELETE /agents/{id}).
    int historyRetentionDays = 0;
    int historyMaxPerAgent = 0;
    int agentExpiryDays = 0;
    int batch = 500; // rows one pass deletes at most
    // The clock of retention and expiry; empty: nowInstant().
    std::function<Instant()> clock;

    bool enabled() const
    {
        return historyRetentionDays > 0 || historyMaxPerAgent > 0 || agentExpiryDays > 0;
    }
};

// Totals of the published (committed) view besides the engine.
struct WriterTotals
{
    QString databaseId;
    qint64 totalPushes = 0;

    // Group commit: how many pushes each push transaction committed together (this
    // process's, since it started; a reset does not clear them). Bucket i counts the
    // transactions of at most CommitSizeBounds[i] pushes that did not fit a smaller bucket;
    // the last one those of more.
    static constexpr std::array<int, 8> CommitSizeBounds = {1, 2, 4, 8, 16, 32, 64, 128};
    std::array<qint64, CommitSizeBounds.size() + 1> commitSizes{};
    qint64 committedInBatches = 0; // the pushes of those transactions (the sum)
    void countCommit(qint64 pushes);
};

// The one place that writes the coordinator's data: it owns the read-write store
// connection and the merge engine, and performs every write (push batches with group
// commit, reset, agent removal, key last-use times, retention, and the catch-up from other
// instances on a shared PostgreSQL database) as "begin, lock, sequence, write, commit or
// roll back" in one function. Each write returns an outcome and is reported by a signal,
// which other threads receive queued.
//
// Thread rules: every write function runs in the thread that owns the writer (the store
// connection belongs to it). The merged view is read from any thread through read(); it
// only ever holds committed changes: the engine is changed after the commit, under the
// write lock (publish()).
class CoordinatorWriter : public QObject
{
    Q_OBJECT

public:
    // `engine` must hold the store's current merged view (Store::adoptMergeMode).
    CoordinatorWriter(std::unique_ptr<Store> store, MergeEngine engine,
                      RetentionPolicy retention = {}, QObject *parent = nullptr);
    // The same over a store the caller keeps (and must keep open while this lives).
    CoordinatorWriter(Store &store, MergeEngine engine, RetentionPolicy retention = {},
                      QObject *parent = nullptr);
    ~CoordinatorWriter() override;

    // Opens the store (migrating it) and loads the merged view; nullptr and `error` on
    // failure. In the thread that will own the writer.
    static std::unique_ptr<CoordinatorWriter> open(const StoreUrl &url, const StoreOptions &options,
                                                   MergeMode mode, RetentionPolicy retention,
                                                   QString *error);

    // Commits pushes in one transaction (group commit); an outcome per push, in order. A
    // batch that names an agent twice, or that could overflow a count only together, is
    // committed in several transactions, so each push is planned on the committed view.
    QList<PushOutcome> commitPushes(const QList<PushRequest> &pushes);
    ResetOutcome reset();
    RemoveOutcome removeAgent(const QString &agentId);
    // PostgreSQL: applies what other instances committed since the last sequence seen
    // (everything after a reset or removal elsewhere). SQLite: nothing to do.
    CatchUpOutcome catchUp();
    // One pass of retention (the timer calls it; tests call it directly).
    RetentionPass runRetention();
    // Records batched last-use times of API keys.
    bool touchKeys(const QHash<qint64, Instant> &lastUsed);
    // Starts the timers of retention and (PostgreSQL) the idle catch-up. In the owning
    // thread; a writer driven by hand (tests) does not need them.
    void startTimers(int retentionIntervalMs, int catchUpIntervalMs);

    // Reads the committed merged view from any thread: `f(const MergeEngine &, const
    // WriterTotals &)` runs under the read lock (keep it short: the writer waits for it).
    template <typename F>
    auto read(F &&f) const
    {
        QReadLocker locker(&m_viewLock);
        return f(std::as_const(m_engine), std::as_const(m_totals));
    }
    // The maintained /pull answer of the published view (MergeEngine::answer(), updated in
    // publish()) and the database id of its ETag. The answer is thread-safe: ask it for
    // its plain or gzip body outside any lock; Body::sequence names the state it holds.
    struct PullView
    {
        std::shared_ptr<PullAnswer> answer;
        QString databaseId;
        quint64 sequence = 0;
    };
    PullView pullView() const;
    // The body of GET /pull and the sequence it belongs to.
    QPair<QByteArray, quint64> pullBody() const;

    // The writer's own thread only (or a test driving it by hand).
    Store &store() { return *m_store; }
    const MergeEngine &engine() const { return m_engine; }
    bool shared() const { return m_shared; }
    QString lastError() const { return m_store->lastError(); }
    // Any thread: the store's damage as the writer's connection found it (SQLite), or none.
    // Other connections to the file (the HTTP thread's reader) take it over, so /health
    // says unhealthy whichever connection met the damaged page.
    std::optional<QString> damage() const;

Q_SIGNALS:
    // Every outcome, after its commit (queued to receivers in other threads).
    void pushesCommitted(const QList<agmem::PushOutcome> &outcomes);
    void resetDone(const agmem::ResetOutcome &outcome);
    void agentRemoved(const agmem::RemoveOutcome &outcome);
    void caughtUp(const agmem::CatchUpOutcome &outcome);
    // The merged view changed (any of the above); the new sequence.
    void mergeChanged(quint64 sequence);

private:
    // The one write transaction: begin (reopening a lost PostgreSQL connection once);
    // with several instances lock the state row and apply the others' commits first;
    // `write` (given the sequence before it) stores its changes; then commit, or roll
    // back when any step failed. The engine is not touched here: the caller publishes
    // what committed.
    bool transaction(const std::function<bool(quint64 sequence)> &write, QString *error);
    CatchUpOutcome catchUpLocked(bool reconnect);
    // Changes the published view after a commit, under the write lock. This is where a
    // maintained /pull answer is updated (the lambda is the only mutation of the engine).
    void publish(const std::function<void(MergeEngine &, WriterTotals &)> &change);
    Instant now() const;
    // After a write: publishes the store's damage for damage() (once).
    void noteDamage();

    std::unique_ptr<Store> m_ownedStore;
    Store *m_store;
    MergeEngine m_engine;
    WriterTotals m_totals;
    RetentionPolicy m_retention;
    bool m_shared = false;
    qint64 m_resetGeneration = 0;
    bool m_resyncNeeded = false;
    mutable QReadWriteLock m_viewLock;
    std::atomic<bool> m_damaged{false};
    QString m_damage; // set once, before m_damaged
    // m_engine.answer() as of the last publish() (the engine's own is not to be asked
    // for from other threads: asking publishes pending changes).
    std::shared_ptr<PullAnswer> m_answer;
    QTimer m_retentionTimer;
    int m_retentionIntervalMs = 0;
    QTimer m_catchUpTimer;
    // Agents whose history was pruned to the limit, with their push count then.
    QHash<QString, qint64> m_prunedAt;
};

} // namespace agmem

Q_DECLARE_METATYPE(agmem::PushOutcome)
Q_DECLARE_METATYPE(agmem::ResetOutcome)
Q_DECLARE_METATYPE(agmem::RemoveOutcome)
Q_DECLARE_METATYPE(agmem::CatchUpOutcome)
