#include "store.h"

#include "core/jsonwriter.h"
#include "core/logging.h"

#include <QDateTime>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSqlError>
#include <QSqlRecord>
#include <QThread>
#include <QUrl>
#include <QUuid>

#include "core/apikey.h"

#include <atomic>
#include <charconv>
#include <limits>

#ifdef Q_OS_UNIX
#include <sys/stat.h>
#endif

using namespace Qt::StringLiterals;

namespace agmem {

namespace {

std::atomic<int> connectionCounter{0};
std::atomic<QThread *> forbiddenThread{nullptr};
std::atomic<int> forbiddenUses{0};

QByteArray encodeTopicsUtf8(const QList<QPair<QString, qint64>> &topics)
{
    // As JsonWriter writes the object, without its per-value allocations.
    QByteArray out;
    qsizetype size = 2;
    for (const auto &topic : topics)
        size += topic.first.size() + 25;
    out.reserve(size);
    out.append('{');
    bool first = true;
    for (const auto &[topic, count] : topics) {
        if (!first)
            out.append(',');
        first = false;
        JsonWriter::appendString(&out, topic);
        out.append(':');
        out.append(QByteArray::number(count));
    }
    out.append('}');
    return out;
}

QString encodeTopics(const QList<QPair<QString, qint64>> &topics)
{
    return QString::fromUtf8(encodeTopicsUtf8(topics));
}

// The push path's text in reused buffers (their capacity stays, so a push allocates
// nothing for it): the same bytes as toUtf8(), encodeTopicsUtf8() and SQLite's
// encodeTextArrayUtf8(), with ASCII (nearly all text) copied unit by unit.
bool plainAscii(QStringView text, bool json)
{
    for (const QChar c : text) {
        const char16_t u = c.unicode();
        if (u >= 0x80 || (json && (u < 0x20 || u == u'"' || u == u'\\')))
            return false;
    }
    return true;
}

void appendAscii(std::string &out, QStringView text)
{
    const size_t at = out.size();
    out.resize(at + size_t(text.size()));
    char *d = out.data() + at;
    for (const QChar c : text)
        *d++ = char(c.unicode());
}

void assignUtf8(std::string &out, QStringView text)
{
    out.clear();
    if (plainAscii(text, false)) {
        appendAscii(out, text);
    } else {
        const QByteArray utf8 = text.toUtf8();
        out.append(utf8.constData(), size_t(utf8.size()));
    }
}

void appendJsonString(std::string &out, QStringView text)
{
    if (!plainAscii(text, true)) {
        QByteArray escaped;
        JsonWriter::appendString(&escaped, text);
        out.append(escaped.constData(), size_t(escaped.size()));
        return;
    }
    out += '"';
    appendAscii(out, text);
    out += '"';
}

void assignTopicsUtf8(std::string &out, const QList<QPair<QString, qint64>> &topics)
{
    out.clear();
    out += '{';
    bool first = true;
    for (const auto &[topic, count] : topics) {
        if (!first)
            out += ',';
        first = false;
        appendJsonString(out, topic);
        out += ':';
        char digits[24];
        const std::to_chars_result r = std::to_chars(digits, digits + sizeof digits, count);
        out.append(digits, r.ptr);
    }
    out += '}';
}

// SQLite's text array: a JSON array of strings (SqlDialect::encodeTextArrayUtf8()).
void assignSqliteArrayUtf8(std::string &out, const QStringList &values)
{
    out.clear();
    out += '[';
    for (qsizetype i = 0; i < values.size(); ++i) {
        if (i)
            out += ',';
        appendJsonString(out, values.at(i));
    }
    out += ']';
}

// The push statements, the same through QSqlQuery and SqliteDirect, except for the history
// row's id and its link to the agent's previous row (prev_id; see "History by agent"
// below): through QSqlQuery the database assigns the id and the link is read from the
// agent's row in the statement; SqliteDirect gives both (the writer is the file's only one).
QString insertSummarySql()
{
    return QStringLiteral(
        "INSERT INTO summaries (agent_id, timestamp, timestamp_us, "
        "topic_counts, fact_hashes, metadata, memory_types, source, created_at, "
        "received_us, prev_id) VALUES (?, ?ts, ?, ?json, ?array, ?json, ?json, ?, ?ts, ?, "
        "(SELECT history_tail FROM agents WHERE agent_id = ?))");
}

QString insertSummaryDirectSql()
{
    return QStringLiteral(
        "INSERT OR ROLLBACK INTO summaries (id, agent_id, timestamp, timestamp_us, "
        "topic_counts, fact_hashes, metadata, memory_types, source, created_at, "
        "received_us, prev_id) VALUES (?, ?, ?ts, ?, ?json, ?array, ?json, ?json, ?, ?ts, ?, ?)");
}
constexpr int InsertSummaryDirectColumns = 12;

QString upsertAgentSql()
{
    return QStringLiteral(
        "INSERT INTO agents (agent_id, first_seen_us, last_seen_us, push_count, "
        "current_timestamp_us, topic_counts, fact_hashes, sequence, history_tail) "
        "VALUES (?, ?, ?, 1, ?, ?json, ?array, ?, ?) ON CONFLICT (agent_id) DO "
        "UPDATE SET last_seen_us = {GREATEST}(agents.last_seen_us, "
        "excluded.last_seen_us), push_count = agents.push_count + 1, "
        "current_timestamp_us = excluded.current_timestamp_us, topic_counts = "
        "excluded.topic_counts, fact_hashes = excluded.fact_hashes, sequence = "
        "excluded.sequence, history_tail = excluded.history_tail");
}

// An agent that has pushed before (nearly every push): its row updated in place, as the
// upsert's DO UPDATE does. The upsert first builds the row to insert and probes the key,
// then updates; this costs SQLite fewer instructions. No row changed: the upsert follows.
QString updateAgentSql()
{
    return QStringLiteral("UPDATE agents SET last_seen_us = {GREATEST}(last_seen_us, ?), "
                          "push_count = push_count + 1, current_timestamp_us = ?, topic_counts = "
                          "?json, fact_hashes = ?array, sequence = ?, history_tail = ? WHERE "
                          "agent_id = ?");
}

QString touchAgentSql()
{
    return QStringLiteral("UPDATE agents SET last_seen_us = {GREATEST}(last_seen_us, ?), "
                          "push_count = push_count + 1, history_tail = ? WHERE agent_id = ?");
}

QList<QPair<QString, qint64>> decodeTopics(const QString &stored)
{
    QList<QPair<QString, qint64>> topics;
    const QJsonObject object = QJsonDocument::fromJson(stored.toUtf8()).object();
    topics.reserve(object.size());
    for (auto it = object.begin(); it != object.end(); ++it)
        topics.append({it.key(), it.value().toInteger()});
    return topics;
}

// The hot write statements bind by name: QSqlQuery::bindValue(int) formats the name of
// the position each time (QString::arg, then a hash lookup of that name), a name is one
// hash lookup. Each `?` of a statement becomes :value00, :value01, ... in order: 8
// characters or more, as Qt 6.4's qHash() of a QString shorter than 8 took 300-400 ns
// on the AVX-512 machine measured (its short-key path), 6 ns from 8 on.
QString numberedPlaceholders(const QString &statement)
{
    QString out;
    out.reserve(statement.size() + 32);
    int n = 0;
    for (const QChar c : statement) {
        if (c == u'?')
            out += u":value"_s + QString::number(n++).rightJustified(2, u'0');
        else
            out += c;
    }
    return out;
}

const QString &placeholder(int i)
{
    static const QList<QString> names = [] {
        QList<QString> list;
        for (int k = 0; k < 64; ++k)
            list.append(u":value"_s + QString::number(k).rightJustified(2, u'0'));
        return list;
    }();
    return names.at(i);
}

QString encodeJson(const QJsonObject &object)
{
    return QString::fromUtf8(QJsonDocument(object).toJson(QJsonDocument::Compact));
}

QString encodeJson(const QJsonArray &array)
{
    return QString::fromUtf8(QJsonDocument(array).toJson(QJsonDocument::Compact));
}

// Schema changes, one list of statements per version; index 0 creates version 1.
const QList<QStringList> &migrations()
{
    static const QList<QStringList> steps = {
        {
            QStringLiteral("CREATE TABLE coordinator_state ("
                           " id INTEGER PRIMARY KEY CHECK (id = 1),"
                           " database_id TEXT NOT NULL,"
                           " sequence BIGINT NOT NULL,"
                           " total_pushes BIGINT NOT NULL,"
                           " merge_mode TEXT NOT NULL)"),
            QStringLiteral("CREATE TABLE summaries ("
                           " id {PK},"
                           " agent_id VARCHAR(255) NOT NULL,"
                           " timestamp {TIMESTAMPTZ} NOT NULL,"
                           " timestamp_us BIGINT NOT NULL,"
                           " topic_counts {JSON} NOT NULL,"
                           " fact_hashes {TEXT_ARRAY} NOT NULL,"
                           " metadata {JSON},"
                           " memory_types {JSON},"
                           " source TEXT,"
                           " created_at {TIMESTAMPTZ} NOT NULL,"
                           " received_us BIGINT NOT NULL)"),
            QStringLiteral("CREATE INDEX idx_agent_id ON summaries (agent_id, id)"),
            QStringLiteral("CREATE INDEX idx_timestamp ON summaries (timestamp_us)"),
            QStringLiteral("CREATE TABLE agents ("
                           " agent_id VARCHAR(255) PRIMARY KEY,"
                           " first_seen_us BIGINT NOT NULL,"
                           " last_seen_us BIGINT NOT NULL,"
                           " push_count BIGINT NOT NULL,"
                           " current_timestamp_us BIGINT,"
                           " topic_counts {JSON},"
                           " fact_hashes {TEXT_ARRAY},"
                           " sequence BIGINT NOT NULL)"),
            QStringLiteral("CREATE INDEX idx_agents_sequence ON agents (sequence)"),
        },
        {
            QStringLiteral("CREATE TABLE api_keys ("
                           " id {PK},"
                           " name TEXT NOT NULL,"
                           " prefix TEXT NOT NULL,"
                           " key_hash TEXT NOT NULL UNIQUE,"
                           " scopes TEXT NOT NULL,"
                           " created_us BIGINT NOT NULL,"
                           " last_used_us BIGINT,"
                           " revoked_us BIGINT)"),
            QStringLiteral("ALTER TABLE coordinator_state ADD COLUMN keys_version BIGINT NOT NULL "
                           "DEFAULT 0"),
        },
        {
            // Several instances on one database: a reset must reach the others.
            QStringLiteral("ALTER TABLE coordinator_state ADD COLUMN reset_generation BIGINT NOT "
                           "NULL DEFAULT 0"),
        },
        {
            // No query reads summaries by timestamp_us (history goes by agent and id,
            // retention by id and received_us): the index only cost every push an insert.
            QStringLiteral("DROP INDEX IF EXISTS idx_timestamp"),
        },
        {
            // History by agent without an index by agent: each row names the agent's
            // previous row, the agent's row its newest (see "History by agent").
            QStringLiteral("ALTER TABLE summaries ADD COLUMN prev_id BIGINT"),
            QStringLiteral("ALTER TABLE agents ADD COLUMN history_tail BIGINT"),
            QStringLiteral("UPDATE summaries SET prev_id = (SELECT MAX(p.id) FROM summaries p "
                           "WHERE p.agent_id = summaries.agent_id AND p.id < summaries.id)"),
            QStringLiteral("UPDATE agents SET history_tail = (SELECT MAX(s.id) FROM summaries s "
                           "WHERE s.agent_id = agents.agent_id)"),
            QStringLiteral("DROP INDEX IF EXISTS idx_agent_id"),
        },
    };
    // The agents' index by sequence stays on SQLite too, although each push rewrites its
    // agent's entry (a random page, ~8 % of the writer's instructions): the window's store
    // reader asks for the agents changed since its last refresh (up to ten times a second),
    // and without the index that reads every agent's row with its facts (20 ms at a million
    // facts, against 0.1 ms).
    return steps;
}

// How the refusal after a deleted or replaced database file says so (markCorrupted() of
// another connection recognises it).
constexpr QStringView FileGone = u"was deleted or replaced while the server was running";

// The file's device and inode (Unix); nullopt when it does not exist (or elsewhere: Windows
// refuses to delete a file SQLite holds open).
std::optional<std::pair<quint64, quint64>> fileIdentity(const QByteArray &path)
{
#ifdef Q_OS_UNIX
    struct stat info;
    if (::stat(path.constData(), &info) == 0)
        return std::pair{quint64(info.st_dev), quint64(info.st_ino)};
#else
    Q_UNUSED(path);
#endif
    return std::nullopt;
}

} // namespace

Store::Store(const StoreUrl &url, const QString &connection)
    : m_url(url)
    , m_dialect(url.kind)
    , m_connection(connection)
{}

void Store::markCorrupted(const QString &detail)
{
    if (m_corrupted)
        return;
    m_corrupted = true;
    m_lastError = detail;
    // The writer's connection found the file gone: its words, not the damage advice.
    if (detail.contains(FileGone))
        m_refusal = detail;
}

bool Store::checkpoint()
{
    if (m_url.kind != StoreUrl::Kind::SqliteFile || m_options.readOnly || m_corrupted)
        return true;
    QSqlQuery q(database());
    if (!q.exec(QStringLiteral("PRAGMA wal_checkpoint(TRUNCATE)")))
        return fail(q, QStringLiteral("checkpoint"));
    // One row: busy (1 when a reader kept it from finishing), WAL pages, pages copied.
    if (q.next() && q.value(0).toInt() != 0)
        qCDebug(lcStore) << "checkpoint at stop incomplete: a reader is still open";
    return true;
}

void Store::dropPreparedWrites()
{
    // SQLite's own statements first: the connection does not close while they exist.
    m_directBegin.reset();
    m_directCommit.reset();
    m_directState.reset();
    for (auto &insert : m_directInserts)
        insert.reset();
    m_pendingCount = 0;
    m_directUpsert.reset();
    m_directUpdate.reset();
    m_directTouch.reset();
    m_directDataVersion.reset();
    m_directLastHistoryId.reset();
    m_directHistoryTail.reset();
    forgetHistoryIds();
    m_dataVersion.reset();
    m_direct.reset();
    m_directTried = false;
    m_insertSummary.reset();
    m_upsertAgent.reset();
    m_touchAgent.reset();
    m_writeState.reset();
    m_begin.reset();
    m_commit.reset();
    m_loadChanges.reset();
}

Store::~Store()
{
    dropPreparedWrites();
    {
        QSqlDatabase db = QSqlDatabase::database(m_connection, false);
        if (db.isOpen())
            db.close();
    }
    QSqlDatabase::removeDatabase(m_connection);
}

void Store::forbidThread(QThread *thread)
{
    forbiddenThread = thread;
}

int Store::forbiddenThreadUses()
{
    return forbiddenUses;
}

void Store::checkThread()
{
    QThread *forbidden = forbiddenThread;
    if (forbidden && QThread::currentThread() == forbidden) {
        ++forbiddenUses;
        qCWarning(lcStore, "the database is used on a thread that must not wait for it");
    }
}

std::unique_ptr<Store> Store::open(const StoreUrl &url, const StoreOptions &options, QString *error)
{
    checkThread();
    const QString connection =
        QStringLiteral("agmem-store-%1").arg(connectionCounter.fetch_add(1) + 1);
    std::unique_ptr<Store> store(new Store(url, connection));
    store->m_options = options;
    const SqlDialect &dialect = store->m_dialect;

    if (!QSqlDatabase::isDriverAvailable(dialect.driver())) {
        *error = QStringLiteral("the Qt SQL driver %1 is not installed").arg(dialect.driver());
        return nullptr;
    }
    QSqlDatabase db = QSqlDatabase::addDatabase(dialect.driver(), connection);
    if (!dialect.isPostgres())
        SqliteDirect::tuneLibrary(db.driver());
    switch (url.kind) {
    case StoreUrl::Kind::SqliteMemory:
        db.setDatabaseName(url.path);
        db.setConnectOptions(QStringLiteral("QSQLITE_OPEN_URI;QSQLITE_BUSY_TIMEOUT=5000"));
        break;
    case StoreUrl::Kind::SqliteFile: {
        const QFileInfo file(url.path);
        if (!options.readOnly && !QDir().mkpath(file.absolutePath())) {
            *error = QStringLiteral("cannot create the folder %1").arg(file.absolutePath());
            return nullptr;
        }
        // The writer's durable connection through the VFS that gathers its WAL writes (a URI
        // names it); every other connection through SQLite's default one.
        const QByteArray vfs =
            !options.readOnly && options.walBuffer && options.durability == Durability::Full
                ? SqliteDirect::walBufferVfs(db.driver())
                : QByteArray();
        if (!vfs.isEmpty()) {
            db.setDatabaseName(u"file:"_s +
                               QString::fromLatin1(QUrl::toPercentEncoding(
                                   file.absoluteFilePath(), QByteArrayLiteral("/"))) +
                               u"?vfs="_s + QString::fromLatin1(vfs));
            db.setConnectOptions(QStringLiteral("QSQLITE_OPEN_URI;QSQLITE_BUSY_TIMEOUT=5000"));
        } else {
            db.setDatabaseName(url.path);
            db.setConnectOptions(
                options.readOnly ? QStringLiteral("QSQLITE_OPEN_READONLY;QSQLITE_BUSY_TIMEOUT=5000")
                                 : QStringLiteral("QSQLITE_BUSY_TIMEOUT=5000"));
        }
        store->m_walBuffered = !vfs.isEmpty();
        break;
    }
    case StoreUrl::Kind::PostgreSql: {
        db.setHostName(url.host);
        db.setPort(url.port);
        db.setUserName(url.user);
        db.setPassword(url.password);
        db.setDatabaseName(url.database);
        // An unreachable server must not hang a request (or a reconnect) for minutes.
        QString connectOptions = url.connectOptions;
        if (!connectOptions.contains(u"connect_timeout"))
            connectOptions += (connectOptions.isEmpty() ? u""_s : u";"_s) + u"connect_timeout=5"_s;
        db.setConnectOptions(connectOptions);
        break;
    }
    }
    if (!db.open()) {
        *error = QStringLiteral("cannot open the database %1: %2")
                     .arg(url.displayName(), db.lastError().text());
        return nullptr;
    }
    if (!store->configure(options)) {
        *error = store->m_corrupted ? store->m_lastError
                                    : QStringLiteral("cannot use the database %1: %2")
                                          .arg(url.displayName(), store->m_lastError);
        return nullptr;
    }
    if (!options.readOnly && !store->migrate()) {
        *error = QStringLiteral("cannot use the database %1: %2")
                     .arg(url.displayName(), store->m_lastError);
        return nullptr;
    }
    if (url.kind == StoreUrl::Kind::SqliteFile && !options.readOnly) {
        store->m_filePath = QFile::encodeName(QFileInfo(url.path).absoluteFilePath());
        store->m_fileIdentity = fileIdentity(store->m_filePath);
    }
    if (options.readOnly) {
        // A reader still refuses a schema it does not know.
        QSqlQuery q(db);
        if (q.exec(QStringLiteral("SELECT MAX(version) FROM schema_info")) && q.next() &&
            q.value(0).toInt() > SchemaVersion) {
            *error = QStringLiteral("the database %1 has schema version %2, newer than this "
                                    "agmem-coordinator supports (%3)")
                         .arg(url.displayName())
                         .arg(q.value(0).toInt())
                         .arg(SchemaVersion);
            return nullptr;
        }
    }
    return store;
}

namespace {

// What to do about a damaged SQLite file, for the start-up refusal and for /health.
QString damagedAdvice(const StoreUrl &url)
{
    const QString file = url.kind == StoreUrl::Kind::SqliteFile ? url.path : url.displayName();
    return QStringLiteral("The database %1 is damaged. Stop every agmem-coordinator that uses "
                          "it and restore it from a backup. Without one, save what can be read "
                          "with `agmem-coordinator export --db %1 --what agents` (and --what "
                          "history; an export stops at the first damaged page and then writes "
                          "no file; `sqlite3 %1 .recover` salvages more), then start with a new "
                          "database file.")
        .arg(file);
}

bool isCorruptionCode(const QSqlError &error)
{
    // Primary result codes (extended ones keep them in the low byte): SQLITE_CORRUPT 11,
    // SQLITE_NOTADB 26.
    bool ok = false;
    const int code = error.nativeErrorCode().toInt(&ok);
    return ok && ((code & 0xff) == 11 || (code & 0xff) == 26);
}

} // namespace

bool Store::checkIntegrity()
{
    // quick_check reads every page once (no index-to-table cross checks, unlike
    // integrity_check): tens of milliseconds for a million facts (docs/SECURITY.md).
    QElapsedTimer timer;
    timer.start();
    QSqlQuery q(database());
    QStringList problems;
    if (!q.exec(QStringLiteral("PRAGMA quick_check(5)"))) {
        problems.append(q.lastError().text().trimmed());
    } else {
        while (q.next()) {
            const QString line = q.value(0).toString();
            if (line != u"ok")
                problems.append(line);
        }
        if (q.lastError().isValid())
            problems.append(q.lastError().text().trimmed());
    }
    qCDebug(lcStore) << "quick_check took" << timer.elapsed() << "ms";
    if (problems.isEmpty())
        return true;
    m_corrupted = true;
    m_lastError = damagedAdvice(m_url) +
                  QStringLiteral(" (PRAGMA quick_check: %1)").arg(problems.join(u"; ").left(300));
    qCCritical(lcStore).noquote() << m_lastError;
    return false;
}

bool Store::configure(const StoreOptions &options)
{
    if (m_dialect.isPostgres()) {
        // A reader's connection refuses writes, as a read-only SQLite connection does.
        return exec(QStringLiteral("SET client_min_messages TO WARNING")) &&
               (!options.readOnly ||
                exec(QStringLiteral("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")));
    }
    // Fails early with a clear message when the file is not a database.
    if (!exec(QStringLiteral("PRAGMA schema_version")))
        return false;
    // A damaged file is refused before anything is written to it (journal mode, migration).
    if (m_url.kind == StoreUrl::Kind::SqliteFile && !options.readOnly && options.checkIntegrity &&
        !checkIntegrity())
        return false;
    if (m_url.kind == StoreUrl::Kind::SqliteFile && !options.readOnly &&
        !exec(QStringLiteral("PRAGMA journal_mode=WAL")))
        return false;
    if (!exec(options.durability == Durability::Full ? QStringLiteral("PRAGMA synchronous=FULL")
                                                     : QStringLiteral("PRAGMA synchronous=NORMAL")))
        return false;
    if (m_url.kind != StoreUrl::Kind::SqliteFile || options.readOnly)
        return true;
    // The writer's connection folds the WAL into the file every 4000 pages (~16 MB) instead
    // of SQLite's 1000: a page rewritten by many commits (an agent's row, a leaf of the
    // summaries' index by agent) is copied once per checkpoint, so checkpoints read and
    // write fewer pages and the file is fsynced less often. Measured with bench/writer at
    // 150k pushes, 22 a commit: pread() 224k -> 140k, pwrite() 627k -> 543k, fdatasync()
    // 7594 -> 7057. 10000 pages saved a little more I/O but measured slower on tmpfs (a
    // 40 MB WAL). Not changed, measured: a larger page cache
    // (cache_size) spared the pread()s too, but SQLite's commit then took time in
    // proportion to the cached pages (7 % of the writer at 32 MB), more than it saved.
    // Again with writer_bench, 150k pushes on disk: 16 MB instead of 2 MB spared 0.6
    // pread() per push but cost 2.3k instructions per push more (sqlite3PcacheTruncate()
    // walks the page hash at most commits).
    // Durability is the same (each commit is still synced); the WAL file stays ~16 MB.
    return exec(QStringLiteral("PRAGMA wal_autocheckpoint=4000"));
}

bool Store::exec(const QString &statement)
{
    QSqlQuery q(database());
    if (!q.exec(m_dialect.sql(statement)))
        return fail(q, statement.left(60));
    return true;
}

bool Store::prepare(QSqlQuery &query, const QString &statement)
{
    if (!query.prepare(m_dialect.sql(statement)))
        return fail(query, statement.left(60));
    return true;
}

bool Store::prepareNamed(QSqlQuery &query, const QString &statement)
{
    if (!query.prepare(numberedPlaceholders(m_dialect.sql(statement))))
        return fail(query, statement.left(60));
    return true;
}

bool Store::fail(const QSqlQuery &query, const QString &what)
{
    const QSqlError error = query.lastError();
    return failWith(error.text().trimmed(), !m_dialect.isPostgres() && isCorruptionCode(error),
                    what);
}

bool Store::failDirect(int code, const QString &what)
{
    // Primary result codes (extended ones keep them in the low byte): SQLITE_CORRUPT 11,
    // SQLITE_NOTADB 26.
    const QString message = m_direct ? m_direct->errorMessage() : QString();
    return failWith(message.trimmed(), (code & 0xff) == 11 || (code & 0xff) == 26, what);
}

bool Store::failWith(const QString &message, bool corruption, const QString &what)
{
    m_lastError = message;
    if (m_lastError.isEmpty())
        m_lastError = QStringLiteral("database error");
    qCWarning(lcStore).noquote() << "statement failed:" << what << "-" << m_lastError;
    if (corruption) {
        if (!m_corrupted)
            qCCritical(lcStore).noquote() << damagedAdvice(m_url);
        m_corrupted = true;
    }
    if (m_corrupted)
        m_lastError = QStringLiteral("the database is damaged (%1); nothing more is written to "
                                     "it. %2")
                          .arg(m_lastError, damagedAdvice(m_url));
    return false;
}

bool Store::migrate()
{
    QSqlDatabase db = database();
    if (!exec(m_dialect.beginWrite()))
        return false;
    // Two instances starting at once on PostgreSQL: the first takes the lock, the
    // second waits and then sees the finished schema.
    if (m_dialect.isPostgres() && !exec(QStringLiteral("SELECT pg_advisory_xact_lock(4242001)"))) {
        rollback();
        return false;
    }
    int version = 0;
    {
        QSqlQuery q(db);
        const QStringList tables = tableNames();
        const bool hasTable = tables.contains(QStringLiteral("schema_info"));
        if (hasTable) {
            if (!q.exec(QStringLiteral("SELECT MAX(version) FROM schema_info")) || !q.next()) {
                fail(q, QStringLiteral("read schema version"));
                rollback();
                return false;
            }
            version = q.value(0).toInt();
        } else if (!tables.isEmpty()) {
            m_lastError = QStringLiteral("the database holds tables but no agmem-coordinator "
                                         "schema; refusing to use it");
            rollback();
            return false;
        } else if (!exec(QStringLiteral("CREATE TABLE schema_info (version INTEGER NOT NULL)"))) {
            rollback();
            return false;
        }
    }
    if (version > SchemaVersion) {
        m_lastError = QStringLiteral("its schema version %1 is newer than this agmem-coordinator "
                                     "supports (%2); use a newer agmem-coordinator")
                          .arg(version)
                          .arg(SchemaVersion);
        rollback();
        return false;
    }
    const QList<QStringList> &steps = migrations();
    Q_ASSERT(steps.size() == SchemaVersion);
    for (int step = version; step < SchemaVersion; ++step) {
        qCInfo(lcStore) << "migrating schema to version" << step + 1;
        for (const QString &statement : steps.at(step)) {
            if (!exec(statement)) {
                rollback();
                return false;
            }
        }
        if (step == 0) {
            QSqlQuery q(db);
            prepare(q, QStringLiteral("INSERT INTO coordinator_state (id, database_id, sequence, "
                                      "total_pushes, merge_mode) VALUES (1, ?, 0, 0, 'latest')"));
            q.addBindValue(QUuid::createUuid().toString(QUuid::WithoutBraces));
            if (!q.exec()) {
                fail(q, QStringLiteral("initial state"));
                rollback();
                return false;
            }
        }
        QSqlQuery q(db);
        prepare(q, QStringLiteral("INSERT INTO schema_info (version) VALUES (?)"));
        q.addBindValue(step + 1);
        if (!q.exec()) {
            fail(q, QStringLiteral("schema version"));
            rollback();
            return false;
        }
    }
    return commit();
}

bool Store::reopen()
{
    dropPreparedWrites();
    QSqlDatabase db = database();
    db.close();
    if (!db.open()) {
        m_lastError = db.lastError().text().trimmed();
        if (m_lastError.isEmpty())
            m_lastError = QStringLiteral("cannot connect");
        return false;
    }
    qCInfo(lcStore).noquote() << "reconnected to" << m_url.displayName();
    return configure(m_options);
}

QStringList Store::tableNames()
{
    if (!m_dialect.isPostgres())
        return database().tables();
    // QSqlDatabase::tables() lists every schema; ours is the first on the search path
    // (public unless the URL sets options=-csearch_path=...).
    QStringList names;
    QSqlQuery q(database());
    if (q.exec(QStringLiteral("SELECT table_name FROM information_schema.tables WHERE "
                              "table_schema = current_schema() AND table_type = 'BASE TABLE'"))) {
        while (q.next())
            names.append(q.value(0).toString());
    } else {
        fail(q, QStringLiteral("list tables"));
    }
    return names;
}

bool Store::ping()
{
    if (m_corrupted) {
        m_lastError = !m_refusal.isEmpty() ? m_refusal : damagedAdvice(m_url);
        return false;
    }
    QSqlQuery q(database());
    if (!q.exec(QStringLiteral("SELECT sequence FROM coordinator_state WHERE id = 1")) || !q.next())
        return fail(q, QStringLiteral("ping"));
    return true;
}

std::optional<StoreState> Store::readState()
{
    return queryState(false);
}

std::optional<StoreState> Store::lockState()
{
    return queryState(m_dialect.isPostgres());
}

std::optional<StoreState> Store::queryState(bool forUpdate)
{
    QSqlQuery q(database());
    const QString statement =
        QStringLiteral("SELECT database_id, sequence, total_pushes, merge_mode, reset_generation "
                       "FROM coordinator_state WHERE id = 1") +
        (forUpdate ? QStringLiteral(" FOR UPDATE") : QString());
    if (!q.exec(statement) || !q.next()) {
        fail(q, QStringLiteral("read state"));
        return std::nullopt;
    }
    StoreState state;
    state.databaseId = q.value(0).toString();
    state.sequence = q.value(1).toULongLong();
    state.totalPushes = q.value(2).toLongLong();
    state.mergeMode = q.value(3).toString();
    state.resetGeneration = q.value(4).toLongLong();
    return state;
}

bool Store::loadAgents(MergeEngine &engine, quint64 sinceSequence)
{
    QSqlQuery q(database());
    q.setForwardOnly(true);
    if (!prepare(q, QStringLiteral("SELECT agent_id, first_seen_us, last_seen_us, push_count, "
                                   "current_timestamp_us, topic_counts, %1, sequence "
                                   "FROM agents WHERE sequence > ?")
                        .arg(m_dialect.textArrayColumn(QStringLiteral("fact_hashes")))))
        return false;
    q.addBindValue(qint64(sinceSequence));
    if (!q.exec())
        return fail(q, QStringLiteral("load agents"));
    // Read first, then restored: the engine's hashes are sized once for all the facts.
    std::vector<AgentState> agents;
    qsizetype facts = 0;
    while (q.next()) {
        agents.push_back(readAgent(q, 0));
        if (agents.back().current)
            facts += agents.back().current->facts.size();
    }
    // A step that failed (a damaged page) ends the loop like the last row: never a silently
    // shorter result.
    if (q.lastError().isValid())
        return fail(q, QStringLiteral("load agents"));
    // Agents often share facts: the sum is an upper bound, capped (4M buckets: 32 MB).
    engine.reserve(engine.agentCount() + qsizetype(agents.size()),
                   std::min<qsizetype>(qsizetype(engine.factHolders().size()) + facts, 1 << 22));
    for (AgentState &agent : agents)
        engine.restore(std::exchange(agent, {}));
    return true;
}

AgentState Store::readAgent(const QSqlQuery &q, int column) const
{
    AgentState agent;
    agent.agentId = q.value(column).toString();
    agent.firstSeen = q.value(column + 1).toLongLong();
    agent.lastSeen = q.value(column + 2).toLongLong();
    agent.pushCount = q.value(column + 3).toLongLong();
    if (!q.isNull(column + 4)) {
        Contribution c;
        c.timestamp = q.value(column + 4).toLongLong();
        c.topics = decodeTopics(q.value(column + 5).toString());
        const auto byTopic = [](const auto &x, const auto &y) {
            return CodePointLess{}(x.first, y.first);
        };
        // Stored sorted (a contribution is): checking costs a pass, sorting a million
        // facts again costs seconds at start-up.
        if (!std::is_sorted(c.topics.cbegin(), c.topics.cend(), byTopic))
            std::sort(c.topics.begin(), c.topics.end(), byTopic);
        c.facts = m_dialect.decodeTextArray(q.value(column + 6));
        if (!std::is_sorted(c.facts.cbegin(), c.facts.cend(), CodePointLess{}))
            std::sort(c.facts.begin(), c.facts.end(), CodePointLess{});
        agent.current = std::move(c);
    }
    agent.sequence = q.value(column + 7).toULongLong();
    return agent;
}

std::optional<StoreState> Store::loadChanges(MergeEngine &engine, quint64 sinceSequence)
{
    if (!m_loadChanges) {
        m_loadChanges = std::make_unique<QSqlQuery>(database());
        m_loadChanges->setForwardOnly(true);
        if (!prepare(*m_loadChanges,
                     QStringLiteral("SELECT s.database_id, s.sequence, s.total_pushes, "
                                    "s.merge_mode, s.reset_generation, a.agent_id, "
                                    "a.first_seen_us, a.last_seen_us, a.push_count, "
                                    "a.current_timestamp_us, a.topic_counts, %1, "
                                    "a.sequence FROM coordinator_state s LEFT JOIN agents a ON "
                                    "a.sequence > ? WHERE s.id = 1")
                         .arg(m_dialect.textArrayColumn(QStringLiteral("a.fact_hashes"))))) {
            m_loadChanges.reset();
            return std::nullopt;
        }
    }
    QSqlQuery &q = *m_loadChanges;
    q.bindValue(0, qint64(sinceSequence));
    if (!q.exec()) {
        fail(q, QStringLiteral("load changes"));
        return std::nullopt;
    }
    std::optional<StoreState> state;
    std::vector<AgentState> agents;
    qsizetype facts = 0;
    while (q.next()) {
        if (!state) {
            state.emplace();
            state->databaseId = q.value(0).toString();
            state->sequence = q.value(1).toULongLong();
            state->totalPushes = q.value(2).toLongLong();
            state->mergeMode = q.value(3).toString();
            state->resetGeneration = q.value(4).toLongLong();
        }
        if (!q.isNull(5)) {
            agents.push_back(readAgent(q, 5));
            if (agents.back().current)
                facts += agents.back().current->facts.size();
        }
    }
    q.finish();
    // Sized once, as in loadAgents().
    engine.reserve(engine.agentCount() + qsizetype(agents.size()),
                   std::min<qsizetype>(qsizetype(engine.factHolders().size()) + facts, 1 << 22));
    for (AgentState &agent : agents)
        engine.restore(std::exchange(agent, {}));
    if (!state)
        m_lastError = QStringLiteral("the coordinator_state row is missing");
    return state;
}

std::optional<QList<AgentState>> Store::listAgents()
{
    QSqlQuery q(database());
    q.setForwardOnly(true);
    if (!q.exec(QStringLiteral("SELECT agent_id, first_seen_us, last_seen_us, push_count, "
                               "sequence FROM agents ORDER BY agent_id"))) {
        fail(q, QStringLiteral("list agents"));
        return std::nullopt;
    }
    QList<AgentState> agents;
    while (q.next()) {
        AgentState agent;
        agent.agentId = q.value(0).toString();
        agent.firstSeen = q.value(1).toLongLong();
        agent.lastSeen = q.value(2).toLongLong();
        agent.pushCount = q.value(3).toLongLong();
        agent.sequence = q.value(4).toULongLong();
        agents.append(std::move(agent));
    }
    if (q.lastError().isValid()) {
        fail(q, QStringLiteral("list agents"));
        return std::nullopt;
    }
    return agents;
}

std::optional<QList<Store::PushRecord>> Store::agentHistory(const QString &agentId, int limit)
{
    return agentHistoryPage(agentId, limit, 0);
}

bool Store::writeAgent(const AgentState &agent, qint64 historyTail)
{
    QSqlQuery q(database());
    if (!prepare(q, QStringLiteral("INSERT INTO agents (agent_id, first_seen_us, last_seen_us, "
                                   "push_count, current_timestamp_us, topic_counts, fact_hashes, "
                                   "sequence, history_tail) VALUES (?, ?, ?, ?, ?, ?json, ?array, "
                                   "?, ?)")))
        return false;
    q.addBindValue(agent.agentId);
    q.addBindValue(agent.firstSeen);
    q.addBindValue(agent.lastSeen);
    q.addBindValue(agent.pushCount);
    if (agent.current) {
        q.addBindValue(agent.current->timestamp);
        q.addBindValue(encodeTopics(agent.current->topics));
        q.addBindValue(m_dialect.encodeTextArray(agent.current->facts));
    } else {
        q.addBindValue(QVariant(QMetaType::fromType<qint64>()));
        q.addBindValue(QVariant(QMetaType::fromType<QString>()));
        q.addBindValue(QVariant(QMetaType::fromType<QString>()));
    }
    q.addBindValue(qint64(agent.sequence));
    q.addBindValue(historyTail > 0 ? QVariant(historyTail)
                                   : QVariant(QMetaType::fromType<qint64>()));
    return q.exec() || fail(q, QStringLiteral("write agent"));
}

bool Store::adoptMergeMode(MergeMode mode, MergeEngine &engine)
{
    const std::optional<StoreState> state = readState();
    if (!state)
        return false;
    engine = MergeEngine(mode);
    if (state->mergeMode == mergeModeName(mode))
        return loadAgents(engine);

    qCInfo(lcStore).noquote() << "merge mode changes from" << state->mergeMode << "to"
                              << mergeModeName(mode) << "- recomputing contributions from history";
    if (!beginWrite())
        return false;
    // Another instance may have written since readState(): take the sequence under the lock.
    const std::optional<StoreState> locked = lockState();
    if (!locked) {
        rollback();
        return false;
    }
    const quint64 sequence = locked->sequence + 1;
    forgetHistoryIds();
    QHash<QString, qint64> tails; // each agent's newest history row
    {
        QSqlQuery q(database());
        q.setForwardOnly(true);
        if (!q.exec(QStringLiteral("SELECT agent_id, timestamp_us, topic_counts, fact_hashes, "
                                   "received_us, id FROM summaries ORDER BY id"))) {
            fail(q, QStringLiteral("replay history"));
            rollback();
            return false;
        }
        while (q.next()) {
            Summary s;
            s.agentId = q.value(0).toString();
            s.timestamp = q.value(1).toLongLong();
            s.topicCounts = decodeTopics(q.value(2).toString());
            s.factHashes = m_dialect.decodeTextArray(q.value(3).toString());
            const MergeEngine::Plan plan = engine.plan(s);
            // A history that overflows in the new mode keeps the push counted but unmerged.
            engine.apply(s.agentId, plan.overflows() ? std::nullopt : plan.next,
                         q.value(4).toLongLong(), sequence);
            tails.insert(s.agentId, q.value(5).toLongLong());
        }
    }
    // Keep first/last seen and push counts as stored; only contributions change.
    MergeEngine stored(mode);
    if (!loadAgents(stored) || !exec(QStringLiteral("DELETE FROM agents"))) {
        rollback();
        return false;
    }
    for (const AgentState &rebuilt : engine.agents()) {
        AgentState agent = stored.agents().value(rebuilt.agentId, rebuilt);
        agent.current = rebuilt.current;
        agent.sequence = sequence;
        if (!writeAgent(agent, tails.value(agent.agentId, -1))) {
            rollback();
            return false;
        }
    }
    QSqlQuery q(database());
    prepare(q, QStringLiteral(
                   "UPDATE coordinator_state SET merge_mode = ?, sequence = ? WHERE id = 1"));
    q.addBindValue(mergeModeName(mode));
    q.addBindValue(qint64(sequence));
    if (!q.exec()) {
        fail(q, QStringLiteral("store merge mode"));
        rollback();
        return false;
    }
    if (!commit())
        return false;
    engine = MergeEngine(mode);
    return loadAgents(engine);
}

bool Store::beginWrite()
{
    if (m_corrupted) {
        m_lastError = !m_refusal.isEmpty()
                          ? m_refusal
                          : QStringLiteral("nothing is written to a damaged database. ") +
                                damagedAdvice(m_url);
        return false;
    }
    m_pendingCount = 0;
    if (m_dialect.isPostgres())
        return exec(m_dialect.beginWrite());
    // SQLite: prepared once (each write would compile it again otherwise).
    if (attachDirect()) {
        if (!m_directBegin) {
            int code = 0;
            QString error;
            m_directBegin = m_direct->prepare(m_dialect.beginWrite().toUtf8(), &code, &error);
            if (m_directBegin)
                m_directCommit = m_direct->prepare(QByteArrayLiteral("COMMIT"), &code, &error);
            if (!m_directCommit) {
                m_directBegin.reset();
                return failWith(error, (code & 0xff) == 11 || (code & 0xff) == 26,
                                QStringLiteral("prepare begin"));
            }
        }
        if (const int code = m_directBegin->run())
            return failDirect(code, QStringLiteral("begin"));
        // Another connection committed since this one's last transaction (another process
        // on the file): the history ids and agents' newest rows known here are forgotten.
        SqliteDirect::Statement *version =
            directStatement(m_directDataVersion, "PRAGMA data_version");
        std::optional<qint64> current;
        const int code = version ? version->runForInt64(&current) : 0;
        if (!version || code) {
            if (code)
                failDirect(code, QStringLiteral("begin"));
            rollback();
            return false;
        }
        if (current != m_dataVersion) {
            forgetHistoryIds();
            m_dataVersion = current;
        }
        return true;
    }
    if (!m_begin) {
        m_begin = std::make_unique<QSqlQuery>(database());
        m_commit = std::make_unique<QSqlQuery>(database());
        if (!prepare(*m_begin, m_dialect.beginWrite()) ||
            !prepare(*m_commit, QStringLiteral("COMMIT"))) {
            m_begin.reset();
            m_commit.reset();
            return false;
        }
    }
    return m_begin->exec() || fail(*m_begin, QStringLiteral("begin"));
}

bool Store::commit()
{
    if (m_pendingCount > 0 && !flushSummaries()) {
        rollback();
        return false;
    }
    if (m_directCommit) {
        if (const int code = m_directCommit->run()) {
            failDirect(code, QStringLiteral("commit"));
            rollback();
            return false;
        }
        return checkFileStillOurs();
    }
    if (m_commit) {
        if (!m_commit->exec()) {
            fail(*m_commit, QStringLiteral("commit"));
            rollback();
            return false;
        }
        return checkFileStillOurs();
    }
    QSqlQuery q(database());
    if (!q.exec(QStringLiteral("COMMIT"))) {
        fail(q, QStringLiteral("commit"));
        rollback();
        return false;
    }
    return checkFileStillOurs();
}

bool Store::checkFileStillOurs()
{
    // One stat() per commit (a commit is a batch of pushes).
    if (!m_fileIdentity || fileIdentity(m_filePath) == m_fileIdentity)
        return true;
    m_fileIdentity.reset();
    const QString path = QFile::decodeName(m_filePath);
    // What this connection still reads (the deleted file stays readable while it is open),
    // copied to a new file by SQLite itself; the folder is made again if it went too.
    const QString rescue =
        path + QStringLiteral(".rescued-") +
        QDateTime::currentDateTimeUtc().toString(QStringLiteral("yyyyMMdd'T'HHmmss'Z'"));
    QString saved;
    QSqlQuery vacuum(database());
    if (QDir().mkpath(QFileInfo(path).absolutePath()) && !QFileInfo::exists(rescue) &&
        vacuum.prepare(QStringLiteral("VACUUM INTO ?"))) {
        vacuum.addBindValue(rescue);
        if (vacuum.exec())
            saved = rescue;
        else
            qCWarning(lcStore).noquote() << "rescue copy failed:" << vacuum.lastError().text();
    }
    m_corrupted = true;
    m_refusal =
        QStringLiteral("the database file %1 %2, so nothing more is written to it. %3 Stop the "
                       "server, put the file back (or choose another) and start it again.")
            .arg(path, FileGone,
                 saved.isEmpty()
                     ? QStringLiteral("What it held could not be saved; the server's memory "
                                      "still answers pulls until it stops.")
                     : QStringLiteral("Everything it held (the last write included) was "
                                      "saved to %1.")
                           .arg(saved));
    m_lastError = m_refusal;
    qCCritical(lcStore).noquote() << m_refusal;
    return false;
}

void Store::rollback()
{
    m_pendingCount = 0; // not inserted: nothing of them to undo
    forgetHistoryIds(); // may name rows that are not there now
    QSqlQuery q(database());
    q.exec(QStringLiteral("ROLLBACK"));
}

bool Store::recordPush(const Summary &summary, Instant receivedAt, const QString &source,
                       const std::optional<Contribution> &next, quint64 sequence)
{
    if (attachDirect())
        return recordPushDirect(summary, receivedAt, source, next, sequence);
    if (!m_insertSummary) {
        m_insertSummary = std::make_unique<QSqlQuery>(database());
        m_upsertAgent = std::make_unique<QSqlQuery>(database());
        m_touchAgent = std::make_unique<QSqlQuery>(database());
        if (!prepareNamed(*m_insertSummary,
                          insertSummarySql() +
                              (m_dialect.isPostgres() ? u" RETURNING id"_s : QString())) ||
            !prepareNamed(*m_upsertAgent, upsertAgentSql()) ||
            !prepareNamed(*m_touchAgent, touchAgentSql())) {
            m_insertSummary.reset();
            return false;
        }
    }

    // The summary's lists as sent; the contribution's are sorted, and often the same (then
    // encoded once).
    const QString topics = encodeTopics(summary.topicCounts);
    const QString facts = m_dialect.encodeTextArray(summary.factHashes);
    const QVariant agentId(summary.agentId);
    const QVariant received(receivedAt);

    QSqlQuery &insert = *m_insertSummary;
    insert.bindValue(placeholder(0), agentId);
    insert.bindValue(placeholder(1), m_dialect.encodeTimestamp(summary.timestamp));
    insert.bindValue(placeholder(2), summary.timestamp);
    insert.bindValue(placeholder(3), topics);
    insert.bindValue(placeholder(4), facts);
    insert.bindValue(placeholder(5), summary.hasMetadata
                                         ? QVariant(encodeJson(summary.metadata))
                                         : QVariant(QMetaType::fromType<QString>()));
    insert.bindValue(placeholder(6), summary.hasMemoryTypes
                                         ? QVariant(encodeJson(summary.memoryTypes))
                                         : QVariant(QMetaType::fromType<QString>()));
    insert.bindValue(placeholder(7), source);
    insert.bindValue(placeholder(8), m_dialect.encodeTimestamp(receivedAt));
    insert.bindValue(placeholder(9), received);
    insert.bindValue(placeholder(10), agentId);
    if (!insert.exec())
        return fail(insert, QStringLiteral("insert summary"));
    // The agent's row names this history row as its newest.
    QVariant historyId;
    if (m_dialect.isPostgres()) {
        if (!insert.next())
            return fail(insert, QStringLiteral("insert summary"));
        historyId = insert.value(0);
        insert.finish();
    } else {
        historyId = insert.lastInsertId();
    }
    if (!historyId.isValid())
        return fail(insert, QStringLiteral("insert summary"));

    if (next) {
        QSqlQuery &upsert = *m_upsertAgent;
        upsert.bindValue(placeholder(0), agentId);
        upsert.bindValue(placeholder(1), received);
        upsert.bindValue(placeholder(2), received);
        upsert.bindValue(placeholder(3), next->timestamp);
        upsert.bindValue(placeholder(4),
                         next->topics == summary.topicCounts ? topics : encodeTopics(next->topics));
        upsert.bindValue(placeholder(5), next->facts == summary.factHashes
                                             ? facts
                                             : m_dialect.encodeTextArray(next->facts));
        upsert.bindValue(placeholder(6), qint64(sequence));
        upsert.bindValue(placeholder(7), historyId);
        if (!upsert.exec())
            return fail(upsert, QStringLiteral("upsert agent"));
    } else {
        QSqlQuery &touch = *m_touchAgent;
        touch.bindValue(placeholder(0), received);
        touch.bindValue(placeholder(1), historyId);
        touch.bindValue(placeholder(2), agentId);
        if (!touch.exec())
            return fail(touch, QStringLiteral("count push"));
    }
    return true;
}

bool Store::recordPushDirect(const Summary &summary, Instant receivedAt, const QString &source,
                             const std::optional<Contribution> &next, quint64 sequence)
{
    if (!m_directUpdate) {
        int code = 0;
        QString error;
        const auto compile = [&](const QString &statement) {
            return code == 0 ? m_direct->prepare(m_dialect.sql(statement).toUtf8(), &code, &error)
                             : nullptr;
        };
        m_directUpsert = compile(upsertAgentSql());
        m_directUpdate = compile(updateAgentSql());
        m_directTouch = compile(touchAgentSql());
        if (code != 0) {
            m_directUpsert.reset();
            m_directUpdate.reset();
            m_directTouch.reset();
            return failWith(error, (code & 0xff) == 11 || (code & 0xff) == 26,
                            QStringLiteral("prepare push statements"));
        }
    }
    // The history row's id and the agent's previous row, known here: this connection is
    // the file's only writer (beginWrite() forgets both when another one committed).
    if (m_nextHistoryId == 0 && !loadNextHistoryId())
        return false;
    qint64 &tail = m_historyTails[summary.agentId];
    if (tail == 0 && !loadHistoryTail(summary.agentId, &tail))
        return false;
    // As recordPush() binds them through QSqlQuery, in UTF-8 (SQLite's own encoding). Bound
    // without a copy: every value lives until its statement ran. The history row waits for
    // flushSummaries(); the agent's row is written now.
    if (m_pendingCount == qsizetype(m_pending.size()))
        m_pending.emplace_back();
    PendingSummary &row = m_pending[size_t(m_pendingCount)];
    row.id = m_nextHistoryId;
    row.previousId = tail; // < 0: none
    assignUtf8(row.agentId, summary.agentId);
    char timestampText[IsoTimestampMaxSize];
    row.timestamp.assign(timestampText,
                         size_t(formatIsoTimestamp(summary.timestamp, timestampText)));
    row.timestampUs = summary.timestamp;
    assignTopicsUtf8(row.topics, summary.topicCounts);
    assignSqliteArrayUtf8(row.facts, summary.factHashes);
    row.hasMetadata = summary.hasMetadata;
    if (summary.hasMetadata) {
        const QByteArray metadata = QJsonDocument(summary.metadata).toJson(QJsonDocument::Compact);
        row.metadata.assign(metadata.constData(), size_t(metadata.size()));
    }
    row.hasMemoryTypes = summary.hasMemoryTypes;
    if (summary.hasMemoryTypes) {
        const QByteArray memoryTypes =
            QJsonDocument(summary.memoryTypes).toJson(QJsonDocument::Compact);
        row.memoryTypes.assign(memoryTypes.constData(), size_t(memoryTypes.size()));
    }
    assignUtf8(row.source, source);
    char receivedText[IsoTimestampMaxSize];
    row.received.assign(receivedText, size_t(formatIsoTimestamp(receivedAt, receivedText)));
    row.receivedUs = receivedAt;
    ++m_pendingCount;
    const QByteArrayView agentId(row.agentId);
    const QByteArrayView topics(row.topics);
    const QByteArrayView facts(row.facts);
    PushText &text = m_pushText;

    if (next) {
        QByteArrayView nextTopics = topics;
        if (next->topics != summary.topicCounts) {
            assignTopicsUtf8(text.nextTopics, next->topics);
            nextTopics = text.nextTopics;
        }
        QByteArrayView nextFacts = facts;
        if (next->facts != summary.factHashes) {
            assignSqliteArrayUtf8(text.nextFacts, next->facts);
            nextFacts = text.nextFacts;
        }
        SqliteDirect::Statement &update = *m_directUpdate;
        update.bindInt64(1, receivedAt);
        update.bindInt64(2, next->timestamp);
        update.bindText(3, nextTopics);
        update.bindText(4, nextFacts);
        update.bindInt64(5, qint64(sequence));
        update.bindInt64(6, row.id);
        update.bindText(7, agentId);
        if (const int code = update.run())
            return failDirect(code, QStringLiteral("update agent"));
        if (m_direct->changes() == 1)
            return historyRowTaken(tail, row.id);
        // A new agent (the same upsert as through QSqlQuery).
        SqliteDirect::Statement &upsert = *m_directUpsert;
        upsert.bindText(1, agentId);
        upsert.bindInt64(2, receivedAt);
        upsert.bindInt64(3, receivedAt);
        upsert.bindInt64(4, next->timestamp);
        upsert.bindText(5, nextTopics);
        upsert.bindText(6, nextFacts);
        upsert.bindInt64(7, qint64(sequence));
        upsert.bindInt64(8, row.id);
        if (const int code = upsert.run())
            return failDirect(code, QStringLiteral("upsert agent"));
    } else {
        SqliteDirect::Statement &touch = *m_directTouch;
        touch.bindInt64(1, receivedAt);
        touch.bindInt64(2, row.id);
        touch.bindText(3, agentId);
        if (const int code = touch.run())
            return failDirect(code, QStringLiteral("count push"));
    }
    return historyRowTaken(tail, row.id);
}

bool Store::historyRowTaken(qint64 &tail, qint64 id)
{
    tail = id;
    ++m_nextHistoryId;
    return true;
}

SqliteDirect::Statement *Store::directStatement(std::unique_ptr<SqliteDirect::Statement> &slot,
                                                const char *sql)
{
    if (!slot) {
        int code = 0;
        QString error;
        slot = m_direct->prepare(QByteArray(sql), &code, &error);
        if (!slot) {
            failWith(error, (code & 0xff) == 11 || (code & 0xff) == 26,
                     QStringLiteral("prepare ") + QLatin1String(sql).left(40));
            return nullptr;
        }
    }
    return slot.get();
}

bool Store::loadNextHistoryId()
{
    // Above every id the table ever held (AUTOINCREMENT's counter: ids are never reused).
    SqliteDirect::Statement *read = directStatement(
        m_directLastHistoryId, "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name "
                               "= 'summaries'), 0), COALESCE((SELECT MAX(id) FROM summaries), 0))");
    if (!read)
        return false;
    std::optional<qint64> last;
    if (const int code = read->runForInt64(&last))
        return failDirect(code, QStringLiteral("read the history's last id"));
    m_nextHistoryId = last.value_or(0) + 1;
    return true;
}

bool Store::loadHistoryTail(const QString &agentId, qint64 *tail)
{
    SqliteDirect::Statement *read =
        directStatement(m_directHistoryTail, "SELECT history_tail FROM agents WHERE agent_id = ?");
    if (!read)
        return false;
    const QByteArray id = agentId.toUtf8();
    read->bindText(1, id);
    std::optional<qint64> found;
    if (const int code = read->runForInt64(&found))
        return failDirect(code, QStringLiteral("read the agent's history"));
    *tail = found.value_or(-1);
    return true;
}

void Store::forgetHistoryIds()
{
    m_historyTails.clear();
    m_nextHistoryId = 0;
}

bool Store::flushSummaries()
{
    qsizetype done = 0;
    while (done < m_pendingCount) {
        const int rows = int(std::min<qsizetype>(MaxInsertRows, m_pendingCount - done));
        std::unique_ptr<SqliteDirect::Statement> &insert = m_directInserts[size_t(rows - 1)];
        if (!insert) {
            // The single-row statement's VALUES list, once per row. OR ROLLBACK: a statement
            // of several rows that fails ends the whole transaction (which the writer rolls
            // back anyway) instead of only itself, so SQLite keeps no statement journal for
            // it (the original of every page it changes, which spilled to a temporary file
            // in about a third of the commits).
            QString sql = m_dialect.sql(insertSummaryDirectSql());
            const QString values = sql.mid(sql.lastIndexOf(u"VALUES ") + 7);
            for (int r = 1; r < rows; ++r)
                sql += u", "_s + values;
            int code = 0;
            QString error;
            insert = m_direct->prepare(sql.toUtf8(), &code, &error);
            if (!insert) {
                m_pendingCount = 0;
                return failWith(error, (code & 0xff) == 11 || (code & 0xff) == 26,
                                QStringLiteral("prepare insert summaries"));
            }
        }
        for (int r = 0; r < rows; ++r) {
            const PendingSummary &row = m_pending[size_t(done + r)];
            const int base = r * InsertSummaryDirectColumns;
            insert->bindInt64(base + 1, row.id);
            insert->bindText(base + 2, row.agentId);
            insert->bindText(base + 3, row.timestamp);
            insert->bindInt64(base + 4, row.timestampUs);
            insert->bindText(base + 5, row.topics);
            insert->bindText(base + 6, row.facts);
            if (row.hasMetadata)
                insert->bindText(base + 7, row.metadata);
            else
                insert->bindNull(base + 7);
            if (row.hasMemoryTypes)
                insert->bindText(base + 8, row.memoryTypes);
            else
                insert->bindNull(base + 8);
            insert->bindText(base + 9, row.source);
            insert->bindText(base + 10, row.received);
            insert->bindInt64(base + 11, row.receivedUs);
            if (row.previousId > 0)
                insert->bindInt64(base + 12, row.previousId);
            else
                insert->bindNull(base + 12);
        }
        if (const int code = insert->run()) {
            m_pendingCount = 0;
            return failDirect(code, QStringLiteral("insert summary"));
        }
        done += rows;
    }
    m_pendingCount = 0;
    return true;
}

bool Store::attachDirect()
{
    if (!m_directTried && !m_dialect.isPostgres()) {
        m_directTried = true;
        if (m_options.directSqlite)
            m_direct = SqliteDirect::attach(database().driver());
        qCDebug(lcStore) << "pushes written through"
                         << (m_direct ? "the SQLite library directly" : "QSqlQuery");
    }
    return m_direct != nullptr;
}

bool Store::writeState(quint64 sequence, qint64 addedPushes)
{
    if (attachDirect()) {
        if (m_pendingCount > 0 && !flushSummaries())
            return false;
        if (!m_directState) {
            int code = 0;
            QString error;
            m_directState = m_direct->prepare(
                QByteArrayLiteral("UPDATE coordinator_state SET sequence = ?, total_pushes = "
                                  "total_pushes + ? WHERE id = 1"),
                &code, &error);
            if (!m_directState)
                return failWith(error, (code & 0xff) == 11 || (code & 0xff) == 26,
                                QStringLiteral("prepare write state"));
        }
        m_directState->bindInt64(1, qint64(sequence));
        m_directState->bindInt64(2, addedPushes);
        if (const int code = m_directState->run())
            return failDirect(code, QStringLiteral("write state"));
        return true;
    }
    if (!m_writeState) {
        m_writeState = std::make_unique<QSqlQuery>(database());
        if (!prepareNamed(*m_writeState,
                          QStringLiteral("UPDATE coordinator_state SET sequence = ?, "
                                         "total_pushes = total_pushes + ? WHERE id = 1"))) {
            m_writeState.reset();
            return false;
        }
    }
    m_writeState->bindValue(placeholder(0), qint64(sequence));
    m_writeState->bindValue(placeholder(1), addedPushes);
    return m_writeState->exec() || fail(*m_writeState, QStringLiteral("write state"));
}

bool Store::deleteEverything(quint64 sequence)
{
    forgetHistoryIds();
    if (!exec(QStringLiteral("DELETE FROM summaries")) ||
        !exec(QStringLiteral("DELETE FROM agents")))
        return false;
    QSqlQuery q(database());
    prepare(q, QStringLiteral("UPDATE coordinator_state SET sequence = ?, total_pushes = 0, "
                              "reset_generation = reset_generation + 1 WHERE id = 1"));
    q.addBindValue(qint64(sequence));
    return q.exec() || fail(q, QStringLiteral("reset state"));
}

// History by agent. There is no index by agent: an index keyed by agent dirtied a random
// page per push (its agent's leaf), the most of what a commit wrote. Instead each history
// row names its agent's previous row (prev_id, always a smaller id) and the agent's row its
// newest (history_tail); an agent's history is read newest first by walking that chain, one
// primary-key lookup per row. Rows only ever leave a chain from its old end (time retention
// deletes a prefix of the ids; per-agent retention links the oldest row kept past the rows
// it deletes), and ids are never reused, so a link to a deleted row simply ends the chain.
namespace {

// The chain of `?agent` from row `?start` (which must be the agent's), newest first; `taken`
// counts the rows below `?before`, and the walk stops once it reached `?limit`.
constexpr QStringView HistoryChainSql =
    u"WITH RECURSIVE chain(id, prev, taken) AS ("
    " SELECT s.id, s.prev_id, CAST(CASE WHEN s.id < ? THEN 1 ELSE 0 END AS BIGINT)"
    " FROM summaries s"
    " WHERE s.id = ? AND s.agent_id = ?"
    " UNION ALL"
    " SELECT s.id, s.prev_id, c.taken + CASE WHEN s.id < ? THEN 1 ELSE 0 END"
    " FROM chain c JOIN summaries s ON s.id = c.prev"
    " WHERE s.id < c.id AND s.agent_id = ? AND c.taken < ?) ";

// The chain from an agent's newest row, each row numbered from 1 (the newest); the walk stops
// at row `?last`.
constexpr QStringView NumberedChainSql =
    u"WITH RECURSIVE chain(id, prev, n) AS ("
    " SELECT s.id, s.prev_id, CAST(1 AS BIGINT) FROM agents a"
    " JOIN summaries s ON s.id = a.history_tail"
    " AND s.agent_id = a.agent_id WHERE a.agent_id = ?"
    " UNION ALL"
    " SELECT s.id, s.prev_id, c.n + 1 FROM chain c JOIN summaries s ON s.id = c.prev"
    " WHERE s.id < c.id AND s.agent_id = ? AND c.n < ?) ";

} // namespace

std::optional<qint64> Store::historyStart(const QString &agentId, qint64 before)
{
    QSqlQuery q(database());
    q.setForwardOnly(true);
    if (before > 0) {
        // The next page of a listing: the row before the last one shown, when that row is
        // still there.
        if (!prepare(q, QStringLiteral("SELECT prev_id FROM summaries WHERE id = ? AND "
                                       "agent_id = ?")))
            return std::nullopt;
        q.addBindValue(before);
        q.addBindValue(agentId);
        if (!q.exec()) {
            fail(q, QStringLiteral("agent history"));
            return std::nullopt;
        }
        if (q.next())
            return q.isNull(0) ? 0 : q.value(0).toLongLong();
    }
    // From the newest (the rows from `before` on are walked past).
    if (!prepare(q, QStringLiteral("SELECT history_tail FROM agents WHERE agent_id = ?")))
        return std::nullopt;
    q.addBindValue(agentId);
    if (!q.exec()) {
        fail(q, QStringLiteral("agent history"));
        return std::nullopt;
    }
    return q.next() && !q.isNull(0) ? q.value(0).toLongLong() : 0;
}

std::optional<QList<Store::PushRecord>> Store::agentHistoryPage(const QString &agentId, int limit,
                                                                qint64 before)
{
    const std::optional<qint64> start = historyStart(agentId, before);
    if (!start)
        return std::nullopt;
    QList<PushRecord> records;
    if (*start == 0 || limit <= 0)
        return records;
    const qint64 below = before > 0 ? before : std::numeric_limits<qint64>::max();
    QSqlQuery q(database());
    q.setForwardOnly(true);
    if (!prepare(q, HistoryChainSql.toString() +
                        u"SELECT s.id, s.timestamp_us, s.topic_counts, s.fact_hashes, s.source, "
                        "s.received_us FROM chain c JOIN summaries s ON s.id = c.id WHERE c.id < ? "
                        "ORDER BY c.id DESC LIMIT ?"_s))
        return std::nullopt;
    q.addBindValue(below);
    q.addBindValue(*start);
    q.addBindValue(agentId);
    q.addBindValue(below);
    q.addBindValue(agentId);
    q.addBindValue(limit);
    q.addBindValue(below);
    q.addBindValue(limit);
    if (!q.exec()) {
        fail(q, QStringLiteral("agent history page"));
        return std::nullopt;
    }
    while (q.next()) {
        PushRecord r;
        r.id = q.value(0).toLongLong();
        r.summary.agentId = agentId;
        r.summary.timestamp = q.value(1).toLongLong();
        r.summary.topicCounts = decodeTopics(q.value(2).toString());
        r.summary.factHashes = m_dialect.decodeTextArray(q.value(3).toString());
        r.source = q.value(4).toString();
        r.receivedAt = q.value(5).toLongLong();
        records.append(std::move(r));
    }
    if (q.lastError().isValid()) {
        fail(q, QStringLiteral("agent history page"));
        return std::nullopt;
    }
    return records;
}

std::optional<Store::PushMinutes> Store::pushesPerMinute(Instant since, qint64 maxRows,
                                                         int pageRows)
{
    constexpr qint64 MinuteUs = 60'000'000;
    const qint64 firstMinute = since / MinuteUs;
    QSqlQuery q(database());
    q.setForwardOnly(true);
    // One page: the newest rows below an id, counted per minute by the database (a page
    // sends back a few dozen rows, whatever its size).
    if (!prepare(q,
                 QStringLiteral("SELECT received_us / 60000000, COUNT(*), MIN(id) FROM "
                                "(SELECT id, received_us FROM summaries WHERE id < ? "
                                "ORDER BY id DESC LIMIT ?) page GROUP BY received_us / 60000000")))
        return std::nullopt;
    QMap<qint64, qint64> counts;
    qint64 below = std::numeric_limits<qint64>::max();
    qint64 read = 0;
    PushMinutes result;
    while (true) {
        q.bindValue(0, below);
        q.bindValue(1, pageRows);
        if (!q.exec()) {
            fail(q, QStringLiteral("pushes per minute"));
            return std::nullopt;
        }
        qint64 rows = 0;
        qint64 oldestMinute = std::numeric_limits<qint64>::max();
        while (q.next()) {
            const qint64 minute = q.value(0).toLongLong();
            const qint64 count = q.value(1).toLongLong();
            rows += count;
            below = std::min(below, q.value(2).toLongLong());
            oldestMinute = std::min(oldestMinute, minute);
            if (minute >= firstMinute)
                counts[minute] += count;
        }
        read += rows;
        // The end of the history, or the cutoff reached (pushes of several instances come
        // in id order only roughly: the rest of this page still counted).
        if (rows < pageRows || oldestMinute < firstMinute)
            break;
        if (read >= maxRows) {
            counts.remove(oldestMinute);
            result.complete = false;
            break;
        }
    }
    result.minutes.reserve(counts.size());
    for (auto it = counts.cbegin(); it != counts.cend(); ++it)
        result.minutes.append({it.key() * MinuteUs, it.value()});
    return result;
}

std::optional<qint64> Store::sizeBytes()
{
    QSqlQuery q(database());
    if (m_dialect.isPostgres()) {
        if (!q.exec(QStringLiteral("SELECT pg_database_size(current_database())")) || !q.next()) {
            fail(q, QStringLiteral("database size"));
            return std::nullopt;
        }
        return q.value(0).toLongLong();
    }
    if (m_url.kind == StoreUrl::Kind::SqliteFile) {
        const QFileInfo main(m_url.path);
        const QFileInfo wal(m_url.path + QStringLiteral("-wal"));
        return (main.exists() ? main.size() : 0) + (wal.exists() ? wal.size() : 0);
    }
    if (!q.exec(QStringLiteral("SELECT page_count * page_size FROM pragma_page_count(), "
                               "pragma_page_size()")) ||
        !q.next()) {
        fail(q, QStringLiteral("database size"));
        return std::nullopt;
    }
    return q.value(0).toLongLong();
}

std::optional<Store::HistoryExtent> Store::historyExtent()
{
    QSqlQuery q(database());
    if (!q.exec(QStringLiteral("SELECT COUNT(*), MAX(id) FROM summaries")) || !q.next()) {
        fail(q, QStringLiteral("history extent"));
        return std::nullopt;
    }
    HistoryExtent extent;
    extent.count = q.value(0).toLongLong();
    extent.maxId = q.isNull(1) ? 0 : q.value(1).toLongLong();
    return extent;
}

std::optional<QList<Store::PushRecord>> Store::historyBatch(qint64 afterId, qint64 upToId,
                                                            int limit)
{
    QSqlQuery q(database());
    q.setForwardOnly(true);
    if (!prepare(q, QStringLiteral("SELECT id, agent_id, timestamp_us, topic_counts, fact_hashes, "
                                   "metadata, memory_types, source, received_us FROM summaries "
                                   "WHERE id > ? AND id <= ? ORDER BY id LIMIT ?")))
        return std::nullopt;
    q.addBindValue(afterId);
    q.addBindValue(upToId);
    q.addBindValue(limit);
    if (!q.exec()) {
        fail(q, QStringLiteral("history batch"));
        return std::nullopt;
    }
    QList<PushRecord> records;
    while (q.next()) {
        PushRecord r;
        r.id = q.value(0).toLongLong();
        r.summary.agentId = q.value(1).toString();
        r.summary.timestamp = q.value(2).toLongLong();
        r.summary.topicCounts = decodeTopics(q.value(3).toString());
        r.summary.factHashes = m_dialect.decodeTextArray(q.value(4).toString());
        if (!q.isNull(5)) {
            r.summary.metadata = QJsonDocument::fromJson(q.value(5).toString().toUtf8()).object();
            r.summary.hasMetadata = true;
        }
        if (!q.isNull(6)) {
            r.summary.memoryTypes = QJsonDocument::fromJson(q.value(6).toString().toUtf8()).array();
            r.summary.hasMemoryTypes = true;
        }
        r.source = q.value(7).toString();
        r.receivedAt = q.value(8).toLongLong();
        records.append(std::move(r));
    }
    if (q.lastError().isValid()) {
        fail(q, QStringLiteral("history batch"));
        return std::nullopt;
    }
    return records;
}

std::optional<qint64> Store::agentCount()
{
    QSqlQuery q(database());
    if (!q.exec(QStringLiteral("SELECT COUNT(*) FROM agents")) || !q.next()) {
        fail(q, QStringLiteral("count agents"));
        return std::nullopt;
    }
    return q.value(0).toLongLong();
}

std::optional<QList<AgentState>> Store::agentsBatch(const QString &afterAgentId, int limit)
{
    // SQLite compares TEXT byte by byte (UTF-8: code point order); PostgreSQL's "C" collation
    // does the same, whatever the database's locale.
    const QString key = m_dialect.isPostgres() ? QStringLiteral("agent_id COLLATE \"C\"")
                                               : QStringLiteral("agent_id");
    QSqlQuery q(database());
    q.setForwardOnly(true);
    if (!prepare(q, QStringLiteral("SELECT agent_id, first_seen_us, last_seen_us, push_count, "
                                   "current_timestamp_us, topic_counts, fact_hashes, sequence "
                                   "FROM agents WHERE %1 > ? ORDER BY %1 LIMIT ?")
                        .arg(key)))
        return std::nullopt;
    // A null string would bind as NULL (and match nothing).
    q.addBindValue(afterAgentId.isNull() ? QStringLiteral("") : afterAgentId);
    q.addBindValue(limit);
    if (!q.exec()) {
        fail(q, QStringLiteral("agents batch"));
        return std::nullopt;
    }
    QList<AgentState> agents;
    while (q.next())
        agents.append(readAgent(q, 0));
    if (q.lastError().isValid()) {
        fail(q, QStringLiteral("agents batch"));
        return std::nullopt;
    }
    return agents;
}

bool Store::deleteAgent(const QString &agentId, quint64 sequence)
{
    m_historyTails.remove(agentId);
    {
        // Its history: the chain from its newest row.
        QSqlQuery q(database());
        if (!prepare(q, NumberedChainSql.toString() +
                            u"DELETE FROM summaries WHERE id IN (SELECT id FROM chain)"_s))
            return false;
        q.addBindValue(agentId);
        q.addBindValue(agentId);
        q.addBindValue(std::numeric_limits<qint64>::max());
        if (!q.exec())
            return fail(q, QStringLiteral("delete agent"));
    }
    {
        QSqlQuery q(database());
        if (!prepare(q, QStringLiteral("DELETE FROM agents WHERE agent_id = ?")))
            return false;
        q.addBindValue(agentId);
        if (!q.exec())
            return fail(q, QStringLiteral("delete agent"));
    }
    QSqlQuery q(database());
    prepare(q, QStringLiteral("UPDATE coordinator_state SET sequence = ?, "
                              "reset_generation = reset_generation + 1 WHERE id = 1"));
    q.addBindValue(qint64(sequence));
    return q.exec() || fail(q, QStringLiteral("delete agent state"));
}

std::optional<qint64> Store::abandonWrite(const QSqlQuery *query, const QString &what)
{
    if (query)
        fail(*query, what);
    rollback();
    return std::nullopt;
}

std::optional<qint64> Store::pruneHistoryBefore(Instant cutoff, int batch)
{
    // The oldest rows by id, up to the first one received at or after the cutoff: always a
    // prefix of the ids, so no agent's chain loses a row in its middle. (A row received
    // before the cutoff but after a newer one, the clock having gone back, waits for it.)
    const QString what = QStringLiteral("prune history");
    if (!beginWrite())
        return std::nullopt;
    QSqlQuery q(database());
    q.setForwardOnly(true);
    if (!prepare(q, QStringLiteral("SELECT id, received_us FROM summaries ORDER BY id LIMIT ?")))
        return abandonWrite(nullptr, what);
    q.addBindValue(batch);
    if (!q.exec())
        return abandonWrite(&q, what);
    qint64 last = 0;
    while (q.next() && q.value(1).toLongLong() < cutoff)
        last = q.value(0).toLongLong();
    if (q.lastError().isValid())
        return abandonWrite(&q, what);
    q.finish();
    if (last == 0) {
        rollback();
        return 0;
    }
    QSqlQuery del(database());
    if (!prepare(del, QStringLiteral("DELETE FROM summaries WHERE id <= ?")))
        return abandonWrite(nullptr, what);
    del.addBindValue(last);
    if (!del.exec())
        return abandonWrite(&del, what);
    const qint64 deleted = del.numRowsAffected();
    if (!commit())
        return std::nullopt;
    return deleted;
}

std::optional<qint64> Store::pruneAgentHistory(const QString &agentId, int keep, int batch)
{
    // Rows keep .. keep + batch + 1 of the agent's chain (newest first): the oldest kept,
    // those deleted, and the row the oldest kept then links to.
    if (keep < 1 || batch < 1)
        return 0;
    if (!beginWrite())
        return std::nullopt;
    const auto abort = [this](const QSqlQuery *q) {
        return abandonWrite(q, QStringLiteral("prune agent history"));
    };
    QList<qint64> rows;
    {
        QSqlQuery q(database());
        q.setForwardOnly(true);
        if (!prepare(q, NumberedChainSql.toString() +
                            u"SELECT id FROM chain WHERE n >= ? ORDER BY n"_s))
            return abort(nullptr);
        q.addBindValue(agentId);
        q.addBindValue(agentId);
        q.addBindValue(qint64(keep) + batch + 1);
        q.addBindValue(keep);
        if (!q.exec())
            return abort(&q);
        while (q.next())
            rows.append(q.value(0).toLongLong());
        if (q.lastError().isValid())
            return abort(&q);
    }
    if (rows.size() < 2) {
        rollback();
        return 0;
    }
    const QList<qint64> doomed = rows.mid(1, batch);
    qint64 deleted = 0;
    QSqlQuery del(database());
    for (qsizetype at = 0; at < doomed.size(); at += DeleteChunk) {
        const QList<qint64> chunk = doomed.mid(at, DeleteChunk);
        QString sql = u"DELETE FROM summaries WHERE id IN (?"_s;
        for (qsizetype i = 1; i < chunk.size(); ++i)
            sql += u", ?"_s;
        sql += u')';
        if (!prepare(del, sql))
            return abort(nullptr);
        for (const qint64 id : chunk)
            del.addBindValue(id);
        if (!del.exec())
            return abort(&del);
        deleted += del.numRowsAffected();
    }
    // The oldest row kept now links to the first row after those deleted (none: the end).
    QSqlQuery link(database());
    if (!prepare(link, QStringLiteral("UPDATE summaries SET prev_id = ? WHERE id = ?")))
        return abort(nullptr);
    link.addBindValue(rows.size() > batch + 1 ? QVariant(rows.at(batch + 1))
                                              : QVariant(QMetaType::fromType<qint64>()));
    link.addBindValue(rows.first());
    if (!link.exec())
        return abort(&link);
    if (!commit())
        return std::nullopt;
    return deleted;
}

bool Store::bumpKeysVersion()
{
    return exec(QStringLiteral("UPDATE coordinator_state SET keys_version = keys_version + 1 "
                               "WHERE id = 1"));
}

std::optional<QString> Store::createKey(const QString &name, unsigned scopes, ApiKeyRecord *record)
{
    const QString key = ApiKey::generate();
    ApiKeyRecord r;
    r.name = name;
    r.prefix = ApiKey::displayPrefix(key);
    r.hash = ApiKey::hash(key);
    r.scopes = scopes;
    r.createdAt = nowInstant();
    if (!beginWrite())
        return std::nullopt;
    QSqlQuery q(database());
    prepare(q, QStringLiteral("INSERT INTO api_keys (name, prefix, key_hash, scopes, created_us) "
                              "VALUES (?, ?, ?, ?, ?)"));
    q.addBindValue(r.name);
    q.addBindValue(r.prefix);
    q.addBindValue(QString::fromLatin1(r.hash));
    q.addBindValue(scopesToString(scopes));
    q.addBindValue(r.createdAt);
    if (!q.exec()) {
        fail(q, QStringLiteral("create key"));
        rollback();
        return std::nullopt;
    }
    QSqlQuery id(database());
    prepare(id, QStringLiteral("SELECT id FROM api_keys WHERE key_hash = ?"));
    id.addBindValue(QString::fromLatin1(r.hash));
    if (!id.exec() || !id.next()) {
        fail(id, QStringLiteral("read key id"));
        rollback();
        return std::nullopt;
    }
    r.id = id.value(0).toLongLong();
    if (!bumpKeysVersion() || !commit())
        return std::nullopt;
    if (record)
        *record = r;
    return key;
}

std::optional<QList<ApiKeyRecord>> Store::listKeys()
{
    QSqlQuery q(database());
    if (!q.exec(QStringLiteral("SELECT id, name, prefix, key_hash, scopes, created_us, "
                               "last_used_us, revoked_us FROM api_keys ORDER BY id"))) {
        fail(q, QStringLiteral("list keys"));
        return std::nullopt;
    }
    QList<ApiKeyRecord> keys;
    while (q.next()) {
        ApiKeyRecord r;
        r.id = q.value(0).toLongLong();
        r.name = q.value(1).toString();
        r.prefix = q.value(2).toString();
        r.hash = q.value(3).toString().toLatin1();
        r.scopes = parseScopes(q.value(4).toString()).value_or(0);
        r.createdAt = q.value(5).toLongLong();
        r.lastUsedAt = q.value(6).toLongLong();
        r.revokedAt = q.value(7).toLongLong();
        keys.append(r);
    }
    return keys;
}

bool Store::revokeKey(qint64 id)
{
    if (!beginWrite())
        return false;
    QSqlQuery q(database());
    prepare(q, QStringLiteral(
                   "UPDATE api_keys SET revoked_us = ? WHERE id = ? AND revoked_us IS NULL"));
    q.addBindValue(nowInstant());
    q.addBindValue(id);
    if (!q.exec()) {
        fail(q, QStringLiteral("revoke key"));
        rollback();
        return false;
    }
    if (q.numRowsAffected() != 1) {
        rollback();
        m_lastError = QStringLiteral("no active API key has the id %1").arg(id);
        return false;
    }
    return bumpKeysVersion() && commit();
}

bool Store::touchKeys(const QHash<qint64, Instant> &lastUsed)
{
    if (lastUsed.isEmpty())
        return true;
    if (!beginWrite())
        return false;
    QSqlQuery q(database());
    prepare(q, QStringLiteral(
                   "UPDATE api_keys SET last_used_us = {GREATEST}(COALESCE(last_used_us, 0), ?) "
                   "WHERE id = ?"));
    for (auto it = lastUsed.cbegin(); it != lastUsed.cend(); ++it) {
        q.bindValue(0, it.value());
        q.bindValue(1, it.key());
        if (!q.exec()) {
            fail(q, QStringLiteral("touch key"));
            rollback();
            return false;
        }
    }
    return commit();
}

std::optional<qint64> Store::keysVersion()
{
    QSqlQuery q(database());
    if (!q.exec(QStringLiteral("SELECT keys_version FROM coordinator_state WHERE id = 1")) ||
        !q.next()) {
        fail(q, QStringLiteral("keys version"));
        return std::nullopt;
    }
    return q.value(0).toLongLong();
}

} // namespace agmem
