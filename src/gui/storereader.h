#pragma once

#include "core/mergeengine.h"
#include "store/store.h"

#include <QHash>
#include <QList>
#include <QObject>
#include <QStringList>
#include <QThread>

#include <memory>
#include <optional>
#include <vector>

namespace agmem {

// What one refresh of the window's reader found, built on the reader's thread and never
// changed after it is handed over: the models on the GUI thread only apply it.
struct LiveDelta
{
    // Replace everything shown (first read, another database, a reset or a removed agent).
    bool reset = false;
    StoreState state;
    // Every agent's counters, sorted by id (code point order); no contributions.
    QList<AgentState> counters;
    // The agents whose contribution changed (all agents when `reset`), with it.
    QList<AgentState> changedAgents;
    QStringList goneAgents;
    // The topic totals, when an agent's contribution changed.
    std::optional<TopicTotals> topics;
    // Facts whose holder count changed, sorted by code point; 0 holders: no longer held.
    QList<QPair<QString, qint64>> changedFacts;
    // Rows appearing and disappearing among changedFacts.
    qsizetype addedFacts = 0;
    qsizetype removedFacts = 0;
    // On a reset or a change too large to apply row by row: every fact, sorted, and every
    // holder count (the GUI swaps them in whole). The one FactsModel fed by a
    // reader takes these two over (moves them out) instead of copying a million strings.
    std::shared_ptr<std::vector<QString>> allFacts;
    std::shared_ptr<QHash<QString, qint64>> allHolders;
    qsizetype factCount = 0;
    int contributingAgents = 0;
    // The chart's last hour, when the refresh asked for it (read before the state).
    std::optional<Store::PushMinutes> pushMinutes;
};
using LiveDeltaPtr = std::shared_ptr<const LiveDelta>;

// The window's reader: lives on its own thread with its own read-only store connection
// (opened there, never on the GUI thread) and the merge engine the views show. Each
// refresh reads one snapshot and emits a LiveDelta; agent history and the keys go through
// it too. A request that blocks (a database that does not answer) blocks only this
// thread: the window notices the missing answer and says so (MainWindow).
class StoreReader : public QObject
{
    Q_OBJECT

public:
    struct Request
    {
        // Also read the pushes per minute since this instant (chart seeding); 0: not.
        Instant pushMinutesSince = 0;
        qint64 pushMinutesMaxRows = 0;
    };

    // Facts changes above this are handed over as a whole sorted list (see LiveDelta).
    static constexpr qsizetype RowByRowLimit = 256;

    explicit StoreReader(const StoreUrl &url);
    ~StoreReader() override;

    // Slots, run on the reader's thread (queue them: QMetaObject::invokeMethod).
    void refresh(const Request &request);
    // Starts from the agents the server loaded (before the first refresh; ignored after
    // it): the first refresh then reads only what changed since, instead of every agent.
    void seed(const AgentsSnapshotPtr &snapshot);
    void readAgentHistory(const QString &agentId, int limit, quint64 token);
    void listKeys(quint64 token);
    void createKey(const QString &name, unsigned scopes, quint64 token);
    void revokeKey(qint64 id, quint64 token);
    // A cheap round trip (Store::ping) on this reader's connection: the window's second
    // reader asks it while the first is busy, to tell a slow read from a database that
    // does not answer.
    void ping(quint64 token);
    // Closes the connections (before the thread ends: they belong to it).
    void close();

Q_SIGNALS:
    void refreshed(const agmem::LiveDeltaPtr &delta);
    // The database could not be read (it is tried again at the next refresh).
    void refreshFailed(const QString &error);
    void agentHistoryRead(quint64 token, const QString &agentId,
                          const QList<agmem::Store::PushRecord> &records, const QString &error);
    void keysListed(quint64 token, const QList<agmem::ApiKeyRecord> &keys, const QString &error);
    void keyCreated(quint64 token, const QString &key, const QString &error);
    void keyRevoked(quint64 token, bool ok, const QString &error);
    void pinged(quint64 token, const QString &error);

private:
    Store *store(QString *error);
    Store *writeStore(QString *error);
    bool readSnapshot(const Request &request, LiveDelta *delta, QString *error);

    StoreUrl m_url;
    std::unique_ptr<Store> m_store;
    std::unique_ptr<Store> m_writeStore; // keys only (create, revoke)
    MergeEngine m_engine;
    StoreState m_state;
    bool m_loaded = false;
    // m_engine holds a seed (m_state.sequence is its sequence); nothing emitted yet.
    bool m_seeded = false;
};

// Runs a StoreReader on a thread of its own; the GUI only queues calls to it. Stopping
// waits a moment for a request in progress; a reader stuck in a database that does not
// answer is left behind rather than holding up the window's exit.
class ReaderThread
{
public:
    explicit ReaderThread(const StoreUrl &url);
    ~ReaderThread();
    ReaderThread(const ReaderThread &) = delete;
    ReaderThread &operator=(const ReaderThread &) = delete;

    StoreReader *reader() const { return m_reader; }
    template <typename F>
    void post(F &&f)
    {
        QMetaObject::invokeMethod(m_reader, std::forward<F>(f), Qt::QueuedConnection);
    }

private:
    QThread *m_thread;
    StoreReader *m_reader;
};

} // namespace agmem

Q_DECLARE_METATYPE(agmem::LiveDeltaPtr)
