#pragma once

#include "sqldialect.h"
#include "sqlitedirect.h"
#include "storeurl.h"

#include "core/mergeengine.h"
#include "core/summary.h"

#include <QHash>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QString>

class QThread;

#include <array>
#include <memory>
#include <optional>
#include <string>

namespace agmem {

enum class Durability
{
    // SQLite synchronous=FULL: a committed push survives power loss.
    Full,
    // SQLite synchronous=NORMAL: survives a crash of the process, not of the machine.
    Normal,
};

struct StoreOptions
{
    Durability durability = Durability::Full;
    bool readOnly = false;
    // SQLite file: PRAGMA quick_check before the store is used (writers only: a reader such
    // as `export` must still get at what a damaged file holds). A damaged file is refused.
    bool checkIntegrity = true;
    // SQLite: the push statements call the driver's SQLite library directly when it can be
    // reached (store/sqlitedirect.h); false: through QSqlQuery as every other statement
    // (tests compare the two).
    bool directSqlite = true;
    // SQLite file, Durability::Full, writer's connection: its WAL writes gathered in memory
    // until each commit's sync (one write where SQLite makes two per page; see
    // SqliteDirect::walBufferVfs()). false: SQLite's default VFS (tests compare the two).
    bool walBuffer = true;
};

struct ApiKeyRecord
{
    qint64 id = 0;
    QString name;
    QString prefix;  // the first characters of the key, to tell keys apart
    QByteArray hash; // SHA-256 hex of the key
    unsigned scopes = 0;
    Instant createdAt = 0;
    Instant lastUsedAt = 0; // 0: never
    Instant revokedAt = 0;  // 0: active

    bool active() const { return revokedAt == 0; }
};

struct StoreState
{
    QString databaseId;
    quint64 sequence = 0;
    qint64 totalPushes = 0;
    QString mergeMode;
    // Bumped by every reset: an instance that sees another value reloads everything
    // (agents deleted by a reset leave no changed row to catch up from).
    qint64 resetGeneration = 0;
};

// One connection to the coordinator's database. A Store belongs to the thread that
// opened it (QSqlDatabase's rule); each thread opens its own.
//
// Tables: summaries (every accepted push, the history), agents (each agent's counters and
// current contribution to the merge, with the change sequence that last touched it) and
// coordinator_state (the change sequence, push total, merge mode, database id).
class Store
{
public:
    static constexpr int SchemaVersion = 5;

    static std::unique_ptr<Store> open(const StoreUrl &url, const StoreOptions &options,
                                       QString *error);
    ~Store();
    Store(const Store &) = delete;
    Store &operator=(const Store &) = delete;

    const StoreUrl &url() const { return m_url; }
    const SqlDialect &dialect() const { return m_dialect; }
    QString lastError() const { return m_lastError; }

    // The tables of the coordinator's schema.
    QStringList tableNames();

    // A cheap round trip, for /health. False once the database was found damaged.
    bool ping();
    // SQLite reported the file damaged (SQLITE_CORRUPT, SQLITE_NOTADB) at some point: from
    // then on writes are refused and ping() fails, so nothing more is acknowledged into it.
    bool corrupted() const { return m_corrupted; }
    // Another connection to the same file found it damaged (`detail` says how): this one
    // refuses writes from now on as well.
    void markCorrupted(const QString &detail);
    // SQLite file, read-write connection: copies the WAL into the database file and empties
    // it (the writer's last act: a read-only connection that closes last cannot, and the
    // file must hold everything once the server stopped). False when the statement failed.
    bool checkpoint();

    std::optional<StoreState> readState();
    // PostgreSQL, inside a write transaction: reads the state and locks its row until the
    // commit, so the write transactions of every instance on the database run one after
    // another and each sees everything committed before it.
    std::optional<StoreState> lockState();
    // Closes and opens the connection again (after the database went away and came back).
    bool reopen();
    // Loads every agent (or those changed after `sinceSequence`) into the engine.
    bool loadAgents(MergeEngine &engine, quint64 sinceSequence = 0);
    // Catch-up of one instance among several: the state and the agents changed after
    // `sinceSequence`, read in one statement (one snapshot, one round trip), the agents
    // restored into the engine. The caller compares the reset generation.
    std::optional<StoreState> loadChanges(MergeEngine &engine, quint64 sinceSequence);
    // Rebuilds every agent's contribution from history for a merge mode, when the mode
    // differs from the one the contributions were computed with. Commits on success.
    bool adoptMergeMode(MergeMode mode, MergeEngine &engine);

    // Reads for the dashboard (cheap: no history scan).
    // Every agent's counters (id, first/last seen, pushes, sequence), without its
    // contribution; ordered by agent id.
    std::optional<QList<AgentState>> listAgents();
    // An agent's latest pushes, newest first.
    struct PushRecord
    {
        Summary summary;
        Instant receivedAt = 0;
        QString source;
        qint64 id = 0; // the history row's id (agentHistoryPage and historyBatch only)
    };
    std::optional<QList<PushRecord>> agentHistory(const QString &agentId, int limit);
    // GET /agents/{id}: up to `limit` pushes with an id below `before` (0: from the newest),
    // newest first, along the agent's history chain (store.cpp, "History by agent").
    std::optional<QList<PushRecord>> agentHistoryPage(const QString &agentId, int limit,
                                                      qint64 before);
    // The dashboard's pushes-per-minute chart: pushes received in the minute that holds
    // `since` and after it, counted per minute of receipt, oldest minute first. Bounded:
    // walks the history newest first by id (no index on received_us needed), `pageRows` at
    // a time grouped in the database, and stops at the first page reaching back before that
    // minute, or after `maxRows` rows; the oldest minute read is then incomplete and left
    // out, and `complete` is false. History deleted by retention is not counted.
    struct MinuteCount
    {
        Instant minute = 0; // the minute's start, a multiple of 60 s
        qint64 pushes = 0;
    };
    struct PushMinutes
    {
        QList<MinuteCount> minutes;
        bool complete = true;
    };
    std::optional<PushMinutes> pushesPerMinute(Instant since, qint64 maxRows,
                                               int pageRows = 20'000);
    // The database's size on disk (SQLite file and its WAL; PostgreSQL pg_database_size).
    std::optional<qint64> sizeBytes();

    // Reads for export (exporter.h), in batches by key, so no read holds a snapshot or a
    // lock for longer than one short statement and nothing is loaded whole.
    struct HistoryExtent
    {
        qint64 count = 0; // history rows
        qint64 maxId = 0; // the newest row's id; 0 when the history is empty
    };
    std::optional<HistoryExtent> historyExtent();
    // Up to `limit` pushes with afterId < id <= upToId, oldest first, with their metadata
    // and memory types.
    std::optional<QList<PushRecord>> historyBatch(qint64 afterId, qint64 upToId, int limit);
    std::optional<qint64> agentCount();
    // Up to `limit` agents whose id sorts after `afterAgentId` (code point order on both
    // databases), with their current contributions.
    std::optional<QList<AgentState>> agentsBatch(const QString &afterAgentId, int limit);

    // Writes; call between beginWrite() and commit().
    bool beginWrite();
    bool commit();
    void rollback();
    bool recordPush(const Summary &summary, Instant receivedAt, const QString &source,
                    const std::optional<Contribution> &next, quint64 sequence);
    bool writeState(quint64 sequence, qint64 addedPushes);
    // SQLite: whether pushes are written through SqliteDirect (known after the first push).
    bool writesDirectly() const { return m_direct != nullptr; }
    // Whether the connection's WAL writes go through SqliteDirect::walBufferVfs().
    bool walBuffered() const { return m_walBuffered; }
    bool deleteEverything(quint64 sequence);
    // Forgets one agent: its row and its history; sets the sequence and bumps the reset
    // generation (other instances reload). Inside a write transaction.
    bool deleteAgent(const QString &agentId, quint64 sequence);
    // Retention, one batch each (own transaction): deletes at most `batch` history rows
    // received before `cutoff` / beyond an agent's newest `keep`. The number deleted.
    std::optional<qint64> pruneHistoryBefore(Instant cutoff, int batch);
    std::optional<qint64> pruneAgentHistory(const QString &agentId, int keep, int batch);

    // API keys. createKey returns the key itself, which is never stored (only its hash).
    std::optional<QString> createKey(const QString &name, unsigned scopes, ApiKeyRecord *record);
    std::optional<QList<ApiKeyRecord>> listKeys();
    // false with lastError() when no active key has this id.
    bool revokeKey(qint64 id);
    // Records last-use times (batched by the server).
    bool touchKeys(const QHash<qint64, Instant> &lastUsed);
    // Changes whenever a key is created or revoked: servers reload their key cache.
    std::optional<qint64> keysVersion();

    QSqlDatabase database() const
    {
        checkThread();
        return QSqlDatabase::database(m_connection, false);
    }

    // A thread that must never wait on the database (the window's GUI thread sets itself):
    // opening or querying a store there is counted and logged. nullptr: none.
    static void forbidThread(QThread *thread);
    static int forbiddenThreadUses();

private:
    Store(const StoreUrl &url, const QString &connection);
    static void checkThread();
    bool configure(const StoreOptions &options);
    // PRAGMA quick_check; false (and the store marked corrupted) when the file is damaged.
    bool checkIntegrity();
    std::optional<StoreState> queryState(bool forUpdate);
    bool migrate();
    bool exec(const QString &statement);
    bool prepare(QSqlQuery &query, const QString &statement);
    // prepare() with the statement's `?` named :value00, :value01, ... (bind with
    // placeholder(i)).
    bool prepareNamed(QSqlQuery &query, const QString &statement);
    bool fail(const QSqlQuery &query, const QString &what);
    // fail() for an error of the direct SQLite statements (SQLite's result code).
    bool failDirect(int code, const QString &what);
    bool failWith(const QString &message, bool corruption, const QString &what);
    // SQLite file, writer: after a commit, whether the file at the store's path is still
    // the one this connection writes (Unix: device and inode). When it was deleted or
    // replaced while the server ran, the commit went into a file nobody will open again:
    // copies what the connection still reads into a rescue file next to the path, refuses
    // every write from then on (as for a damaged file) and returns false.
    bool checkFileStillOurs();
    // recordPush() through SqliteDirect.
    bool recordPushDirect(const Summary &summary, Instant receivedAt, const QString &source,
                          const std::optional<Contribution> &next, quint64 sequence);
    void dropPreparedWrites();
    // historyTail: the agent's newest history row (-1: none).
    bool writeAgent(const AgentState &agent, qint64 historyTail);
    AgentState readAgent(const QSqlQuery &query, int column) const;
    bool bumpKeysVersion();
    // Ends a write transaction that failed (`query`'s error, when given, is the store's
    // last error); nullopt.
    std::optional<qint64> abandonWrite(const QSqlQuery *query, const QString &what);
    // Where an agent's history page starts: the agent's row just below `before` (0: from
    // its newest), or 0 when it has none there.
    std::optional<qint64> historyStart(const QString &agentId, qint64 before);
    // Ids per DELETE ... IN (...) of pruneAgentHistory() (below every SQLite's limit of
    // bound values).
    static constexpr qsizetype DeleteChunk = 256;

    StoreUrl m_url;
    SqlDialect m_dialect;
    QString m_connection;
    QString m_lastError;
    bool m_corrupted = false;
    // Why writes are refused when it is not damage (the file was deleted or replaced).
    QString m_refusal;
    // See checkFileStillOurs(); empty for other stores.
    QByteArray m_filePath;
    std::optional<std::pair<quint64, quint64>> m_fileIdentity;
    StoreOptions m_options;
    std::unique_ptr<QSqlQuery> m_insertSummary;
    std::unique_ptr<QSqlQuery> m_upsertAgent;
    std::unique_ptr<QSqlQuery> m_touchAgent;
    std::unique_ptr<QSqlQuery> m_writeState;
    // SQLite: BEGIN IMMEDIATE and COMMIT, prepared once.
    std::unique_ptr<QSqlQuery> m_begin;
    std::unique_ptr<QSqlQuery> m_commit;
    std::unique_ptr<QSqlQuery> m_loadChanges;
    // Attaches m_direct once (SQLite with options.directSqlite); whether it is there.
    bool attachDirect();
    // SQLite's own statements for pushes (options.directSqlite), before the QSqlQuery ones.
    bool m_directTried = false;
    bool m_walBuffered = false;
    std::unique_ptr<SqliteDirect> m_direct;
    std::unique_ptr<SqliteDirect::Statement> m_directUpsert;
    std::unique_ptr<SqliteDirect::Statement> m_directUpdate;
    std::unique_ptr<SqliteDirect::Statement> m_directTouch;
    // BEGIN IMMEDIATE, COMMIT and the state row's update, through SQLite's own statements too
    // once m_direct is attached (each costs a few thousand instructions less per commit).
    std::unique_ptr<SqliteDirect::Statement> m_directBegin;
    std::unique_ptr<SqliteDirect::Statement> m_directCommit;
    std::unique_ptr<SqliteDirect::Statement> m_directState;
    std::unique_ptr<SqliteDirect::Statement> m_directDataVersion;
    std::unique_ptr<SqliteDirect::Statement> m_directLastHistoryId;
    std::unique_ptr<SqliteDirect::Statement> m_directHistoryTail;
    // The statement in `slot`, compiled when first needed; nullptr (and lastError()) when
    // it does not compile.
    SqliteDirect::Statement *directStatement(std::unique_ptr<SqliteDirect::Statement> &slot,
                                             const char *sql);
    // History by agent through SqliteDirect: each history row names its agent's previous
    // one (prev_id) and the agent's row its newest (history_tail), so that no index by
    // agent is written per push. The writer's connection is the file's only writer, so the
    // next id and each agent's newest row are kept here once read: 0 unknown, -1 none.
    // Forgotten at a rollback, a reset, a merge mode change and when another connection
    // committed (PRAGMA data_version, at beginWrite()).
    qint64 m_nextHistoryId = 0;
    QHash<QString, qint64> m_historyTails;
    std::optional<qint64> m_dataVersion;
    bool loadNextHistoryId();
    bool loadHistoryTail(const QString &agentId, qint64 *tail);
    // The pushed row `id` is now its agent's newest (`tail`, an entry of m_historyTails).
    bool historyRowTaken(qint64 &tail, qint64 id);
    void forgetHistoryIds();
    // recordPushDirect()'s UTF-8 text, in buffers reused push after push.
    struct PushText
    {
        std::string nextTopics;
        std::string nextFacts;
    };
    PushText m_pushText;
    // A history row recorded by recordPushDirect() and not inserted yet, as UTF-8 text.
    struct PendingSummary
    {
        qint64 id = 0;
        qint64 previousId = -1; // the agent's previous history row; -1: none
        std::string agentId;
        std::string timestamp;
        qint64 timestampUs = 0;
        std::string topics;
        std::string facts;
        bool hasMetadata = false;
        std::string metadata;
        bool hasMemoryTypes = false;
        std::string memoryTypes;
        std::string source;
        std::string received;
        qint64 receivedUs = 0;
    };
    // The transaction's history rows wait here (slots reused commit after commit) and go in
    // with one INSERT of up to MaxInsertRows rows (flushSummaries(), from writeState() or
    // commit()), so SQLite's work per statement (its cursors, each malloc'ed, and the
    // AUTOINCREMENT counter's read and write) is paid per chunk, not per push. In push order:
    // the ids are the same as one INSERT per push gives.
    static constexpr int MaxInsertRows = 16;
    std::vector<PendingSummary> m_pending;
    qsizetype m_pendingCount = 0;
    // [n - 1] inserts n rows; compiled when first needed.
    std::array<std::unique_ptr<SqliteDirect::Statement>, MaxInsertRows> m_directInserts;
    bool flushSummaries();
};

} // namespace agmem
