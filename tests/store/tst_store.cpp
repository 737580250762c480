// The store against SQLite, and (run as tst_store_pg, AGMEM_TEST_BACKEND=postgresql) the
// same cases against PostgreSQL; the SQLite-only ones (PRAGMAs, files, :memory:) skip there.

#include "pgsupport.h"
#include "writersupport.h"

#include "core/jsonwriter.h"
#include "core/mergeengine.h"
#include "core/summary.h"
#include "core/timestamp.h"
#include "server/coordinatorapi.h"
#include "server/httpmessage.h"
#include "server/serverconfig.h"
#include "store/coordinatorwriter.h"
#include "store/sqldialect.h"
#include "store/store.h"
#include "store/storeurl.h"

#include <QDeadlineTimer>
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRandomGenerator>
#include <QSemaphore>
#include <QSet>
#include <QSignalSpy>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QSqlRecord>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QUuid>
#include <QtTest>

#include <memory>
#include <numeric>
#include <optional>

using namespace agmem;
using agmem::test::commitPushes;
using agmem::test::StoredPush;
using namespace Qt::StringLiterals;

namespace {

using Topics = QList<QPair<QString, qint64>>;

// 2025-01-01T00:00:00Z: client timestamps are seconds after it.
constexpr Instant BaseTime = 1735689600000000;
// When the coordinator received the pushes: a fixed clock, so first/last seen are known.
constexpr Instant Received = 1767225600000000;
constexpr Instant Second = 1000000;
// 2^53 + 1: a count a double cannot hold, so it shows whether JSON columns stay exact.
constexpr qint64 BigCount = 9007199254740993;

Summary makeSummary(const QString &agent, Instant timestamp, const Topics &topics,
                    const QStringList &facts = {})
{
    Summary s;
    s.agentId = agent;
    s.timestamp = timestamp;
    s.topicCounts = topics;
    s.factHashes = facts;
    return s;
}

// Pushes committed by the server's write path (writersupport.h), from 127.0.0.1.
using Push = StoredPush;

StoreUrl fileUrl(const QTemporaryDir &dir, const QString &name = QStringLiteral("agmem.db"))
{
    StoreUrl url;
    url.kind = StoreUrl::Kind::SqliteFile;
    url.path = dir.filePath(name);
    return url;
}

// PostgreSQL databases of the running test, by name; dropped in cleanup().
QHash<QString, StoreUrl> pgDatabases;

// The database called `name` of the running test: a SQLite file in `dir`, or a fresh
// PostgreSQL database (created on first use) when the suite runs against PostgreSQL.
StoreUrl testUrl(const QTemporaryDir &dir, const QString &name = QStringLiteral("agmem.db"))
{
    if (!test::postgresBackend())
        return fileUrl(dir, name);
    const auto it = pgDatabases.constFind(name);
    if (it != pgDatabases.cend())
        return *it;
    QString error;
    const std::optional<StoreUrl> url = test::createDatabase(&error);
    if (!url) {
        qWarning().noquote() << error;
        return {};
    }
    pgDatabases.insert(name, *url);
    return *url;
}

// A text array as stored: a JSON array in SQLite, a TEXT[] in PostgreSQL.
QStringList storedArray(const QVariant &value)
{
    if (test::postgresBackend())
        return SqlDialect(StoreUrl::Kind::PostgreSql).decodeTextArray(value.toString());
    QStringList out;
    const QJsonDocument doc = QJsonDocument::fromJson(value.toString().toUtf8());
    if (!doc.isArray())
        return {u"<not a JSON array: "_s + value.toString() + u'>'};
    for (const QJsonValue &v : doc.array())
        out.append(v.toString());
    return out;
}

std::unique_ptr<Store> openStore(const StoreUrl &url, const StoreOptions &options = {})
{
    QString error;
    std::unique_ptr<Store> store = Store::open(url, options, &error);
    if (!store)
        qWarning().noquote() << "Store::open failed:" << error;
    return store;
}

// The same pushes written two ways, to compare: "batched.db" through the SQLite library
// directly (the default where it can be reached), "single.db" through QSqlQuery.
struct DirectAndViaQt
{
    std::unique_ptr<Store> batched;
    std::unique_ptr<Store> single;
};

DirectAndViaQt openDirectAndViaQt(const QTemporaryDir &dir)
{
    StoreOptions viaQt;
    viaQt.directSqlite = false;
    return {openStore(testUrl(dir, u"batched.db"_s)),
            openStore(testUrl(dir, u"single.db"_s), viaQt)};
}

QVariant scalar(const QSqlDatabase &db, const QString &sql)
{
    QSqlQuery q(db);
    if (!q.exec(sql) || !q.next()) {
        qWarning().noquote() << "query failed:" << sql << q.lastError().text();
        return {};
    }
    return q.value(0);
}

// Every row of a table, every column, NULLs marked: "exactly as before" means equal dumps.
QStringList dumpTable(const QSqlDatabase &db, const QString &table)
{
    QStringList rows;
    QSqlQuery q(db);
    const QString order = db.driverName() == u"QPSQL" ? u"1"_s : u"rowid"_s;
    if (!q.exec(u"SELECT * FROM "_s + table + u" ORDER BY "_s + order)) {
        rows.append(u"<query failed: "_s + q.lastError().text() + u'>');
        return rows;
    }
    while (q.next()) {
        QStringList cells;
        for (int i = 0; i < q.record().count(); ++i)
            cells.append(q.isNull(i) ? QStringLiteral("<null>") : q.value(i).toString());
        rows.append(cells.join(u'|'));
    }
    return rows;
}

QStringList dumpStore(const QSqlDatabase &db)
{
    QStringList all;
    for (const QString &table : {u"summaries"_s, u"agents"_s, u"coordinator_state"_s}) {
        all.append(u"== "_s + table);
        all.append(dumpTable(db, table));
    }
    return all;
}

// A plain QSqlDatabase connection to the database, beside (or without) a Store.
class RawDb
{
public:
    explicit RawDb(const StoreUrl &url)
        : m_name(QStringLiteral("tst-store-raw-%1").arg(++s_counter))
    {
        if (url.kind == StoreUrl::Kind::PostgreSql) {
            QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), m_name);
            db.setHostName(url.host);
            db.setPort(url.port);
            db.setUserName(url.user);
            db.setPassword(url.password);
            db.setDatabaseName(url.database);
            db.setConnectOptions(url.connectOptions);
            db.open();
            return;
        }
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), m_name);
        db.setDatabaseName(url.path);
        db.open();
    }
    ~RawDb()
    {
        {
            QSqlDatabase db = QSqlDatabase::database(m_name, false);
            db.close();
        }
        QSqlDatabase::removeDatabase(m_name);
    }
    RawDb(const RawDb &) = delete;
    RawDb &operator=(const RawDb &) = delete;

    QSqlDatabase db() const { return QSqlDatabase::database(m_name, false); }
    bool exec(const QString &sql) const
    {
        QSqlQuery q(db());
        if (!q.exec(sql)) {
            qWarning().noquote() << "raw statement failed:" << sql << q.lastError().text();
            return false;
        }
        return true;
    }

private:
    static inline int s_counter = 0;
    QString m_name;
};

bool installBoomTriggers(const QSqlDatabase &db)
{
    QSqlQuery q(db);
    if (db.driverName() == u"QPSQL") {
        return q.exec(QStringLiteral(
                   "CREATE FUNCTION boom() RETURNS trigger AS $$ BEGIN "
                   "IF NEW.agent_id = 'boom' THEN RAISE EXCEPTION 'boom trigger'; END IF; "
                   "RETURN NEW; END $$ LANGUAGE plpgsql")) &&
               q.exec(QStringLiteral("CREATE TRIGGER boom BEFORE INSERT OR UPDATE ON agents "
                                     "FOR EACH ROW EXECUTE FUNCTION boom()"));
    }
    return q.exec(QStringLiteral("CREATE TRIGGER boom_insert BEFORE INSERT ON agents "
                                 "WHEN NEW.agent_id = 'boom' "
                                 "BEGIN SELECT RAISE(ABORT, 'boom trigger'); END")) &&
           q.exec(QStringLiteral("CREATE TRIGGER boom_update BEFORE UPDATE ON agents "
                                 "WHEN NEW.agent_id = 'boom' "
                                 "BEGIN SELECT RAISE(ABORT, 'boom trigger'); END"));
}

// Empty when the two engines hold the same agents with the same state.
QString agentDiff(const MergeEngine &a, const MergeEngine &b)
{
    if (a.agents().size() != b.agents().size())
        return QStringLiteral("agent counts differ: %1 vs %2")
            .arg(a.agents().size())
            .arg(b.agents().size());
    for (const AgentState &x : a.agents()) {
        const auto it = b.agents().constFind(x.agentId);
        if (it == b.agents().cend())
            return u"missing agent "_s + x.agentId;
        const AgentState &y = *it;
        if (x.current != y.current)
            return u"contribution differs for "_s + x.agentId;
        if (x.pushCount != y.pushCount || x.firstSeen != y.firstSeen || x.lastSeen != y.lastSeen ||
            x.sequence != y.sequence)
            return QStringLiteral("counters differ for %1: push %2/%3 first %4/%5 last %6/%7 "
                                  "seq %8/%9")
                .arg(x.agentId)
                .arg(x.pushCount)
                .arg(y.pushCount)
                .arg(x.firstSeen)
                .arg(y.firstSeen)
                .arg(x.lastSeen)
                .arg(y.lastSeen)
                .arg(x.sequence)
                .arg(y.sequence);
    }
    return {};
}

QJsonObject topicsJson(const Topics &topics)
{
    QJsonObject o;
    for (const auto &[topic, count] : topics)
        o.insert(topic, count);
    return o;
}

QByteArray pushBody(const QString &agent, Instant timestamp, const Topics &topics,
                    const QStringList &facts = {})
{
    const QJsonObject summary{
        {QStringLiteral("agent_id"), agent},
        {QStringLiteral("timestamp"), formatIsoTimestamp(timestamp)},
        {QStringLiteral("topic_counts"), topicsJson(topics)},
        {QStringLiteral("fact_hashes"), QJsonArray::fromStringList(facts)},
    };
    return QJsonDocument(QJsonObject{{QStringLiteral("summary"), summary}})
        .toJson(QJsonDocument::Compact);
}

HttpRequest postPush(const QByteArray &body)
{
    HttpRequest r;
    r.method = QByteArrayLiteral("POST");
    r.path = QStringLiteral("/push");
    r.headers = {{QByteArrayLiteral("Content-Type"), QByteArrayLiteral("application/json")}};
    r.body = body;
    r.peer = QHostAddress::LocalHost;
    return r;
}

HttpRequest getPull()
{
    HttpRequest r;
    r.method = QByteArrayLiteral("GET");
    r.path = QStringLiteral("/pull");
    r.peer = QHostAddress::LocalHost;
    return r;
}

QByteArray headerOf(const HttpReply &reply, QByteArrayView name)
{
    for (const auto &[key, value] : reply.headers) {
        if (key.compare(name, Qt::CaseInsensitive) == 0)
            return value;
    }
    return {};
}

// Sends a request and returns its reply, flushing pushes so they are answered (and waiting
// for a /pull answer built on the answer's worker thread).
std::optional<HttpReply> roundTrip(CoordinatorApi &api, const HttpRequest &request)
{
    auto reply = std::make_shared<std::optional<HttpReply>>();
    api.handle(request, [reply](const HttpReply &r) { *reply = r; });
    api.flushPushes();
    QDeadlineTimer deadline(30000);
    while (!*reply && !deadline.hasExpired())
        QCoreApplication::processEvents(QEventLoop::AllEvents, 50);
    return *reply;
}

// A reply's body, whether whole or in pieces (/pull).
QByteArray bodyOf(const HttpReply &reply)
{
    QByteArray out = reply.body;
    for (const QByteArray &piece : reply.bodyPieces)
        out.append(piece);
    return out;
}

} // namespace

class TstStore : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void cleanup();

    void freshOpenCreatesSchema_data();
    void freshOpenCreatesSchema();
    void reopenRestoresEverything();
    void failedPushLeavesNothing_data();
    void failedPushLeavesNothing();
    void failedBatchThroughApi_data();
    void failedBatchThroughApi();
    void writerFoundDamageMakesUnhealthy();
    void writerBatchesPlanOnCommittedView();
    void writerCountsPushesPerCommit();
    void textArraysAsJsonWriterWritesThem();
    void batchStoresTheRowsOfSinglePushes();
    void batchOfManyAgentsStoresEveryRowInOrder();
    void walBufferedCommitsReachOtherConnections();
    void damageFoundByAPushStatement_data();
    void damageFoundByAPushStatement();
    void readsDoNotWaitForCommits();
    void writerWithoutThread();
    void writerResetAndRemove();
    void historyByAgentFollowsItsChain_data();
    void historyByAgentFollowsItsChain();
    void upgradesVersion1Database();
    void refusesNewerSchema();
    void refusesNonDatabaseFile_data();
    void refusesNonDatabaseFile();
    void refusesForeignDatabase();
    void adoptMergeModeRecomputesFromHistory();
    void loadReadsAnyStoredArray_data();
    void loadReadsAnyStoredArray();
    void deleteEverythingEmptiesTheStore();
    void memoryStoreIsSharedWhileOpen();
    void parseStoreUrl_data();
    void parseStoreUrl();
};

void TstStore::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
    QVERIFY(QSqlDatabase::isDriverAvailable(QStringLiteral("QSQLITE")));
    if (test::postgresBackend())
        AGMEM_REQUIRE_POSTGRES();
}

void TstStore::cleanup()
{
    for (const StoreUrl &url : std::as_const(pgDatabases))
        test::dropDatabase(url);
    pgDatabases.clear();
}

#define SQLITE_ONLY(why)                                                                           \
    do {                                                                                           \
        if (test::postgresBackend())                                                               \
            QSKIP("SQLite only: " why);                                                            \
    } while (false)

void TstStore::freshOpenCreatesSchema_data()
{
    QTest::addColumn<int>("durability");
    QTest::addColumn<int>("synchronous");

    QTest::addRow("default is FULL") << -1 << 2;
    QTest::addRow("Durability::Full") << int(Durability::Full) << 2;
    QTest::addRow("Durability::Normal") << int(Durability::Normal) << 1;
}

void TstStore::freshOpenCreatesSchema()
{
    QFETCH(int, durability);
    QFETCH(int, synchronous);

    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    // A missing folder is created as well.
    const StoreUrl url = testUrl(dir, QStringLiteral("sub/dir/agmem.db"));
    StoreOptions options;
    if (durability >= 0)
        options.durability = Durability(durability);

    QString databaseId;
    {
        const std::unique_ptr<Store> store = openStore(url, options);
        QVERIFY(store);
        QVERIFY(test::postgresBackend() || QFile::exists(url.path));
        const QSqlDatabase db = store->database();

        const QStringList tables = test::storeTables(db);
        for (const QString &table :
             {u"schema_info"_s, u"summaries"_s, u"agents"_s, u"coordinator_state"_s})
            QVERIFY2(tables.contains(table), qPrintable(table));
        QCOMPARE(scalar(db, QStringLiteral("SELECT MAX(version) FROM schema_info")).toInt(),
                 Store::SchemaVersion);
        // One row per migration step that ran.
        QCOMPARE(scalar(db, QStringLiteral("SELECT COUNT(*) FROM schema_info")).toInt(),
                 Store::SchemaVersion);

        const std::optional<StoreState> state = store->readState();
        QVERIFY(state);
        QVERIFY(!state->databaseId.isEmpty());
        QVERIFY(!QUuid::fromString(state->databaseId).isNull());
        QCOMPARE(state->sequence, quint64(0));
        QCOMPARE(state->totalPushes, qint64(0));
        QCOMPARE(state->mergeMode, QStringLiteral("latest"));
        databaseId = state->databaseId;

        if (!test::postgresBackend()) {
            QCOMPARE(scalar(db, QStringLiteral("PRAGMA journal_mode")).toString().toLower(),
                     QStringLiteral("wal"));
            QCOMPARE(scalar(db, QStringLiteral("PRAGMA synchronous")).toInt(), synchronous);
            // The writer's checkpoint interval (store.cpp, configure()).
            QCOMPARE(scalar(db, QStringLiteral("PRAGMA wal_autocheckpoint")).toInt(), 4000);
            // The window's store reader reads the agents changed since a sequence.
            QCOMPARE(scalar(db, QStringLiteral("SELECT group_concat(name) FROM (SELECT name "
                                               "FROM sqlite_master WHERE type = 'index' AND "
                                               "name LIKE 'idx_%' ORDER BY name)"))
                         .toString(),
                     QStringLiteral("idx_agents_sequence"));
        } else {
            // The catch-up from other instances reads the agents by sequence.
            QCOMPARE(scalar(db, QStringLiteral("SELECT string_agg(indexname, ',' ORDER BY "
                                               "indexname) FROM pg_indexes WHERE schemaname = "
                                               "current_schema() AND indexname LIKE 'idx_%'"))
                         .toString(),
                     QStringLiteral("idx_agents_sequence"));
        }
        QVERIFY(store->ping());

        MergeEngine engine;
        QVERIFY(store->loadAgents(engine));
        QCOMPARE(engine.agentCount(), 0);
    }

    // Reopening migrates nothing and keeps the identity.
    {
        const std::unique_ptr<Store> store = openStore(url, options);
        QVERIFY(store);
        const std::optional<StoreState> state = store->readState();
        QVERIFY(state);
        QCOMPARE(state->databaseId, databaseId);
        QCOMPARE(
            scalar(store->database(), QStringLiteral("SELECT COUNT(*) FROM schema_info")).toInt(),
            Store::SchemaVersion);
        if (!test::postgresBackend())
            QCOMPARE(scalar(store->database(), QStringLiteral("PRAGMA synchronous")).toInt(),
                     synchronous);
    }

    // Another new database gets another identity.
    const std::unique_ptr<Store> other = openStore(testUrl(dir, QStringLiteral("other.db")));
    QVERIFY(other);
    QVERIFY(other->readState());
    QVERIFY(other->readState()->databaseId != databaseId);
}

void TstStore::reopenRestoresEverything()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const StoreUrl url = testUrl(dir);

    Summary withExtras =
        makeSummary(u"agent-b"_s, BaseTime + 5 * Second + 123456, {{u"python"_s, 1}});
    withExtras.metadata = QJsonObject{{u"host"_s, u"laptop"_s}, {u"n"_s, 1}};
    withExtras.hasMetadata = true;
    withExtras.memoryTypes = QJsonArray{u"episodic"_s, u"semantic"_s};
    withExtras.hasMemoryTypes = true;

    const Summary cFirst = makeSummary(u"agent-c"_s, BaseTime + 3 * Second, {}, {u"only-fact"_s});
    const QList<Push> pushes = {
        // 1: a new agent, unicode topic, a fact with quotes and a backslash.
        {makeSummary(u"agent-a"_s, BaseTime + Second,
                     {{u"python"_s, 3}, {u"na\u00efve \u2603"_s, 1}},
                     {u"fact-1"_s, u"fact \"2\" \\"_s}),
         Received + 10},
        // 2: newer, replaces it; an astral fact and a count beyond 2^53.
        {makeSummary(u"agent-a"_s, BaseTime + 2 * Second, {{u"rust"_s, BigCount}, {u"python"_s, 4}},
                     {u"\U0001D11E astral"_s, u"fact-1"_s}),
         Received + 20},
        // 3: older than the current one: history only; received earlier than push 2.
        {makeSummary(u"agent-a"_s, BaseTime, {{u"old"_s, 1}}), Received + 15},
        // 4: metadata and memory types are kept in history.
        {withExtras, Received + 30},
        // 5 and 6: the same summary twice: counted twice, merged once.
        {cFirst, Received + 40},
        {cFirst, Received + 50},
    };

    MergeEngine engine;
    QByteArray pullBefore;
    {
        const std::unique_ptr<Store> store = openStore(url);
        QVERIFY(store);
        // Two transactions, as two batches would be.
        QVERIFY(commitPushes(*store, engine, pushes.mid(0, 3)));
        QVERIFY(commitPushes(*store, engine, pushes.mid(3)));
        QCOMPARE(engine.sequence(), quint64(4));
        pullBefore = engine.pullJson();
    }

    const std::unique_ptr<Store> store = openStore(url);
    QVERIFY(store);
    const QSqlDatabase db = store->database();

    // State.
    const std::optional<StoreState> state = store->readState();
    QVERIFY(state);
    QCOMPARE(state->sequence, quint64(4));
    QCOMPARE(state->totalPushes, qint64(6));
    QCOMPARE(state->mergeMode, QStringLiteral("latest"));

    // History: every push, in order, as sent.
    {
        QSqlQuery q(db);
        // PostgreSQL's TIMESTAMPTZ comes back as a QDateTime (milliseconds): read the
        // microseconds it holds.
        const QString timestamp = test::postgresBackend()
                                      ? u"CAST(EXTRACT(EPOCH FROM timestamp) * 1000000 AS BIGINT)"_s
                                      : u"timestamp"_s;
        QVERIFY(q.exec(u"SELECT agent_id, "_s + timestamp +
                       u", timestamp_us, topic_counts, fact_hashes, metadata, "
                       "memory_types, source, received_us FROM summaries ORDER BY id"_s));
        int row = 0;
        while (q.next()) {
            QVERIFY(row < pushes.size());
            const Summary &s = pushes.at(row).summary;
            QCOMPARE(q.value(0).toString(), s.agentId);
            if (test::postgresBackend())
                QCOMPARE(q.value(1).toLongLong(), s.timestamp);
            else
                QCOMPARE(parseIsoTimestamp(q.value(1).toString()),
                         std::optional<Instant>(s.timestamp));
            QCOMPARE(q.value(2).toLongLong(), s.timestamp);
            const QJsonDocument topics = QJsonDocument::fromJson(q.value(3).toString().toUtf8());
            QVERIFY(topics.isObject());
            QCOMPARE(topics.object().size(), s.topicCounts.size());
            for (const auto &[topic, count] : s.topicCounts)
                QCOMPARE(topics.object().value(topic).toInteger(), count);
            QCOMPARE(storedArray(q.value(4)), s.factHashes);
            if (s.hasMetadata)
                QCOMPARE(QJsonDocument::fromJson(q.value(5).toString().toUtf8()).object(),
                         s.metadata);
            else
                QVERIFY(q.isNull(5));
            if (s.hasMemoryTypes)
                QCOMPARE(QJsonDocument::fromJson(q.value(6).toString().toUtf8()).array(),
                         s.memoryTypes);
            else
                QVERIFY(q.isNull(6));
            QCOMPARE(q.value(7).toString(), QStringLiteral("127.0.0.1"));
            QCOMPARE(q.value(8).toLongLong(), pushes.at(row).receivedAt);
            ++row;
        }
        QCOMPARE(row, pushes.size());
    }

    // Agents: counters and the current contribution.
    {
        struct Expected
        {
            QString id;
            qint64 pushCount;
            Instant firstSeen;
            Instant lastSeen;
            Instant current;
            QJsonObject topics;
            QStringList facts; // sorted by code point
            quint64 sequence;
        };
        const QList<Expected> expected = {
            {u"agent-a"_s,
             3,
             Received + 10,
             Received + 20,
             BaseTime + 2 * Second,
             QJsonObject{{u"python"_s, 4}, {u"rust"_s, BigCount}},
             {u"fact-1"_s, u"\U0001D11E astral"_s},
             2},
            {u"agent-b"_s,
             1,
             Received + 30,
             Received + 30,
             BaseTime + 5 * Second + 123456,
             QJsonObject{{u"python"_s, 1}},
             {},
             3},
            {u"agent-c"_s,
             2,
             Received + 40,
             Received + 50,
             BaseTime + 3 * Second,
             QJsonObject{},
             {u"only-fact"_s},
             4},
        };
        QCOMPARE(scalar(db, QStringLiteral("SELECT COUNT(*) FROM agents")).toInt(),
                 expected.size());
        for (const Expected &e : expected) {
            QSqlQuery q(db);
            QVERIFY(q.prepare(QStringLiteral(
                "SELECT push_count, first_seen_us, last_seen_us, current_timestamp_us, "
                "topic_counts, fact_hashes, sequence FROM agents WHERE agent_id = ?")));
            q.addBindValue(e.id);
            QVERIFY(q.exec());
            QVERIFY2(q.next(), qPrintable(e.id));
            QCOMPARE(q.value(0).toLongLong(), e.pushCount);
            QCOMPARE(q.value(1).toLongLong(), e.firstSeen);
            QCOMPARE(q.value(2).toLongLong(), e.lastSeen);
            QCOMPARE(q.value(3).toLongLong(), e.current);
            const QJsonObject topics =
                QJsonDocument::fromJson(q.value(4).toString().toUtf8()).object();
            QCOMPARE(topics.keys(), e.topics.keys());
            for (auto it = e.topics.begin(); it != e.topics.end(); ++it)
                QCOMPARE(topics.value(it.key()).toInteger(), it.value().toInteger());
            QCOMPARE(storedArray(q.value(5)), e.facts);
            QCOMPARE(q.value(6).toULongLong(), e.sequence);
        }
    }

    // The merged view comes back byte for byte, and the agents with it.
    MergeEngine reloaded;
    QVERIFY(store->loadAgents(reloaded));
    reloaded.setSequence(state->sequence);
    const QString diff = agentDiff(engine, reloaded);
    QVERIFY2(diff.isEmpty(), qPrintable(diff));
    QCOMPARE(reloaded.topicTotals().at(u"rust"_s).total, BigCount);
    QCOMPARE(reloaded.topicTotals().at(u"python"_s).total, qint64(5));
    QCOMPARE(reloaded.pullJson(), pullBefore);

    // Catch-up loading: only agents changed after a sequence.
    MergeEngine partial;
    QVERIFY(store->loadAgents(partial, 3));
    QCOMPARE(partial.agentCount(), 1);
    QVERIFY(partial.agents().contains(u"agent-c"_s));
}

void TstStore::failedPushLeavesNothing_data()
{
    QTest::addColumn<bool>("boomExists");
    QTest::addColumn<qint64>("boomTimestamp");

    // INSERT path (new agent), upsert of an existing agent, and the stale-push UPDATE path.
    QTest::addRow("new agent") << false << BaseTime + 10 * Second;
    QTest::addRow("existing agent, newer summary") << true << BaseTime + 10 * Second;
    QTest::addRow("existing agent, stale summary") << true << BaseTime - 10 * Second;
}

void TstStore::failedPushLeavesNothing()
{
    QFETCH(bool, boomExists);
    QFETCH(qint64, boomTimestamp);

    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const StoreUrl url = testUrl(dir);
    const std::unique_ptr<Store> store = openStore(url);
    QVERIFY(store);
    const QSqlDatabase db = store->database();

    MergeEngine engine;
    QList<Push> setup = {
        {makeSummary(u"agent-a"_s, BaseTime, {{u"python"_s, 2}}, {u"f1"_s}), Received + 1}};
    if (boomExists)
        setup.append({makeSummary(u"boom"_s, BaseTime, {{u"go"_s, 1}}), Received + 2});
    QVERIFY(commitPushes(*store, engine, setup));

    QVERIFY(installBoomTriggers(db));
    const QStringList before = dumpStore(db);
    const std::optional<StoreState> stateBefore = store->readState();
    QVERIFY(stateBefore);
    const qint64 summariesBefore =
        scalar(db, QStringLiteral("SELECT COUNT(*) FROM summaries")).toLongLong();

    // One transaction: a good push, then one whose agent write fails after its history
    // row went in.
    const Summary good = makeSummary(u"agent-a"_s, BaseTime + Second, {{u"python"_s, 7}});
    const Summary boom = makeSummary(u"boom"_s, boomTimestamp, {{u"go"_s, 9}});
    QVERIFY(store->beginWrite());
    quint64 sequence = engine.sequence();
    const MergeEngine::Plan goodPlan = engine.plan(good);
    QVERIFY(goodPlan.changesMerge());
    QVERIFY(store->recordPush(good, Received + 100, u"127.0.0.1"_s, goodPlan.next, ++sequence));
    // Through QSqlQuery the history row is in now; through SQLite directly it waits for the
    // transaction's state write (one INSERT for the batch's rows): either way, the rollback
    // below must leave none.
    QCOMPARE(scalar(db, QStringLiteral("SELECT COUNT(*) FROM summaries")).toLongLong(),
             summariesBefore + (store->writesDirectly() ? 0 : 1));
    const MergeEngine::Plan boomPlan = engine.plan(boom);
    QCOMPARE(boomPlan.changesMerge(), boomTimestamp > BaseTime);
    const bool recorded = store->recordPush(boom, Received + 101, u"127.0.0.1"_s, boomPlan.next,
                                            boomPlan.changesMerge() ? sequence + 1 : sequence);
    QVERIFY(!recorded);
    QVERIFY2(store->lastError().contains(u"boom trigger"_s), qPrintable(store->lastError()));
    store->rollback();

    // Nothing of the transaction is left, on this connection or another one.
    QCOMPARE(dumpStore(db), before);
    const std::optional<StoreState> stateAfter = store->readState();
    QVERIFY(stateAfter);
    QCOMPARE(stateAfter->sequence, stateBefore->sequence);
    QCOMPARE(stateAfter->totalPushes, stateBefore->totalPushes);
    {
        RawDb raw(url);
        QCOMPARE(dumpStore(raw.db()), before);
    }

    // The connection and its prepared statements still work afterwards.
    QVERIFY(commitPushes(
        *store, engine,
        {{makeSummary(u"agent-a"_s, BaseTime + 2 * Second, {{u"python"_s, 8}}), Received + 200}}));
    QCOMPARE(scalar(db, QStringLiteral("SELECT COUNT(*) FROM summaries")).toLongLong(),
             summariesBefore + 1);
    QCOMPARE(store->readState()->sequence, stateBefore->sequence + 1);
    QCOMPARE(store->readState()->totalPushes, stateBefore->totalPushes + 1);
    MergeEngine reloaded;
    QVERIFY(store->loadAgents(reloaded));
    QCOMPARE(reloaded.topicTotals().at(u"python"_s).total, qint64(8));
}

void TstStore::writerFoundDamageMakesUnhealthy()
{
    // The writer's connection finds the file damaged (here: told so, as SQLite would on a
    // damaged page): /health, answered from the HTTP thread's own read-only connection,
    // must say unhealthy as well, and nothing more is acknowledged.
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    ServerConfig config;
    config.store = testUrl(dir);
    config.accessLog = false;
    QString error;
    const std::unique_ptr<CoordinatorApi> api = CoordinatorApi::create(config, &error);
    QVERIFY2(api, qPrintable(error));
    std::optional<HttpReply> pushed =
        roundTrip(*api, postPush(pushBody(u"agent-a"_s, BaseTime, {{u"python"_s, 2}})));
    QVERIFY(pushed);
    QCOMPARE(pushed->status, 200);
    HttpRequest health = getPull();
    health.path = QStringLiteral("/health");
    std::optional<HttpReply> healthy = roundTrip(*api, health);
    QVERIFY(healthy);
    QCOMPARE(healthy->status, 200);

    api->writerThread().call([](CoordinatorWriter &w) {
        w.store().markCorrupted(QStringLiteral("database disk image is malformed"));
        return true;
    });
    const QStringList storeBefore = dumpStore(RawDb(config.store).db());
    pushed = roundTrip(*api, postPush(pushBody(u"agent-b"_s, BaseTime, {{u"rust"_s, 1}})));
    QVERIFY(pushed);
    QCOMPARE(pushed->status, 503);
    QCOMPARE(dumpStore(RawDb(config.store).db()), storeBefore);

    const std::optional<HttpReply> unhealthy = roundTrip(*api, health);
    QVERIFY(unhealthy);
    QCOMPARE(unhealthy->status, 503);
    const QJsonObject body = QJsonDocument::fromJson(unhealthy->body).object();
    QCOMPARE(body.value(u"status"_s).toString(), u"unhealthy"_s);
    QVERIFY2(body.value(u"detail"_s).toString().contains(u"damaged"_s),
             unhealthy->body.constData());
}

void TstStore::failedBatchThroughApi_data()
{
    QTest::addColumn<bool>("boomFirst");

    QTest::addRow("good push, then boom") << false;
    QTest::addRow("boom, then good push") << true;
}

void TstStore::failedBatchThroughApi()
{
    QFETCH(bool, boomFirst);

    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    ServerConfig config;
    config.store = testUrl(dir);
    config.accessLog = false;
    config.writerThread = true; // held busy below, as during a long fsync
    QString error;
    const std::unique_ptr<CoordinatorApi> api = CoordinatorApi::create(config, &error);
    QVERIFY2(api, qPrintable(error));

    // Something in the store first.
    std::optional<HttpReply> first =
        roundTrip(*api, postPush(pushBody(u"agent-a"_s, BaseTime, {{u"python"_s, 2}}, {u"f1"_s})));
    QVERIFY(first);
    QCOMPARE(first->status, 200);

    // A connection of the test's own: the server's are in its threads (and read-only here).
    RawDb raw(config.store);
    const QSqlDatabase db = raw.db();
    QVERIFY(db.isOpen());
    QVERIFY(installBoomTriggers(db));
    const QByteArray engineBefore = api->engine().pullJson();
    const std::optional<HttpReply> pullBefore = roundTrip(*api, getPull());
    QVERIFY(pullBefore);
    QCOMPARE(pullBefore->status, 200);
    const QByteArray etagBefore = headerOf(*pullBefore, "ETag");
    QVERIFY(!etagBefore.isEmpty());
    const QStringList storeBefore = dumpStore(db);

    // One batch: both pushes wait for the commit, which fails. The writer is held busy
    // until both are queued, so they are committed together.
    QSemaphore hold;
    api->writerThread().submit(
        [&hold](CoordinatorWriter &) {
            hold.acquire();
            return true;
        },
        [](bool) {});
    std::optional<HttpReply> goodReply;
    std::optional<HttpReply> boomReply;
    const HttpRequest good = postPush(
        pushBody(u"agent-a"_s, BaseTime + Second, {{u"python"_s, 5}, {u"rust"_s, 1}}, {u"f2"_s}));
    const HttpRequest boom = postPush(pushBody(u"boom"_s, BaseTime, {{u"go"_s, 3}}));
    const auto sendGood = [&] { api->handle(good, [&](const HttpReply &r) { goodReply = r; }); };
    const auto sendBoom = [&] { api->handle(boom, [&](const HttpReply &r) { boomReply = r; }); };
    if (boomFirst) {
        sendBoom();
        sendGood();
    } else {
        sendGood();
        sendBoom();
    }
    hold.release();
    // Not answered before their commit (answers are delivered in this thread's event loop).
    QVERIFY(!goodReply);
    QVERIFY(!boomReply);
    api->flushPushes();

    for (const auto &[name, reply] : {std::pair{"good", goodReply}, std::pair{"boom", boomReply}}) {
        QVERIFY2(reply, name);
        QCOMPARE(reply->status, 503);
        QVERIFY(headerOf(*reply, "Content-Type").startsWith("application/json"));
        const QJsonDocument body = QJsonDocument::fromJson(reply->body);
        QVERIFY2(body.isObject(), reply->body.constData());
        const QJsonValue detail = body.object().value(u"detail");
        QVERIFY2(detail.isString(), reply->body.constData());
        QVERIFY2(detail.toString().contains(u"nothing was stored"_s), reply->body.constData());
    }

    // The merged view, /pull (body and ETag) and the store are as before.
    QCOMPARE(api->engine().pullJson(), engineBefore);
    QVERIFY(!api->engine().agents().contains(u"boom"_s));
    QCOMPARE(api->engine().agents().value(u"agent-a"_s).pushCount, qint64(1));
    const std::optional<HttpReply> pullAfter = roundTrip(*api, getPull());
    QVERIFY(pullAfter);
    QCOMPARE(pullAfter->status, 200);
    QCOMPARE(bodyOf(*pullAfter), bodyOf(*pullBefore));
    QCOMPARE(bodyOf(*pullAfter), engineBefore);
    QCOMPARE(headerOf(*pullAfter, "ETag"), etagBefore);
    QCOMPARE(dumpStore(db), storeBefore);

    // A normal push afterwards is stored and merged.
    const std::optional<HttpReply> later = roundTrip(*api, good);
    QVERIFY(later);
    QCOMPARE(later->status, 200);
    QCOMPARE(api->engine().topicTotals().at(u"python"_s).total, qint64(5));
    QCOMPARE(api->engine().topicTotals().at(u"rust"_s).total, qint64(1));
    const std::optional<HttpReply> pullLater = roundTrip(*api, getPull());
    QVERIFY(pullLater);
    QVERIFY(bodyOf(*pullLater) != bodyOf(*pullBefore));
    QCOMPARE(bodyOf(*pullLater), api->engine().buildPullJson());
    QVERIFY(headerOf(*pullLater, "ETag") != etagBefore);
    QCOMPARE(scalar(db, QStringLiteral("SELECT COUNT(*) FROM summaries")).toInt(), 2);
    const std::optional<StoreState> state = api->store().readState();
    QVERIFY(state);
    QCOMPARE(state->sequence, api->engine().sequence());
    QCOMPARE(state->totalPushes, qint64(2));
    QCOMPARE(scalar(db, QStringLiteral("SELECT push_count FROM agents WHERE agent_id = 'agent-a'"))
                 .toInt(),
             2);
    QVERIFY(!scalar(db, QStringLiteral("SELECT COUNT(*) FROM agents WHERE agent_id = 'boom'"))
                 .toBool());
}

void TstStore::upgradesVersion1Database()
{
    // A database written by the first release (schema version 1, frozen): later
    // versions must open it, migrate it and keep every row.
    SQLITE_ONLY("the first release wrote SQLite only");
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const StoreUrl url = fileUrl(dir, QStringLiteral("v1.db"));
    {
        RawDb raw(url);
        const QStringList v1 = {
            u"CREATE TABLE schema_info (version INTEGER NOT NULL)"_s,
            u"CREATE TABLE coordinator_state (id INTEGER PRIMARY KEY CHECK (id = 1), "
            "database_id TEXT NOT NULL, sequence BIGINT NOT NULL, total_pushes BIGINT NOT NULL, "
            "merge_mode TEXT NOT NULL)"_s,
            u"CREATE TABLE summaries (id INTEGER PRIMARY KEY AUTOINCREMENT, agent_id "
            "VARCHAR(255) NOT NULL, timestamp TEXT NOT NULL, timestamp_us BIGINT NOT NULL, "
            "topic_counts TEXT NOT NULL, fact_hashes TEXT NOT NULL, metadata TEXT, memory_types "
            "TEXT, source TEXT, created_at TEXT NOT NULL, received_us BIGINT NOT NULL)"_s,
            u"CREATE INDEX idx_agent_id ON summaries (agent_id, id)"_s,
            u"CREATE INDEX idx_timestamp ON summaries (timestamp_us)"_s,
            u"CREATE TABLE agents (agent_id VARCHAR(255) PRIMARY KEY, first_seen_us BIGINT NOT "
            "NULL, last_seen_us BIGINT NOT NULL, push_count BIGINT NOT NULL, "
            "current_timestamp_us BIGINT, topic_counts TEXT, fact_hashes TEXT, sequence BIGINT "
            "NOT NULL)"_s,
            u"CREATE INDEX idx_agents_sequence ON agents (sequence)"_s,
            u"INSERT INTO schema_info (version) VALUES (1)"_s,
            u"INSERT INTO coordinator_state VALUES (1, '0b7c3a52-1f7e-4c1e-9a53-3f0e2a9d6c11', "
            "1, 1, 'latest')"_s,
            u"INSERT INTO summaries (agent_id, timestamp, timestamp_us, topic_counts, "
            "fact_hashes, metadata, memory_types, source, created_at, received_us) VALUES "
            "('old-agent', '2025-01-01T00:00:00+00:00', 1735689600000000, '{\"x\":4}', "
            "'[\"f\"]', NULL, NULL, '127.0.0.1', '2026-01-01T00:00:00+00:00', "
            "1767225600000000)"_s,
            u"INSERT INTO summaries (agent_id, timestamp, timestamp_us, topic_counts, "
            "fact_hashes, metadata, memory_types, source, created_at, received_us) VALUES "
            "('other', '2025-01-01T00:00:00+00:00', 1735689600000000, '{\"y\":1}', "
            "'[]', NULL, NULL, '127.0.0.1', '2026-01-01T00:00:00+00:00', "
            "1767225600000000)"_s,
            u"INSERT INTO summaries (agent_id, timestamp, timestamp_us, topic_counts, "
            "fact_hashes, metadata, memory_types, source, created_at, received_us) VALUES "
            "('old-agent', '2025-01-01T00:00:00+00:00', 1735689600000000, '{\"x\":4}', "
            "'[\"f\"]', NULL, NULL, '127.0.0.1', '2026-01-01T00:00:00+00:00', "
            "1767225600000000)"_s,
            u"INSERT INTO agents VALUES ('old-agent', 1767225600000000, 1767225600000000, 2, "
            "1735689600000000, '{\"x\":4}', '[\"f\"]', 1)"_s,
            u"INSERT INTO agents VALUES ('other', 1767225600000000, 1767225600000000, 1, "
            "1735689600000000, '{\"y\":1}', '[]', 1)"_s,
        };
        for (const QString &statement : v1)
            QVERIFY(raw.exec(statement));
    }

    const std::unique_ptr<Store> store = openStore(url);
    QVERIFY(store);
    const QSqlDatabase db = store->database();
    QCOMPARE(scalar(db, QStringLiteral("SELECT MAX(version) FROM schema_info")).toInt(),
             Store::SchemaVersion);
    const std::optional<StoreState> state = store->readState();
    QVERIFY(state);
    QCOMPARE(state->databaseId, QStringLiteral("0b7c3a52-1f7e-4c1e-9a53-3f0e2a9d6c11"));
    QCOMPARE(state->sequence, quint64(1));
    QCOMPARE(state->totalPushes, qint64(1));
    QCOMPARE(state->mergeMode, QStringLiteral("latest"));
    QCOMPARE(scalar(db, QStringLiteral("SELECT COUNT(*) FROM summaries")).toInt(), 3);
    // Version 5 linked each agent's history: every row to the agent's previous one, each
    // agent to its newest.
    QCOMPARE(scalar(db, QStringLiteral("SELECT group_concat(link) FROM (SELECT id || ':' || "
                                       "COALESCE(prev_id, '-') AS link FROM summaries ORDER BY "
                                       "id)"))
                 .toString(),
             QStringLiteral("1:-,2:-,3:1"));
    QCOMPARE(scalar(db, QStringLiteral("SELECT group_concat(tail) FROM (SELECT agent_id || ':' "
                                       "|| history_tail AS tail FROM agents ORDER BY agent_id)"))
                 .toString(),
             QStringLiteral("old-agent:3,other:2"));
    const auto historyIds = [&store](const QString &agent) {
        QList<qint64> ids;
        for (const Store::PushRecord &r :
             store->agentHistoryPage(agent, 100, 0).value_or(QList<Store::PushRecord>{}))
            ids.append(r.id);
        return ids;
    };
    QCOMPARE(historyIds(u"old-agent"_s), (QList<qint64>{3, 1}));
    QCOMPARE(historyIds(u"other"_s), (QList<qint64>{2}));
    // Version 4 dropped the index no query used (every push paid an insert into it), version
    // 5 the index by agent (history goes by each agent's chain); the agents' index by
    // sequence stays.
    QCOMPARE(scalar(db, QStringLiteral("SELECT group_concat(name) FROM (SELECT name FROM "
                                       "sqlite_master WHERE type = 'index' AND name LIKE 'idx_%' "
                                       "ORDER BY name)"))
                 .toString(),
             QStringLiteral("idx_agents_sequence"));

    MergeEngine engine;
    QVERIFY(store->adoptMergeMode(MergeMode::Latest, engine));
    engine.setSequence(state->sequence);
    QCOMPARE(engine.agentCount(), 2);
    QCOMPARE(engine.topicTotals().at(u"x"_s).total, qint64(4));
    QCOMPARE(engine.factHolders().count(u"f"_s), size_t(1));

    // And it takes new pushes, each linked to its agent's history.
    QVERIFY(commitPushes(
        *store, engine,
        {{makeSummary(u"old-agent"_s, BaseTime + Second, {{u"x"_s, 6}}), Received + 1}}));
    QCOMPARE(store->readState()->sequence, quint64(2));
    QCOMPARE(
        scalar(db, QStringLiteral("SELECT push_count FROM agents WHERE agent_id = 'old-agent'"))
            .toInt(),
        3);
    QCOMPARE(historyIds(u"old-agent"_s), (QList<qint64>{4, 3, 1}));
    QCOMPARE(historyIds(u"other"_s), (QList<qint64>{2}));
}

void TstStore::refusesNewerSchema()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const StoreUrl url = testUrl(dir);
    QVERIFY(openStore(url));
    {
        RawDb raw(url);
        QVERIFY(raw.exec(QStringLiteral("INSERT INTO schema_info (version) VALUES (%1)")
                             .arg(Store::SchemaVersion + 1)));
    }
    const QStringList before = [&] {
        RawDb raw(url);
        return dumpTable(raw.db(), QStringLiteral("schema_info")) + dumpStore(raw.db());
    }();

    // A writer would migrate, a reader would misread: both refuse.
    for (const bool readOnly : {false, true}) {
        StoreOptions options;
        options.readOnly = readOnly;
        QString error;
        const std::unique_ptr<Store> store = Store::open(url, options, &error);
        QVERIFY2(!store, readOnly ? "read-only open accepted" : "open accepted");
        QVERIFY2(error.contains(u"newer"_s), qPrintable(error));
        QVERIFY2(error.contains(QString::number(Store::SchemaVersion + 1)), qPrintable(error));
    }

    RawDb raw(url);
    QCOMPARE(dumpTable(raw.db(), QStringLiteral("schema_info")) + dumpStore(raw.db()), before);
}

void TstStore::refusesNonDatabaseFile_data()
{
    QTest::addColumn<QByteArray>("content");

    QByteArray random(16384, '\0');
    QRandomGenerator generator(20250101);
    for (char &c : random)
        c = char(generator.bounded(256));
    QTest::addRow("random bytes") << random;
    QTest::addRow("text file") << QByteArray("name,count\nthis is not a database,1\n").repeated(50);
}

void TstStore::refusesNonDatabaseFile()
{
    QFETCH(QByteArray, content);
    SQLITE_ONLY("a file that is not a database");

    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const StoreUrl url = fileUrl(dir, QStringLiteral("garbage.db"));
    {
        QFile file(url.path);
        QVERIFY(file.open(QIODevice::WriteOnly));
        QCOMPARE(file.write(content), content.size());
    }

    QString error;
    const std::unique_ptr<Store> store = Store::open(url, {}, &error);
    QVERIFY(!store);
    QVERIFY2(error.contains(u"not a database"_s), qPrintable(error));
    QVERIFY2(error.contains(url.path), qPrintable(error));

    // The file is left as it was.
    QFile file(url.path);
    QVERIFY(file.open(QIODevice::ReadOnly));
    QCOMPARE(file.readAll(), content);
    QVERIFY(!QFile::exists(url.path + u"-wal"_s));
}

void TstStore::refusesForeignDatabase()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const StoreUrl url = testUrl(dir, QStringLiteral("someone-else.db"));
    {
        RawDb raw(url);
        QVERIFY(raw.exec(QStringLiteral("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")));
        QVERIFY(raw.exec(QStringLiteral("INSERT INTO users (id, name) VALUES (1, 'alice')")));
    }

    QString error;
    const std::unique_ptr<Store> store = Store::open(url, {}, &error);
    QVERIFY(!store);
    QVERIFY2(error.contains(u"no agmem-coordinator schema"_s), qPrintable(error));

    // Nothing was added to the foreign database.
    RawDb raw(url);
    QCOMPARE(test::storeTables(raw.db()), QStringList{u"users"_s});
    QCOMPARE(dumpTable(raw.db(), QStringLiteral("users")), QStringList{u"1|alice"_s});
}

void TstStore::loadReadsAnyStoredArray_data()
{
    QTest::addColumn<QString>("stored");
    QTest::addColumn<QStringList>("facts");
    // The loads decode compact ASCII arrays without a JSON parser; anything else goes
    // through the general one, and facts stored out of order are sorted.
    QTest::addRow("compact") << uR"(["a1","b2"])"_s << QStringList{u"a1"_s, u"b2"_s};
    QTest::addRow("unsorted") << uR"(["b","a","c"])"_s << QStringList{u"a"_s, u"b"_s, u"c"_s};
    QTest::addRow("spaces") << uR"([ "a" , "b" ])"_s << QStringList{u"a"_s, u"b"_s};
    QTest::addRow("escapes") << uR"(["q\"q","caf\u00e9","\/x","back\\"])"_s
                             << QStringList{u"/x"_s, u"back\\"_s, u"caf\u00e9"_s, u"q\"q"_s};
    QTest::addRow("utf-8") << u"[\"\u00e9\",\"\U0001D11E\",\"a\"]"_s
                           << QStringList{u"a"_s, u"\u00e9"_s, u"\U0001D11E"_s};
    QTest::addRow("empty string") << uR"(["","a"])"_s << QStringList{u""_s, u"a"_s};
    QTest::addRow("empty array") << u"[]"_s << QStringList{};
}

void TstStore::loadReadsAnyStoredArray()
{
    SQLITE_ONLY("the JSON text of SQLite's arrays (PostgreSQL stores TEXT[])");
    QFETCH(QString, stored);
    QFETCH(QStringList, facts);

    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const std::unique_ptr<Store> store = openStore(testUrl(dir));
    QVERIFY(store);
    {
        QSqlQuery q(store->database());
        QVERIFY(q.prepare(u"INSERT INTO agents (agent_id, first_seen_us, last_seen_us, push_count, "
                          "current_timestamp_us, topic_counts, fact_hashes, sequence) "
                          "VALUES ('agent-a', 1, 2, 1, 5, '{\"t\":2}', ?, 1)"_s));
        q.addBindValue(stored);
        QVERIFY2(q.exec(), qPrintable(q.lastError().text()));
        QVERIFY(q.exec(u"UPDATE coordinator_state SET sequence = 1"_s));
    }
    MergeEngine loaded;
    QVERIFY(store->loadAgents(loaded));
    QVERIFY(loaded.agents().contains(u"agent-a"_s));
    const AgentState agent = loaded.agents().value(u"agent-a"_s);
    QVERIFY(agent.current);
    QCOMPARE(agent.current->facts, facts);
    QCOMPARE(agent.current->timestamp, Instant(5));
    QCOMPARE(qsizetype(loaded.factHolders().size()),
             qsizetype(QSet<QString>(facts.cbegin(), facts.cend()).size()));

    // The catch-up's statement reads the same.
    MergeEngine caughtUp;
    const std::optional<StoreState> state = store->loadChanges(caughtUp, 0);
    QVERIFY(state);
    QCOMPARE(state->sequence, quint64(1));
    QVERIFY(caughtUp.agents().contains(u"agent-a"_s));
    QCOMPARE(caughtUp.agents().value(u"agent-a"_s).current->facts, facts);
}

void TstStore::adoptMergeModeRecomputesFromHistory()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const StoreUrl url = testUrl(dir);

    const QList<Push> pushes = {
        {makeSummary(u"a"_s, BaseTime + Second, {{u"x"_s, 1}}, {u"f1"_s}), Received + 1},
        {makeSummary(u"a"_s, BaseTime + 2 * Second, {{u"x"_s, 2}, {u"y"_s, 1}}, {u"f2"_s}),
         Received + 2},
        // Stale in latest mode, summed in cumulative mode.
        {makeSummary(u"a"_s, BaseTime, {{u"x"_s, 5}}, {u"f0"_s}), Received + 3},
        {makeSummary(u"b"_s, BaseTime + Second, {{u"x"_s, 10}}), Received + 4},
        // A repeat: nothing in latest mode, added again in cumulative mode.
        {makeSummary(u"b"_s, BaseTime + Second, {{u"x"_s, 10}}), Received + 5},
    };

    MergeEngine latest(MergeMode::Latest);
    {
        const std::unique_ptr<Store> store = openStore(url);
        QVERIFY(store);
        MergeEngine engine;
        QVERIFY(store->adoptMergeMode(MergeMode::Latest, engine)); // same mode: a plain load
        QVERIFY(commitPushes(*store, latest, pushes));
        QCOMPARE(store->readState()->sequence, quint64(3));
    }
    const quint64 latestSequence = 3;
    QCOMPARE(latest.topicTotals().at(u"x"_s).total, qint64(12));

    // What cumulative mode gives when it sees the pushes live.
    MergeEngine cumulativeLive(MergeMode::Cumulative);
    for (const Push &p : pushes)
        cumulativeLive.apply(p.summary.agentId, cumulativeLive.plan(p.summary).next, p.receivedAt,
                             1);

    {
        const std::unique_ptr<Store> store = openStore(url);
        QVERIFY(store);
        MergeEngine engine(MergeMode::Latest);
        QVERIFY(store->adoptMergeMode(MergeMode::Cumulative, engine));
        QCOMPARE(engine.mode(), MergeMode::Cumulative);

        const std::optional<StoreState> state = store->readState();
        QVERIFY(state);
        QCOMPARE(state->mergeMode, QStringLiteral("cumulative"));
        QCOMPARE(state->sequence, latestSequence + 1);
        QCOMPARE(state->totalPushes, qint64(pushes.size()));

        QCOMPARE(engine.topicTotals().at(u"x"_s).total, qint64(1 + 2 + 5 + 10 + 10));
        QCOMPARE(engine.topicTotals().at(u"y"_s).total, qint64(1));
        engine.setSequence(state->sequence);
        cumulativeLive.setSequence(state->sequence);
        QCOMPARE(engine.pullJson(), cumulativeLive.pullJson());

        // Counters are kept; contributions and their sequence are rewritten.
        const AgentState a = engine.agents().value(u"a"_s);
        QCOMPARE(a.pushCount, qint64(3));
        QCOMPARE(a.firstSeen, Received + 1);
        QCOMPARE(a.lastSeen, Received + 3);
        QVERIFY(a.current);
        QCOMPARE(a.current->timestamp, BaseTime + 2 * Second);
        QCOMPARE(a.current->topics, (Topics{{u"x"_s, 8}, {u"y"_s, 1}}));
        QCOMPARE(a.current->facts, (QStringList{u"f0"_s, u"f1"_s, u"f2"_s}));
        QCOMPARE(a.sequence, latestSequence + 1);
        QCOMPARE(engine.agents().value(u"b"_s).pushCount, qint64(2));

        const QSqlDatabase db = store->database();
        const QString bTopics =
            scalar(db, QStringLiteral("SELECT topic_counts FROM agents WHERE agent_id = 'b'"))
                .toString();
        // JSONB prints its own spacing.
        QCOMPARE(bTopics, test::postgresBackend() ? QStringLiteral("{\"x\": 20}")
                                                  : QStringLiteral("{\"x\":20}"));
        QCOMPARE(scalar(db, QStringLiteral("SELECT push_count FROM agents WHERE agent_id = 'a'"))
                     .toInt(),
                 3);
        QCOMPARE(scalar(db, QStringLiteral("SELECT COUNT(*) FROM summaries")).toInt(),
                 pushes.size());
        QCOMPARE(scalar(db, QStringLiteral("SELECT COUNT(*) FROM agents WHERE sequence = %1")
                                .arg(latestSequence + 1))
                     .toInt(),
                 2);
    }

    // The same mode again recomputes nothing.
    {
        const std::unique_ptr<Store> store = openStore(url);
        QVERIFY(store);
        MergeEngine engine;
        QVERIFY(store->adoptMergeMode(MergeMode::Cumulative, engine));
        QCOMPARE(store->readState()->sequence, latestSequence + 1);
        QCOMPARE(engine.topicTotals().at(u"x"_s).total, qint64(28));
    }

    // And back: the latest-mode view as it was.
    {
        const std::unique_ptr<Store> store = openStore(url);
        QVERIFY(store);
        MergeEngine engine(MergeMode::Cumulative);
        QVERIFY(store->adoptMergeMode(MergeMode::Latest, engine));
        QCOMPARE(engine.mode(), MergeMode::Latest);
        const std::optional<StoreState> state = store->readState();
        QVERIFY(state);
        QCOMPARE(state->mergeMode, QStringLiteral("latest"));
        QCOMPARE(state->sequence, latestSequence + 2);
        engine.setSequence(state->sequence);
        latest.setSequence(state->sequence);
        QCOMPARE(engine.pullJson(), latest.pullJson());
        for (const AgentState &expected : latest.agents()) {
            const AgentState got = engine.agents().value(expected.agentId);
            QVERIFY(got.current == expected.current);
            QCOMPARE(got.pushCount, expected.pushCount);
            QCOMPARE(got.firstSeen, expected.firstSeen);
            QCOMPARE(got.lastSeen, expected.lastSeen);
        }
    }
}

void TstStore::readsDoNotWaitForCommits()
{
    // With several instances a pull first catches up through the writer, so it waits.
    SQLITE_ONLY("a pull on PostgreSQL catches up first");
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    ServerConfig config;
    config.store = testUrl(dir);
    config.accessLog = false;
    config.writerThread = true;
    QString error;
    const std::unique_ptr<CoordinatorApi> api = CoordinatorApi::create(config, &error);
    QVERIFY2(api, qPrintable(error));
    // Writes run in the writer's thread; this thread's connection only reads.
    QVERIFY(api->writer().thread() != QThread::currentThread());
    QVERIFY(!api->store().beginWrite() ||
            !api->store().recordPush(makeSummary(u"x"_s, BaseTime, {{u"t"_s, 1}}), Received,
                                     u"127.0.0.1"_s, std::nullopt, 1));
    api->store().rollback();

    const std::optional<HttpReply> before = roundTrip(*api, getPull());
    QVERIFY(before);
    QCOMPARE(before->status, 200);

    // The writer is busy (as during a long fsync): a push waits, a pull is answered at once
    // from the committed view, which does not hold the push yet.
    QSemaphore hold;
    api->writerThread().submit(
        [&hold](CoordinatorWriter &) {
            hold.acquire();
            return true;
        },
        [](bool) {});
    std::optional<HttpReply> pushed;
    api->handle(postPush(pushBody(u"agent-a"_s, BaseTime, {{u"python"_s, 2}})),
                [&pushed](const HttpReply &r) { pushed = r; });
    std::optional<HttpReply> during;
    api->handle(getPull(), [&during](const HttpReply &r) { during = r; });
    const bool answeredAtOnce = during.has_value();
    const bool pushWaited = !pushed.has_value();
    hold.release();
    QVERIFY(answeredAtOnce);
    QVERIFY(pushWaited);
    QCOMPARE(during->status, 200);
    QCOMPARE(bodyOf(*during), bodyOf(*before));
    QVERIFY(!bodyOf(*before).isEmpty());
    QCOMPARE(headerOf(*during, "ETag"), headerOf(*before, "ETag"));

    // After the commit: the push is answered, and the next pull holds it.
    api->flushPushes();
    QVERIFY(pushed);
    QCOMPARE(pushed->status, 200);
    const std::optional<HttpReply> after = roundTrip(*api, getPull());
    QVERIFY(after);
    QCOMPARE(QJsonDocument::fromJson(bodyOf(*after))
                 .object()[u"merged_topic_counts"_s]
                 .toObject()[u"python"_s]
                 .toInt(),
             2);
    QVERIFY(headerOf(*after, "ETag") != headerOf(*before, "ETag"));
}

void TstStore::writerWithoutThread()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    ServerConfig config;
    config.store = testUrl(dir);
    config.accessLog = false;
    QVERIFY(config.writerThread); // the default
    config.writerThread = false;  // --no-writer-thread
    QString error;
    const std::unique_ptr<CoordinatorApi> api = CoordinatorApi::create(config, &error);
    QVERIFY2(api, qPrintable(error));
    QCOMPARE(api->writer().thread(), QThread::currentThread());

    // Still answered only after the commit, which runs when this pass of the event loop
    // ends (with the other pushes it read).
    std::optional<HttpReply> pushed;
    api->handle(postPush(pushBody(u"agent-a"_s, BaseTime, {{u"python"_s, 2}})),
                [&pushed](const HttpReply &r) { pushed = r; });
    QVERIFY(!pushed);
    QTRY_VERIFY(pushed.has_value());
    QCOMPARE(pushed->status, 200);
    QCOMPARE(api->store().readState()->totalPushes, qint64(1));
    const std::optional<HttpReply> pull = roundTrip(*api, getPull());
    QVERIFY(pull);
    QCOMPARE(QJsonDocument::fromJson(bodyOf(*pull))
                 .object()[u"merged_topic_counts"_s]
                 .toObject()[u"python"_s]
                 .toInt(),
             2);
    const std::optional<HttpReply> reset = roundTrip(*api, [] {
        HttpRequest r;
        r.method = QByteArrayLiteral("DELETE");
        r.path = QStringLiteral("/admin/reset");
        r.peer = QHostAddress::LocalHost;
        return r;
    }());
    QVERIFY(reset);
    QCOMPARE(reset->status, 200);
    QCOMPARE(api->engine().agentCount(), 0);
}

void TstStore::textArraysAsJsonWriterWritesThem()
{
    // The stored text of fact arrays (SQLite) has one format whatever path wrote it:
    // SqlDialect's encoding and JsonWriter agree byte for byte.
    const QStringList values = {u"plain"_s,      u""_s,           u"say \"hi\""_s, u"back\\slash"_s,
                                u"tab\there"_s,  u"line\nfeed"_s, u"\u007f del"_s, u"\u00fcber"_s,
                                u"\U0001F600"_s, u"</script>"_s,  u"x"_s};
    QByteArray expected;
    JsonWriter json(&expected);
    json.beginArray();
    for (const QString &v : values)
        json.value(v);
    json.endArray();
    const SqlDialect sqlite(StoreUrl::Kind::SqliteFile);
    QCOMPARE(sqlite.encodeTextArrayUtf8(values), expected);
    QCOMPARE(sqlite.decodeTextArray(QString::fromUtf8(expected)), values);
}

void TstStore::writerCountsPushesPerCommit()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const std::unique_ptr<Store> store = openStore(testUrl(dir));
    QVERIFY(store);
    CoordinatorWriter writer(*store, MergeEngine());
    const auto sizes = [&writer] {
        return writer.read([](const MergeEngine &, const WriterTotals &totals) {
            return std::pair(totals.commitSizes, totals.committedInBatches);
        });
    };
    QCOMPARE(sizes().first, decltype(WriterTotals::commitSizes){});
    QCOMPARE(sizes().second, qint64(0));

    // Three agents: one transaction of three (bucket "at most 4").
    QList<PushRequest> three;
    for (const QString &agent : {u"a"_s, u"b"_s, u"c"_s})
        three.append({makeSummary(agent, BaseTime, {{u"t"_s, 1}}), Received, u"127.0.0.1"_s});
    QCOMPARE(writer.commitPushes(three).size(), 3);
    QCOMPARE(sizes().first.at(2), qint64(1));
    QCOMPARE(sizes().second, qint64(3));

    // One agent twice: the second push must see the first, two transactions of one.
    QCOMPARE(writer
                 .commitPushes(
                     {{makeSummary(u"d"_s, BaseTime, {}), Received, u"127.0.0.1"_s},
                      {makeSummary(u"d"_s, BaseTime + Second, {}), Received + 1, u"127.0.0.1"_s}})
                 .size(),
             2);
    const auto [counts, pushes] = sizes();
    QCOMPARE(counts.at(0), qint64(2));
    QCOMPARE(counts.at(2), qint64(1));
    QCOMPARE(std::accumulate(counts.cbegin(), counts.cend(), qint64(0)), qint64(3));
    QCOMPARE(pushes, qint64(5));

    // 200 agents in one call: one transaction, past the last bound.
    QList<PushRequest> many;
    for (int i = 0; i < 200; ++i)
        many.append({makeSummary(u"m%1"_s.arg(i), BaseTime, {}), Received, u"127.0.0.1"_s});
    QCOMPARE(writer.commitPushes(many).size(), 200);
    QCOMPARE(sizes().first.back(), qint64(1));
    QCOMPARE(sizes().second, qint64(205));
}

void TstStore::writerBatchesPlanOnCommittedView()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const StoreUrl url = testUrl(dir);
    const std::unique_ptr<Store> store = openStore(url);
    QVERIFY(store);
    constexpr qint64 Max = std::numeric_limits<qint64>::max();
    CoordinatorWriter writer(*store, MergeEngine());
    QSignalSpy committed(&writer, &CoordinatorWriter::pushesCommitted);
    QSignalSpy changed(&writer, &CoordinatorWriter::mergeChanged);

    QList<PushOutcome> first = writer.commitPushes(
        {{makeSummary(u"big"_s, BaseTime, {{u"x"_s, Max - 5}}), Received, u"127.0.0.1"_s}});
    QCOMPARE(first.size(), 1);
    QCOMPARE(first.at(0).status, PushOutcome::Status::Merged);
    QCOMPARE(first.at(0).sequence, quint64(1));

    // One batch: an agent twice (the second push must see the first), a repeat that changes
    // nothing, and two agents that overflow x only together.
    const QList<PushOutcome> outcomes = writer.commitPushes({
        {makeSummary(u"a"_s, BaseTime, {{u"y"_s, 1}}), Received + 1, u"127.0.0.1"_s},
        {makeSummary(u"a"_s, BaseTime + Second, {{u"y"_s, 4}}), Received + 2, u"127.0.0.1"_s},
        {makeSummary(u"a"_s, BaseTime + Second, {{u"y"_s, 4}}), Received + 3, u"127.0.0.1"_s},
        {makeSummary(u"b"_s, BaseTime, {{u"x"_s, 3}}), Received + 4, u"127.0.0.1"_s},
        {makeSummary(u"c"_s, BaseTime, {{u"x"_s, 3}}), Received + 5, u"127.0.0.1"_s},
    });
    QCOMPARE(outcomes.size(), 5);
    QCOMPARE(outcomes.at(0).status, PushOutcome::Status::Merged);
    QCOMPARE(outcomes.at(1).status, PushOutcome::Status::Merged);
    QCOMPARE(outcomes.at(2).status, PushOutcome::Status::Unchanged);
    QCOMPARE(outcomes.at(3).status, PushOutcome::Status::Merged);
    QCOMPARE(outcomes.at(4).status, PushOutcome::Status::Overflow);
    QCOMPARE(outcomes.at(4).overflowTopic, u"x"_s);
    QCOMPARE(outcomes.at(0).sequence, quint64(2));
    QCOMPARE(outcomes.at(1).sequence, quint64(3));
    QCOMPARE(outcomes.at(2).sequence, quint64(3));
    QCOMPARE(outcomes.at(3).sequence, quint64(4));
    QCOMPARE(committed.size(), 2);
    QCOMPARE(changed.size(), 2);
    QCOMPARE(changed.last().at(0).toULongLong(), quint64(4));

    const MergeEngine &engine = writer.engine();
    QCOMPARE(engine.sequence(), quint64(4));
    QCOMPARE(engine.topicTotals().at(u"x"_s).total, Max - 2);
    QCOMPARE(engine.topicTotals().at(u"y"_s).total, qint64(4));
    QCOMPARE(engine.agents().value(u"a"_s).pushCount, qint64(3));
    QVERIFY(!engine.agents().contains(u"c"_s));
    const auto [viewSequence, viewPushes] =
        writer.read([](const MergeEngine &view, const WriterTotals &totals) {
            return std::pair(view.sequence(), totals.totalPushes);
        });
    QCOMPARE(viewSequence, quint64(4));
    QCOMPARE(viewPushes, qint64(5));

    // The store holds the same: the refused push left nothing, and a fresh load agrees.
    const std::optional<StoreState> state = store->readState();
    QVERIFY(state);
    QCOMPARE(state->sequence, quint64(4));
    QCOMPARE(state->totalPushes, qint64(5));
    QCOMPARE(
        scalar(store->database(), u"SELECT COUNT(*) FROM summaries WHERE agent_id = 'c'"_s).toInt(),
        0);
    MergeEngine reloaded;
    QVERIFY(store->loadAgents(reloaded));
    reloaded.setSequence(state->sequence);
    QCOMPARE(reloaded.pullJson(), engine.pullJson());
}

void TstStore::batchStoresTheRowsOfSinglePushes()
{
    // The same pushes committed as one batch and one by one leave the same rows: history in
    // the order and form sent, agents with their sorted contributions and counters.
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    // SQLite: the batch through the library directly, the single pushes through QSqlQuery,
    // so the two ways of writing are compared as well.
    const auto [batched, single] = openDirectAndViaQt(dir);
    QVERIFY(batched);
    QVERIFY(single);

    QList<PushRequest> pushes;
    for (int i = 0; i < 60; ++i) {
        // 12 agents, so a batch holds each several times (the writer splits it there).
        // One name not ASCII (written through its UTF-8 bytes, not copied unit by unit).
        const QString agent =
            (i % 12 == 5 ? u"ag\u00e9nt-"_s : u"agent-"_s) + QString::number(i % 12);
        // Sorted as sent (i even) or not (i odd), short and non-ASCII names, a quote, a
        // backslash and a control character (escaped).
        const Topics topics = i % 2 == 0 ? Topics{{u"a"_s, i}, {u"b\"q"_s, 2}, {u"zeta"_s, 3}}
                                         : Topics{{u"zeta"_s, i}, {u"é"_s, 1}, {u"a"_s, BigCount}};
        const QStringList facts =
            i % 2 == 0 ? QStringList{u"f1"_s, u"f2"_s, u"b\\s\t"_s}
                       : QStringList{u"py"_s, u"Daily"_s, u"ü-"_s + QString::number(i)};
        // Every fifth push repeats an older timestamp: kept in history, merge unchanged.
        const Instant timestamp = BaseTime + (i % 5 == 4 ? 0 : i) * Second;
        Summary summary = makeSummary(agent, timestamp, topics, facts);
        if (i % 3 == 0) {
            summary.hasMetadata = true;
            summary.metadata = QJsonObject{{u"k"_s, i}, {u"s"_s, u"x\ny"_s}};
        }
        if (i % 4 == 0) {
            summary.hasMemoryTypes = true;
            summary.memoryTypes = QJsonArray{u"episodic"_s, u"semantic"_s};
        }
        pushes.append({summary, Received + i, i % 2 == 0 ? u"127.0.0.1"_s : u"::1"_s});
    }

    CoordinatorWriter batchWriter(*batched, MergeEngine());
    const QList<PushOutcome> batchOutcomes = batchWriter.commitPushes(pushes);
    CoordinatorWriter singleWriter(*single, MergeEngine());
    QList<PushOutcome> singleOutcomes;
    for (const PushRequest &push : std::as_const(pushes))
        singleOutcomes.append(singleWriter.commitPushes({push}));
    QCOMPARE(batchOutcomes.size(), pushes.size());
    QCOMPARE(singleOutcomes.size(), pushes.size());
    QVERIFY(!single->writesDirectly());
#ifdef Q_OS_LINUX
    // Qt's SQLite driver links the system's library here: reachable.
    QCOMPARE(batched->writesDirectly(), !test::postgresBackend());
#endif
    int unchanged = 0;
    for (qsizetype i = 0; i < pushes.size(); ++i) {
        QVERIFY2(batchOutcomes.at(i).stored(), qPrintable(batchOutcomes.at(i).error));
        QCOMPARE(batchOutcomes.at(i).status, singleOutcomes.at(i).status);
        QCOMPARE(batchOutcomes.at(i).sequence, singleOutcomes.at(i).sequence);
        unchanged += batchOutcomes.at(i).status == PushOutcome::Status::Unchanged ? 1 : 0;
    }
    QVERIFY(unchanged > 0); // the repeated older timestamps took the path that only counts

    for (const QString &table : {u"summaries"_s, u"agents"_s}) {
        const QStringList a = dumpTable(batched->database(), table);
        QCOMPARE(a.size(), table == u"summaries" ? 60 : 12);
        QCOMPARE(a, dumpTable(single->database(), table));
    }
    const auto batchState = batched->readState();
    const auto singleState = single->readState();
    QVERIFY(batchState && singleState);
    QCOMPARE(batchState->sequence, singleState->sequence);
    QCOMPARE(batchState->totalPushes, qint64(60));
    QCOMPARE(singleState->totalPushes, qint64(60));

    // The forms: history as sent, the agent's contribution sorted (and exact past 2^53).
    QSqlQuery q(batched->database());
    QVERIFY(q.exec(u"SELECT topic_counts, fact_hashes FROM summaries WHERE agent_id = "
                   "'agent-11' ORDER BY id DESC"_s));
    QVERIFY(q.next());
    QCOMPARE(storedArray(q.value(1)), (QStringList{u"py"_s, u"Daily"_s, u"ü-59"_s}));
    const QJsonObject sent = QJsonDocument::fromJson(q.value(0).toString().toUtf8()).object();
    QCOMPARE(sent.keys(), (QStringList{u"a"_s, u"zeta"_s, u"é"_s}));
    QVERIFY(q.exec(u"SELECT fact_hashes FROM agents WHERE agent_id = 'agent-11'"_s));
    QVERIFY(q.next());
    // The newest push (59) was older than push 47, which the agent's contribution holds.
    QCOMPARE(storedArray(q.value(0)), (QStringList{u"Daily"_s, u"py"_s, u"ü-47"_s}));
    MergeEngine reloaded;
    QVERIFY(batched->loadAgents(reloaded));
    QCOMPARE(agentDiff(reloaded, batchWriter.engine()), QString());
    const AgentState eleven = reloaded.agents().value(u"agent-11"_s);
    QVERIFY(eleven.current);
    QCOMPARE(eleven.current->topics, (Topics{{u"a"_s, BigCount}, {u"zeta"_s, 47}, {u"é"_s, 1}}));
}

void TstStore::batchOfManyAgentsStoresEveryRowInOrder()
{
    // One transaction of more pushes than one INSERT takes (the direct writer inserts the
    // history rows in chunks): every row stored, in push order, the same rows as through
    // QSqlQuery one push at a time; and the next transaction starts with no row left over.
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const auto [batched, single] = openDirectAndViaQt(dir);
    QVERIFY(batched);
    QVERIFY(single);
    QList<PushRequest> pushes;
    for (int i = 0; i < 37; ++i) {
        Summary summary = makeSummary(u"agent-%1"_s.arg(36 - i), BaseTime + i * Second,
                                      {{u"t"_s, i}}, {u"f%1"_s.arg(i)});
        if (i % 5 == 0) {
            summary.hasMetadata = true;
            summary.metadata = QJsonObject{{u"i"_s, i}};
        }
        pushes.append({summary, Received + i, u"127.0.0.1"_s});
    }
    CoordinatorWriter batchWriter(*batched, MergeEngine());
    const QList<PushOutcome> outcomes = batchWriter.commitPushes(pushes);
    QCOMPARE(outcomes.size(), pushes.size());
    for (const PushOutcome &o : outcomes)
        QVERIFY2(o.stored(), qPrintable(o.error));
    CoordinatorWriter singleWriter(*single, MergeEngine());
    for (const PushRequest &push : std::as_const(pushes))
        QVERIFY(singleWriter.commitPushes({push}).at(0).stored());
    QCOMPARE(dumpTable(batched->database(), u"summaries"_s).size(), 37);
    QCOMPARE(dumpTable(batched->database(), u"summaries"_s),
             dumpTable(single->database(), u"summaries"_s));
    QSqlQuery q(batched->database());
    QVERIFY(q.exec(u"SELECT agent_id FROM summaries ORDER BY id"_s));
    for (int i = 0; i < 37; ++i) {
        QVERIFY(q.next());
        QCOMPARE(q.value(0).toString(), u"agent-%1"_s.arg(36 - i));
    }
    QCOMPARE(batched->readState()->totalPushes, qint64(37));

    // SQLite only (the rows inserted together are SQLite's direct path; the trigger is SQLite's).
    if (!test::postgresBackend()) {
        // A history INSERT that fails ends the whole transaction (SQLite rolls it back itself,
        // as a failing INSERT OR ROLLBACK does): no row of the batch stays, the outcomes say so,
        // and the connection writes on afterwards.
        const QStringList beforeFailure = dumpStore(batched->database());
        QSqlQuery trigger(batched->database());
        QVERIFY(trigger.exec(u"CREATE TRIGGER boom_history BEFORE INSERT ON summaries WHEN "
                             "NEW.agent_id = 'boom' BEGIN SELECT RAISE(ROLLBACK, 'boom history'); "
                             "END"_s));
        QList<PushRequest> failing;
        for (const QString &agent : {u"agent-1"_s, u"agent-2"_s, u"boom"_s, u"agent-3"_s})
            failing.append({makeSummary(agent, BaseTime + 50 * Second, {{u"t"_s, 5}}),
                            Received + 50, u"127.0.0.1"_s});
        for (const PushOutcome &o : batchWriter.commitPushes(failing)) {
            QCOMPARE(o.status, PushOutcome::Status::StoreFailed);
            QVERIFY2(o.error.contains(u"boom history"_s), qPrintable(o.error));
        }
        QCOMPARE(dumpStore(batched->database()), beforeFailure);
        QVERIFY(trigger.exec(u"DROP TRIGGER boom_history"_s));
    }

    // A transaction rolled back with rows waiting leaves none for the next one.
    QVERIFY(batched->beginWrite());
    const Summary lost = makeSummary(u"agent-0"_s, BaseTime + 100 * Second, {{u"t"_s, 1}});
    MergeEngine engine = batchWriter.engine();
    const MergeEngine::Plan plan = engine.plan(lost);
    QVERIFY(batched->recordPush(lost, Received + 100, u"127.0.0.1"_s, plan.next,
                                engine.sequence() + 1));
    batched->rollback();
    QVERIFY(batchWriter.commitPushes({pushes.at(0)}).at(0).stored());
    QCOMPARE(scalar(batched->database(), u"SELECT COUNT(*) FROM summaries"_s).toLongLong(),
             qint64(38));
    QCOMPARE(scalar(batched->database(),
                    u"SELECT COUNT(*) FROM summaries WHERE timestamp_us = %1"_s.arg(BaseTime +
                                                                                    100 * Second))
                 .toLongLong(),
             qint64(0));
}

void TstStore::walBufferedCommitsReachOtherConnections()
{
    // The writer's WAL writes wait in memory until each commit's sync (SqliteDirect::
    // walBufferVfs()): another connection (SQLite's default VFS) sees every commit at once,
    // across a checkpoint and a commit larger than the buffer, and the file holds the same
    // rows as one written without it.
    if (test::postgresBackend())
        QSKIP("SQLite files only");
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const StoreUrl url = fileUrl(dir, u"buffered.db"_s);
    const std::unique_ptr<Store> buffered = openStore(url);
    StoreOptions plain;
    plain.walBuffer = false;
    const std::unique_ptr<Store> unbuffered = openStore(fileUrl(dir, u"plain.db"_s), plain);
    StoreOptions readOnly;
    readOnly.readOnly = true;
    const std::unique_ptr<Store> reader = openStore(url, readOnly);
    QVERIFY(buffered && unbuffered && reader);
#ifdef Q_OS_LINUX
    // Qt's SQLite driver links the system's library here: reachable.
    QVERIFY(buffered->walBuffered());
#endif
    QVERIFY(!unbuffered->walBuffered());
    QVERIFY(!reader->walBuffered());

    CoordinatorWriter bufferedWriter(*buffered, MergeEngine());
    CoordinatorWriter plainWriter(*unbuffered, MergeEngine());
    int total = 0;
    for (int round = 0; round < 6; ++round) {
        // Round 3: 1500 new agents in one commit, over 512 KB of WAL.
        const int count = round == 3 ? 1500 : 1 + round * 7;
        QList<PushRequest> pushes;
        for (int i = 0; i < count; ++i) {
            const int n = total + i;
            pushes.append({makeSummary(u"agent-"_s + QString::number(n % 1700), BaseTime + n,
                                       {{u"topic"_s, n}}, {u"fact-"_s + QString::number(n)}),
                           Received + n, u"127.0.0.1"_s});
        }
        for (const PushOutcome &o : bufferedWriter.commitPushes(pushes))
            QVERIFY2(o.stored(), qPrintable(o.error));
        for (const PushOutcome &o : plainWriter.commitPushes(pushes))
            QVERIFY2(o.stored(), qPrintable(o.error));
        total += count;
        QSqlQuery q(reader->database());
        QVERIFY(q.exec(u"SELECT COUNT(*), MAX(received_us) FROM summaries"_s) && q.next());
        QCOMPARE(q.value(0).toInt(), total);
        QCOMPARE(q.value(1).toLongLong(), Received + total - 1);
        q.finish();
        if (round == 2)
            QVERIFY(buffered->checkpoint());
    }
    for (const QString &table : {u"summaries"_s, u"agents"_s})
        QCOMPARE(dumpTable(reader->database(), table), dumpTable(unbuffered->database(), table));
}

void TstStore::damageFoundByAPushStatement_data()
{
    QTest::addColumn<bool>("direct");
    QTest::newRow("SQLite directly") << true;
    QTest::newRow("QSqlQuery") << false;
}

void TstStore::damageFoundByAPushStatement()
{
    // A push statement that meets a damaged page (64 KB of garbage in the file's middle,
    // the start-up check skipped) marks the store damaged, whichever way it writes: the
    // batch fails and nothing more is written.
    if (test::postgresBackend())
        QSKIP("SQLite files only");
    QFETCH(bool, direct);
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const StoreUrl url = fileUrl(dir);
    auto pushesFrom = [](int first, int count) {
        QList<PushRequest> pushes;
        for (int i = first; i < first + count; ++i)
            pushes.append(
                {makeSummary(u"agent-%1"_s.arg(i * 7919 % 100000, 6, 10, QChar(u'0')), BaseTime + i,
                             {{u"topic"_s, i}}, {u"fact-"_s + QString::number(i)}),
                 Received + i, u"127.0.0.1"_s});
        return pushes;
    };
    {
        const std::unique_ptr<Store> store = openStore(url);
        QVERIFY(store);
        CoordinatorWriter writer(*store, MergeEngine());
        for (int i = 0; i < 20; ++i) {
            for (const PushOutcome &o : writer.commitPushes(pushesFrom(i * 200, 200)))
                QVERIFY(o.stored());
        }
    }
    {
        QFile f(url.path);
        QVERIFY(f.open(QIODevice::ReadWrite));
        const qint64 offset = (f.size() / 2) & ~qint64(4095);
        QByteArray garbage(64 * 1024, Qt::Uninitialized);
        QRandomGenerator random(4242);
        random.fillRange(reinterpret_cast<quint32 *>(garbage.data()), garbage.size() / 4);
        QVERIFY(f.seek(offset) && f.write(garbage) == garbage.size() && f.flush());
    }
    StoreOptions options;
    options.checkIntegrity = false;
    options.directSqlite = direct;
    const std::unique_ptr<Store> store = openStore(url, options);
    QVERIFY(store);
    // The view is not loaded (it reads damaged pages too): a fresh engine, as for new agents.
    CoordinatorWriter writer(*store, MergeEngine());
    bool failed = false;
    for (int i = 0; i < 40 && !failed; ++i) {
        for (const PushOutcome &o : writer.commitPushes(pushesFrom(100000 + i * 100, 100)))
            failed = failed || o.status == PushOutcome::Status::StoreFailed;
    }
    QVERIFY(failed);
    QCOMPARE(store->writesDirectly(), direct);
    QVERIFY(store->corrupted());
    QVERIFY2(store->lastError().contains(u"damaged"_s), qPrintable(store->lastError()));
    const QList<PushOutcome> after = writer.commitPushes(pushesFrom(200000, 1));
    QCOMPARE(after.at(0).status, PushOutcome::Status::StoreFailed);
}

void TstStore::writerResetAndRemove()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const StoreUrl url = testUrl(dir);
    const std::unique_ptr<Store> store = openStore(url);
    QVERIFY(store);
    CoordinatorWriter writer(*store, MergeEngine());
    QSignalSpy removed(&writer, &CoordinatorWriter::agentRemoved);
    QSignalSpy reset(&writer, &CoordinatorWriter::resetDone);
    const QList<PushOutcome> pushed = writer.commitPushes(
        {{makeSummary(u"a"_s, BaseTime, {{u"x"_s, 1}}, {u"f"_s}), Received, u"127.0.0.1"_s},
         {makeSummary(u"b"_s, BaseTime, {{u"x"_s, 2}}), Received + 1, u"127.0.0.1"_s}});
    QVERIFY(pushed.at(0).stored() && pushed.at(1).stored());

    const RemoveOutcome missing = writer.removeAgent(u"nobody"_s);
    QCOMPARE(missing.status, RemoveOutcome::Status::NotFound);
    QCOMPARE(store->readState()->sequence, quint64(2));

    const RemoveOutcome gone = writer.removeAgent(u"a"_s);
    QCOMPARE(gone.status, RemoveOutcome::Status::Removed);
    QCOMPARE(gone.sequence, quint64(3));
    QCOMPARE(writer.engine().topicTotals().at(u"x"_s).total, qint64(2));
    QCOMPARE(store->readState()->sequence, quint64(3));
    QCOMPARE(scalar(store->database(), u"SELECT COUNT(*) FROM summaries"_s).toInt(), 1);
    QCOMPARE(removed.size(), 2);

    const ResetOutcome cleared = writer.reset();
    QVERIFY(cleared.ok);
    QCOMPARE(cleared.sequence, quint64(4));
    QCOMPARE(writer.engine().agentCount(), 0);
    QCOMPARE(store->readState()->sequence, quint64(4));
    QCOMPARE(store->readState()->totalPushes, qint64(0));
    QCOMPARE(scalar(store->database(), u"SELECT COUNT(*) FROM agents"_s).toInt(), 0);
    QCOMPARE(reset.size(), 1);

    // A failing store: the outcome says so and nothing changes.
    QVERIFY(installBoomTriggers(store->database()));
    const QStringList before = dumpStore(store->database());
    const QList<PushOutcome> failed = writer.commitPushes(
        {{makeSummary(u"ok"_s, BaseTime, {{u"x"_s, 1}}), Received + 2, u"127.0.0.1"_s},
         {makeSummary(u"boom"_s, BaseTime, {{u"x"_s, 1}}), Received + 3, u"127.0.0.1"_s}});
    QCOMPARE(failed.at(0).status, PushOutcome::Status::StoreFailed);
    QCOMPARE(failed.at(1).status, PushOutcome::Status::StoreFailed);
    QVERIFY2(failed.at(1).error.contains(u"boom trigger"_s), qPrintable(failed.at(1).error));
    QCOMPARE(writer.engine().agentCount(), 0);
    QCOMPARE(writer.engine().sequence(), quint64(4));
    QCOMPARE(dumpStore(store->database()), before);
}

void TstStore::historyByAgentFollowsItsChain_data()
{
    QTest::addColumn<bool>("direct");
    QTest::newRow("through SQLite directly") << true;
    QTest::newRow("through QSqlQuery") << false;
}

// History by agent has no index by agent: each row names the agent's previous row and the
// agent its newest (store.cpp, "History by agent"). Whatever was written, removed, pruned or
// rolled back, every agent's history read along its chain (whole and in pages) must be
// exactly what a scan of the table by agent finds.
void TstStore::historyByAgentFollowsItsChain()
{
    QFETCH(bool, direct);
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const StoreUrl url = testUrl(dir);
    StoreOptions options;
    options.directSqlite = direct;
    const std::unique_ptr<Store> store = openStore(url, options);
    QVERIFY(store);
    QVERIFY(installBoomTriggers(store->database()));
    CoordinatorWriter writer(*store, MergeEngine());
    const QStringList agents = {u"a"_s, u"b"_s, u"c"_s, u"d"_s};

    const auto scanned = [&store](const QString &agent, qint64 below) {
        QList<qint64> ids;
        QSqlQuery q(store->database());
        q.prepare(u"SELECT id FROM summaries WHERE agent_id = ? AND id < ? ORDER BY id DESC"_s);
        q.addBindValue(agent);
        q.addBindValue(below);
        if (!q.exec())
            qWarning() << q.lastError().text();
        while (q.next())
            ids.append(q.value(0).toLongLong());
        return ids;
    };
    const auto page = [&store](const QString &agent, int limit, qint64 before) {
        QList<qint64> ids;
        const auto records = store->agentHistoryPage(agent, limit, before);
        if (!records)
            return QList<qint64>{-1}; // failed: never a history
        for (const Store::PushRecord &r : *records) {
            if (r.summary.agentId != agent)
                return QList<qint64>{-2};
            ids.append(r.id);
        }
        return ids;
    };
    const auto text = [](const QList<qint64> &ids) {
        QStringList out;
        for (const qint64 id : ids)
            out.append(QString::number(id));
        return QStringLiteral("[%1]").arg(out.join(u','));
    };
    // Empty when every agent's chain is what the scan finds.
    const auto chainDiff = [&]() -> QString {
        constexpr qint64 All = std::numeric_limits<qint64>::max();
        for (const QString &agent : agents) {
            const QList<qint64> expected = scanned(agent, All);
            const QList<qint64> whole = page(agent, 1000, 0);
            if (whole != expected)
                return QStringLiteral("%1: chain %2, scan %3")
                    .arg(agent, text(whole), text(expected));
            // In pages of two, each starting below the last row shown.
            QList<qint64> paged;
            qint64 before = 0;
            for (int pages = 0; pages < 100; ++pages) {
                const QList<qint64> next = page(agent, 2, before);
                paged += next;
                if (next.size() < 2)
                    break;
                before = next.last();
            }
            if (paged != expected)
                return QStringLiteral("%1: pages %2, scan %3")
                    .arg(agent, text(paged), text(expected));
            // Below any row, another agent's or a deleted one: the rows below it.
            for (const qint64 below : {qint64(3), qint64(7), qint64(12), qint64(20)}) {
                if (page(agent, 1000, below) != scanned(agent, below))
                    return QStringLiteral("%1 below %2: %3, scan %4")
                        .arg(agent)
                        .arg(below)
                        .arg(text(page(agent, 1000, below)), text(scanned(agent, below)));
            }
        }
        return {};
    };

    Instant received = Received;
    int step = 0;
    const auto push = [&](const QStringList &who) {
        QList<PushRequest> requests;
        for (const QString &agent : who) {
            ++step;
            // Every third push of an agent repeats its previous one (unchanged: counted).
            const Instant timestamp = BaseTime + (step - step % 3) * Second;
            requests.append(
                {makeSummary(agent, timestamp, {{u"x"_s, step % 5}}), received++, u"127.0.0.1"_s});
        }
        return writer.commitPushes(requests);
    };
    const auto allStored = [](const QList<PushOutcome> &outcomes) {
        return std::all_of(outcomes.cbegin(), outcomes.cend(),
                           [](const PushOutcome &o) { return o.stored(); });
    };

    for (int round = 0; round < 4; ++round)
        QVERIFY(allStored(push({u"a"_s, u"b"_s, u"c"_s})));
    QVERIFY(allStored(push({u"a"_s})));
    QVERIFY(allStored(push({u"a"_s})));
    QString diff = chainDiff();
    QVERIFY2(diff.isEmpty(), qPrintable(diff));
    QCOMPARE(scanned(u"a"_s, std::numeric_limits<qint64>::max()).size(), 6);

    // A batch rolled back (its last push fails): none of it stays, the chains go on.
    const qint64 rowsBefore =
        scalar(store->database(), u"SELECT COUNT(*) FROM summaries"_s).toLongLong();
    const QList<PushOutcome> failed = push({u"a"_s, u"d"_s, u"boom"_s});
    QCOMPARE(failed.at(0).status, PushOutcome::Status::StoreFailed);
    QCOMPARE(scalar(store->database(), u"SELECT COUNT(*) FROM summaries"_s).toLongLong(),
             rowsBefore);
    QVERIFY(allStored(push({u"a"_s, u"d"_s})));
    QVERIFY(allStored(push({u"d"_s, u"c"_s})));
    diff = chainDiff();
    QVERIFY2(diff.isEmpty(), qPrintable(diff));

    // A removed agent's history goes, all of it and no other; pushed again, it starts anew.
    const qint64 bRows = scanned(u"b"_s, std::numeric_limits<qint64>::max()).size();
    QCOMPARE(bRows, qint64(4));
    QCOMPARE(writer.removeAgent(u"b"_s).status, RemoveOutcome::Status::Removed);
    QVERIFY(scanned(u"b"_s, std::numeric_limits<qint64>::max()).isEmpty());
    QCOMPARE(scalar(store->database(), u"SELECT COUNT(*) FROM summaries"_s).toLongLong(),
             rowsBefore + 4 - bRows);
    QVERIFY(allStored(push({u"b"_s, u"a"_s})));
    QVERIFY(allStored(push({u"b"_s})));
    diff = chainDiff();
    QVERIFY2(diff.isEmpty(), qPrintable(diff));
    QCOMPARE(page(u"b"_s, 1000, 0).size(), 2);

    // Per-agent retention, one row per pass: the newest two stay, the chain skips the rest.
    const QList<qint64> aBefore = scanned(u"a"_s, std::numeric_limits<qint64>::max());
    QVERIFY(aBefore.size() > 4);
    qint64 pruned = 0;
    for (int pass = 0; pass < 20; ++pass) {
        const std::optional<qint64> deleted = store->pruneAgentHistory(u"a"_s, 2, 1);
        QVERIFY(deleted);
        QVERIFY(*deleted <= 1);
        if (*deleted == 0)
            break;
        pruned += *deleted;
        diff = chainDiff();
        QVERIFY2(diff.isEmpty(), qPrintable(diff));
    }
    QCOMPARE(pruned, qint64(aBefore.size() - 2));
    QCOMPARE(page(u"a"_s, 1000, 0), aBefore.mid(0, 2));
    // Several rows per pass, and pushes after.
    QVERIFY(allStored(push({u"c"_s})));
    QVERIFY(allStored(push({u"c"_s})));
    const QList<qint64> cBefore = scanned(u"c"_s, std::numeric_limits<qint64>::max());
    QCOMPARE(store->pruneAgentHistory(u"c"_s, 3, 2), std::optional<qint64>(2));
    QCOMPARE(page(u"c"_s, 1000, 0), cBefore.mid(0, 3) + cBefore.mid(5));
    QVERIFY(allStored(push({u"a"_s, u"c"_s})));
    diff = chainDiff();
    QVERIFY2(diff.isEmpty(), qPrintable(diff));

    // Retention by age deletes the oldest rows, a prefix of the history, in batches.
    const Instant cutoff = Received + 21;
    const qint64 older =
        scalar(store->database(),
               u"SELECT COUNT(*) FROM summaries WHERE received_us < %1"_s.arg(cutoff))
            .toLongLong();
    QVERIFY(older > 2);
    qint64 aged = 0;
    for (int pass = 0; pass < 20; ++pass) {
        const std::optional<qint64> deleted = store->pruneHistoryBefore(cutoff, 2);
        QVERIFY(deleted);
        QVERIFY(*deleted <= 2);
        if (*deleted == 0)
            break;
        aged += *deleted;
    }
    QCOMPARE(aged, older);
    QCOMPARE(scalar(store->database(),
                    u"SELECT COUNT(*) FROM summaries WHERE received_us < %1"_s.arg(cutoff))
                 .toLongLong(),
             qint64(0));
    QVERIFY(allStored(push({u"a"_s, u"b"_s, u"c"_s, u"d"_s})));
    diff = chainDiff();
    QVERIFY2(diff.isEmpty(), qPrintable(diff));

    if (!test::postgresBackend()) {
        // Another connection's commit (another process writing the file): the writer's
        // connection must not go on from what it knew before (the next id, the agent's
        // newest row).
        RawDb raw(url);
        const qint64 last = scalar(raw.db(), u"SELECT MAX(id) FROM summaries"_s).toLongLong();
        const qint64 tail =
            scalar(raw.db(), u"SELECT history_tail FROM agents WHERE agent_id = 'd'"_s)
                .toLongLong();
        QVERIFY(raw.exec(
            QStringLiteral("INSERT INTO summaries (id, agent_id, timestamp, timestamp_us, "
                           "topic_counts, fact_hashes, source, created_at, received_us, "
                           "prev_id) VALUES (%1, 'd', 't', 0, '{}', '[]', 'x', 't', %2, %3)")
                .arg(last + 5)
                .arg(received++)
                .arg(tail)));
        QVERIFY(raw.exec(QStringLiteral("UPDATE agents SET history_tail = %1 WHERE agent_id = 'd'")
                             .arg(last + 5)));
        QVERIFY(allStored(push({u"d"_s, u"a"_s})));
        diff = chainDiff();
        QVERIFY2(diff.isEmpty(), qPrintable(diff));
        QCOMPARE(page(u"d"_s, 2, 0).at(1), last + 5);
    }
}

void TstStore::deleteEverythingEmptiesTheStore()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const StoreUrl url = testUrl(dir);
    const std::unique_ptr<Store> store = openStore(url);
    QVERIFY(store);
    MergeEngine engine;
    QVERIFY(commitPushes(*store, engine,
                         {{makeSummary(u"a"_s, BaseTime, {{u"x"_s, 1}}, {u"f"_s}), Received},
                          {makeSummary(u"b"_s, BaseTime, {{u"y"_s, 2}}), Received + 1}}));
    const std::optional<StoreState> before = store->readState();
    QVERIFY(before);
    QCOMPARE(before->sequence, quint64(2));
    const QSqlDatabase db = store->database();
    const QStringList dumpBefore = dumpStore(db);

    // Rolled back, a delete leaves everything.
    QVERIFY(store->beginWrite());
    QVERIFY(store->deleteEverything(before->sequence + 1));
    QCOMPARE(scalar(db, QStringLiteral("SELECT COUNT(*) FROM summaries")).toInt(), 0);
    store->rollback();
    QCOMPARE(dumpStore(db), dumpBefore);

    QVERIFY(store->beginWrite());
    QVERIFY(store->deleteEverything(before->sequence + 1));
    QVERIFY(store->commit());

    const std::unique_ptr<Store> reopened = openStore(url);
    QVERIFY(reopened);
    const QSqlDatabase db2 = reopened->database();
    QCOMPARE(scalar(db2, QStringLiteral("SELECT COUNT(*) FROM summaries")).toInt(), 0);
    QCOMPARE(scalar(db2, QStringLiteral("SELECT COUNT(*) FROM agents")).toInt(), 0);
    const std::optional<StoreState> after = reopened->readState();
    QVERIFY(after);
    QCOMPARE(after->sequence, before->sequence + 1);
    QCOMPARE(after->totalPushes, qint64(0));
    QCOMPARE(after->databaseId, before->databaseId);
    QCOMPARE(after->mergeMode, before->mergeMode);
    MergeEngine reloaded;
    QVERIFY(reopened->loadAgents(reloaded));
    QCOMPARE(reloaded.agentCount(), 0);
}

void TstStore::memoryStoreIsSharedWhileOpen()
{
    SQLITE_ONLY(":memory:");
    QString error;
    const std::optional<StoreUrl> url = StoreUrl::parse(QStringLiteral(":memory:"), &error);
    QVERIFY2(url, qPrintable(error));
    QCOMPARE(url->kind, StoreUrl::Kind::SqliteMemory);

    std::unique_ptr<Store> first = openStore(*url);
    QVERIFY(first);
    QCOMPARE(first->readState()->sequence, quint64(0));
    QCOMPARE(scalar(first->database(), QStringLiteral("PRAGMA synchronous")).toInt(), 2);
    MergeEngine engine;
    QVERIFY(commitPushes(*first, engine,
                         {{makeSummary(u"a"_s, BaseTime, {{u"x"_s, 1}}, {u"f"_s}), Received}}));

    // A second connection (another thread would open one) sees the same data.
    std::unique_ptr<Store> second = openStore(*url);
    QVERIFY(second);
    const std::optional<StoreState> seen = second->readState();
    QVERIFY(seen);
    QCOMPARE(seen->databaseId, first->readState()->databaseId);
    QCOMPARE(seen->sequence, quint64(1));
    QCOMPARE(seen->totalPushes, qint64(1));
    MergeEngine mirror;
    QVERIFY(second->loadAgents(mirror));
    mirror.setSequence(seen->sequence);
    QCOMPARE(mirror.pullJson(), engine.pullJson());

    // And the other way round.
    QVERIFY(commitPushes(*second, mirror,
                         {{makeSummary(u"b"_s, BaseTime, {{u"y"_s, 2}}), Received + 1}}));
    QCOMPARE(first->readState()->sequence, quint64(2));
    QCOMPARE(scalar(first->database(), QStringLiteral("SELECT COUNT(*) FROM summaries")).toInt(),
             2);

    // Each parse of ":memory:" is a database of its own.
    const std::optional<StoreUrl> otherUrl = StoreUrl::parse(QStringLiteral(":memory:"), &error);
    QVERIFY(otherUrl);
    QVERIFY(otherUrl->path != url->path);
    {
        const std::unique_ptr<Store> other = openStore(*otherUrl);
        QVERIFY(other);
        QCOMPARE(other->readState()->sequence, quint64(0));
        QVERIFY(other->readState()->databaseId != seen->databaseId);
    }

    // Throwaway: gone once the last connection closes.
    first.reset();
    second.reset();
    const std::unique_ptr<Store> again = openStore(*url);
    QVERIFY(again);
    QCOMPARE(again->readState()->sequence, quint64(0));
    QVERIFY(again->readState()->databaseId != seen->databaseId);
}

void TstStore::parseStoreUrl_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<bool>("ok");
    QTest::addColumn<int>("kind");
    QTest::addColumn<QString>("path");
    QTest::addColumn<QString>("host");
    QTest::addColumn<int>("port");
    QTest::addColumn<QString>("user");
    QTest::addColumn<QString>("password");
    QTest::addColumn<QString>("database");
    QTest::addColumn<QString>("options");
    // Exact displayName, or for errors a part of the message.
    QTest::addColumn<QString>("display");
    // Must appear neither in displayName nor in an error.
    QTest::addColumn<QString>("secret");

    const int file = int(StoreUrl::Kind::SqliteFile);
    const int memory = int(StoreUrl::Kind::SqliteMemory);
    const int pg = int(StoreUrl::Kind::PostgreSql);
    const QString defaultPath = StoreUrl::defaultLocation().path;
    const auto cwd = [](const QString &relative) {
        return QDir::cleanPath(QDir::current().absoluteFilePath(relative));
    };
    const auto fileRow = [&](const char *name, const QString &text, const QString &path) {
        QTest::addRow("%s", name) << text << true << file << path << QString() << 5432 << QString()
                                  << QString() << QString() << QString() << (u"sqlite://"_s + path)
                                  << QString();
    };
    const auto memoryRow = [&](const char *name, const QString &text) {
        QTest::addRow("%s", name) << text << true << memory << QString() << QString() << 5432
                                  << QString() << QString() << QString() << QString()
                                  << u":memory:"_s << QString();
    };
    const auto errorRow = [&](const char *name, const QString &text, const QString &part,
                              const QString &secret = {}) {
        QTest::addRow("%s", name) << text << false << 0 << QString() << QString() << 0 << QString()
                                  << QString() << QString() << QString() << part << secret;
    };

    fileRow("empty: default location", QString(), defaultPath);
    fileRow("blank: default location", u"  "_s, defaultPath);
    memoryRow(":memory:", u":memory:"_s);
    memoryRow("sqlite:///:memory:", u"sqlite:///:memory:"_s);
    fileRow("sqlite absolute", u"sqlite:///abs/x.db"_s, u"/abs/x.db"_s);
    fileRow("sqlite absolute, cleaned", u"sqlite:///abs/../abs/./x.db"_s, u"/abs/x.db"_s);
    fileRow("plain relative", u"relative.db"_s, cwd(u"relative.db"_s));
    fileRow("sqlite relative", u"sqlite://data/x.db"_s, cwd(u"data/x.db"_s));
    fileRow("plain absolute", u"/abs/plain.db"_s, u"/abs/plain.db"_s);

    QTest::addRow("postgresql with port and sslmode")
        << u"postgresql://u:p@h:5433/db?sslmode=require"_s << true << pg << QString() << u"h"_s
        << 5433 << u"u"_s << u"p"_s << u"db"_s << u"sslmode=require"_s
        << u"postgresql://u:***@h:5433/db"_s << QString();
    QTest::addRow("postgres scheme, default port, two options")
        << u"postgres://alice:s3cr3t-pw@db.example.org/agmem?sslmode=verify-full&"
           "connect_timeout=5"_s
        << true << pg << QString() << u"db.example.org"_s << 5432 << u"alice"_s << u"s3cr3t-pw"_s
        << u"agmem"_s << u"sslmode=verify-full;connect_timeout=5"_s
        << u"postgresql://alice:***@db.example.org:5432/agmem"_s << u"s3cr3t-pw"_s;
    QTest::addRow("postgresql percent-encoded password")
        << u"postgresql://u:p%40ss%2Fw0rd@h/db"_s << true << pg << QString() << u"h"_s << 5432
        << u"u"_s << u"p@ss/w0rd"_s << u"db"_s << QString() << u"postgresql://u:***@h:5432/db"_s
        << u"p@ss/w0rd"_s;
    QTest::addRow("postgresql socket directory")
        << u"postgresql://u@/db?host=/var/run/postgresql"_s << true << pg << QString()
        << u"/var/run/postgresql"_s << 5432 << u"u"_s << QString() << u"db"_s << QString()
        << QString() << QString();

    errorRow("mysql", u"mysql://x"_s, u"unsupported"_s);
    errorRow("postgresql without database", u"postgresql://h/"_s, u"no database"_s);
    errorRow("postgresql without database, with password",
             u"postgresql://alice:s3cr3t-pw@h:5433/"_s, u"no database"_s, u"s3cr3t-pw"_s);
    errorRow("sqlite without path", u"sqlite://"_s, u"no file"_s);
}

void TstStore::parseStoreUrl()
{
    SQLITE_ONLY("no database involved; runs in the SQLite pass");
    QFETCH(QString, text);
    QFETCH(bool, ok);
    QFETCH(int, kind);
    QFETCH(QString, path);
    QFETCH(QString, host);
    QFETCH(int, port);
    QFETCH(QString, user);
    QFETCH(QString, password);
    QFETCH(QString, database);
    QFETCH(QString, options);
    QFETCH(QString, display);
    QFETCH(QString, secret);

    QString error;
    const std::optional<StoreUrl> url = StoreUrl::parse(text, &error);
    if (!ok) {
        QVERIFY(!url);
        QVERIFY2(error.contains(display), qPrintable(error));
        if (!secret.isEmpty())
            QVERIFY2(!error.contains(secret), qPrintable(error));
        return;
    }
    QVERIFY2(url, qPrintable(error));
    QCOMPARE(int(url->kind), kind);
    QCOMPARE(url->isSqlite(), url->kind != StoreUrl::Kind::PostgreSql);
    if (url->kind == StoreUrl::Kind::SqliteMemory) {
        // A named shared-cache database, so several connections see the same data.
        QVERIFY2(url->path.contains(u"mode=memory"_s), qPrintable(url->path));
        QVERIFY2(url->path.contains(u"cache=shared"_s), qPrintable(url->path));
    } else {
        QCOMPARE(url->path, path);
    }
    if (url->kind == StoreUrl::Kind::PostgreSql) {
        QCOMPARE(url->host, host);
        QCOMPARE(url->port, port);
        QCOMPARE(url->user, user);
        QCOMPARE(url->password, password);
        QCOMPARE(url->database, database);
        QCOMPARE(url->connectOptions, options);
    }
    if (!display.isEmpty())
        QCOMPARE(url->displayName(), display);
    if (!url->password.isEmpty())
        QVERIFY2(url->displayName().contains(u":***@"_s), qPrintable(url->displayName()));
    if (!secret.isEmpty())
        QVERIFY2(!url->displayName().contains(secret), qPrintable(url->displayName()));
}

QTEST_GUILESS_MAIN(TstStore)
#include "tst_store.moc"
