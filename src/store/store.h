#pragma once

#include "sqldialect.h"
#include "storeurl.h"

#include "core/mergeengine.h"
#include "core/summary.h"

#include <QHash>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QString>

#include <memory>
#include <optional>

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
    static constexpr int SchemaVersion = 2;

    static std::unique_ptr<Store> open(const StoreUrl &url, const StoreOptions &options,
                                       QString *error);
    ~Store();
    Store(const Store &) = delete;
    Store &operator=(const Store &) = delete;

    const StoreUrl &url() const { return m_url; }
    const SqlDialect &dialect() const { return m_dialect; }
    QString lastError() const { return m_lastError; }

    // A cheap round trip, for /health.
    bool ping();

    std::optional<StoreState> readState();
    // Loads every agent (or those changed after `sinceSequence`) into the engine.
    bool loadAgents(MergeEngine &engine, quint64 sinceSequence = 0);
    // Rebuilds every agent's contribution from history for a merge mode, when the mode
    // differs from the one the contributions were computed with. Commits on success.
    bool adoptMergeMode(MergeMode mode, MergeEngine &engine);

    // Writes; call between beginWrite() and commit().
    bool beginWrite();
    bool commit();
    void rollback();
    bool recordPush(const Summary &summary, Instant receivedAt, const QString &source,
                    const std::optional<Contribution> &next, quint64 sequence);
    bool writeState(quint64 sequence, qint64 addedPushes);
    bool deleteEverything(quint64 sequence);

    // API keys. createKey returns the key itself, which is never stored (only its hash).
    std::optional<QString> createKey(const QString &name, unsigned scopes, ApiKeyRecord *record);
    std::optional<QList<ApiKeyRecord>> listKeys();
    // false with lastError() when no active key has this id.
    bool revokeKey(qint64 id);
    // Records last-use times (batched by the server).
    bool touchKeys(const QHash<qint64, Instant> &lastUsed);
    // Changes whenever a key is created or revoked: servers reload their key cache.
    std::optional<qint64> keysVersion();

    QSqlDatabase database() const { return QSqlDatabase::database(m_connection, false); }

private:
    Store(const StoreUrl &url, const QString &connection);
    bool configure(const StoreOptions &options);
    bool migrate();
    bool exec(const QString &statement);
    bool prepare(QSqlQuery &query, const QString &statement);
    bool fail(const QSqlQuery &query, const QString &what);
    bool writeAgent(const AgentState &agent);
    bool bumpKeysVersion();

    StoreUrl m_url;
    SqlDialect m_dialect;
    QString m_connection;
    QString m_lastError;
    std::unique_ptr<QSqlQuery> m_insertSummary;
    std::unique_ptr<QSqlQuery> m_upsertAgent;
    std::unique_ptr<QSqlQuery> m_touchAgent;
    std::unique_ptr<QSqlQuery> m_writeState;
};

} // namespace agmem
