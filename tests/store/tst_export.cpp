// store/exporter.h against SQLite files, and (run as tst_export_pg, AGMEM_TEST_BACKEND=postgresql)
// against PostgreSQL: every what x format parses, the merged JSON is the /pull body of a real
// server on the same database byte for byte, the history holds exactly the pushes in order,
// CSV quoting survives nasty topics, progress reaches its total, and a cancelled or failed
// export leaves no file (an existing file unchanged).

#include "exportsupport.h"
#include "pgsupport.h"
#include "testsupport.h"
#include "writersupport.h"

#include "core/mergeengine.h"
#include "core/timestamp.h"
#include "store/exporter.h"
#include "store/store.h"

#include <QBuffer>
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>

using namespace agmem;
using namespace Qt::StringLiterals;

namespace {

using Topics = QList<QPair<QString, qint64>>;

// When the coordinator received the direct pushes: a fixed clock.
constexpr Instant Received = 1767225600000000; // 2026-01-01T00:00:00Z
constexpr Instant Second = 1000000;
// 2^53 + 1: a double cannot hold it; the exports must keep it exact.
constexpr qint64 BigCount = 9007199254740993;

// Topics and facts a spreadsheet or a naive CSV writer gets wrong.
const QStringList &nastyStrings()
{
    static const QStringList strings = {
        u"plain"_s,
        u"comma, inside"_s,
        u"quote \"q\" inside"_s,
        u"multi\nline"_s,
        u"cr\rand crlf\r\n"_s,
        u"Ünïcödé 東京 😀"_s,
        u"=SUM(A1:A2)"_s,
        u"-minus"_s,
        u"+plus"_s,
        u"@at"_s,
        u"\ttab"_s,
        u" spaced "_s,
        u"\"quoted\""_s,
        u"back\\slash"_s,
    };
    return strings;
}

Summary makeSummary(const QString &agent, Instant timestamp, const Topics &topics,
                    const QStringList &facts)
{
    Summary s;
    s.agentId = agent;
    s.timestamp = timestamp;
    s.topicCounts = topics;
    s.factHashes = facts;
    return s;
}

// A push to a real server: what it sends and what latest-mode merging keeps.
struct ServerPush
{
    QString agent;
    QString timestamp;
    Topics topics;
    QStringList facts;
};

QList<ServerPush> serverPushes()
{
    const QStringList &n = nastyStrings();
    return {
        {u"agent-a"_s, u"2026-01-01T00:00:00Z"_s, {{n[0], 1}, {n[1], 2}}, {u"f1"_s, n[6]}},
        {u"agent,b \"q\""_s,
         u"2026-01-01T00:00:01Z"_s,
         {{n[3], 3}, {n[5], 4}, {n[0], 5}},
         {u"f1"_s, n[1], n[5]}},
        // Replaces agent-a's summary (newer).
        {u"agent-a"_s,
         u"2026-01-02T00:00:00.5Z"_s,
         {{n[0], 7}, {n[6], 1}, {n[7], 2}, {u"big"_s, BigCount}},
         {u"f1"_s, u"f2"_s}},
        // Older than agent-a's current one: history only (latest mode).
        {u"agent-a"_s, u"2025-12-31T00:00:00Z"_s, {{u"stale"_s, 9}}, {u"stale-fact"_s}},
        {u"agént-ü"_s,
         u"2026-01-01T00:00:00+02:00"_s,
         {{n[8], 1},
          {n[9], 2},
          {n[10], 3},
          {n[11], 4},
          {n[4], 5},
          {n[2], 6},
          {n[12], 7},
          {n[13], 8}},
         {u"f2"_s, n[3], n[4], n[7], n[9]}},
        // Forgotten below (DELETE /agents/agent-d).
        {u"agent-d"_s, u"2026-01-03T00:00:00Z"_s, {{u"gone"_s, 1}}, {u"gone-fact"_s}},
    };
}
const QString DeletedAgent = u"agent-d"_s;

QByteArray pushBody(const ServerPush &p)
{
    QJsonObject topics;
    for (const auto &[topic, count] : p.topics)
        topics.insert(topic, count);
    const QJsonObject summary{{u"agent_id"_s, p.agent},
                              {u"timestamp"_s, p.timestamp},
                              {u"topic_counts"_s, topics},
                              {u"fact_hashes"_s, QJsonArray::fromStringList(p.facts)}};
    return QJsonDocument(QJsonObject{{u"summary"_s, summary}}).toJson(QJsonDocument::Compact);
}

// Latest mode: each remaining agent's newest summary (a tie goes to the later push).
std::map<QString, ServerPush, CodePointLess> currentSummaries()
{
    std::map<QString, ServerPush, CodePointLess> current;
    std::map<QString, Instant> newest;
    for (const ServerPush &p : serverPushes()) {
        const Instant t = *parseIsoTimestamp(p.timestamp);
        if (!newest.count(p.agent) || t >= newest[p.agent]) {
            newest[p.agent] = t;
            current[p.agent] = p;
        }
    }
    current.erase(DeletedAgent);
    return current;
}

QByteArray readAll(const QString &path)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return QByteArrayLiteral("<cannot read>");
    return file.readAll();
}

bool writeText(const QString &path, const QByteArray &bytes)
{
    QFile file(path);
    return file.open(QIODevice::WriteOnly) && file.write(bytes) == bytes.size();
}

struct ProgressLog
{
    QList<QPair<qint64, qint64>> calls;
    // Answers false from the call where `stopAt` says so.
    std::function<bool(qint64, qint64)> stopAt;

    ExportProgress callback()
    {
        return [this](qint64 done, qint64 total) {
            calls.append({done, total});
            return !(stopAt && stopAt(done, total));
        };
    }
};

} // namespace

class TstExport : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void init();
    void cleanup();

    void names();
    void csvField_data();
    void csvField();
    void mergedJsonIsThePullBody_data();
    void mergedJsonIsThePullBody();
    void mergedCsv();
    void agents_data();
    void agents();
    void historyJsonLines();
    void historyCsv();
    void everyExportParses_data();
    void everyExportParses();
    void emptyDatabase_data();
    void emptyDatabase();
    void progressReachesTotal_data();
    void progressReachesTotal();
    void cancelLeavesNoFile_data();
    void cancelLeavesNoFile();
    void failedWriteLeavesNoFile();
    void historyStopsAtItsStartAndDoesNotBlockWriters();

private:
    // A new, empty database: a SQLite file in the test's folder or a PostgreSQL one.
    std::optional<StoreUrl> newDatabase();
    std::unique_ptr<Store> openWritable(const StoreUrl &url);
    std::unique_ptr<Store> openReader(const StoreUrl &url);
    // A database with pushes made directly: agents with nasty ids, metadata, memory types.
    struct Direct
    {
        StoreUrl url;
        QList<test::StoredPush> pushes;
    };
    std::optional<Direct> directDatabase(int extraPushes = 0, int extraAgents = 0);
    QString path(const QString &name) const { return m_dir->filePath(name); }
    // Files in the test's folder but the SQLite databases (and their -wal, -shm).
    QStringList filesInDir() const
    {
        QStringList files = QDir(m_dir->path()).entryList(QDir::Files | QDir::Hidden);
        files.removeIf([](const QString &name) { return name.startsWith(u"db-"); });
        return files;
    }

    std::unique_ptr<QTemporaryDir> m_dir;
    QList<StoreUrl> m_pgDatabases;
    int m_counter = 0;
};

void TstExport::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
    if (test::postgresBackend())
        AGMEM_REQUIRE_POSTGRES();
}

void TstExport::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
}

void TstExport::cleanup()
{
    for (const StoreUrl &url : std::as_const(m_pgDatabases))
        test::dropDatabase(url);
    m_pgDatabases.clear();
    m_dir.reset();
}

std::optional<StoreUrl> TstExport::newDatabase()
{
    if (test::postgresBackend()) {
        QString error;
        std::optional<StoreUrl> url = test::createDatabase(&error);
        if (!url)
            qWarning().noquote() << error;
        else
            m_pgDatabases.append(*url);
        return url;
    }
    StoreUrl url;
    url.kind = StoreUrl::Kind::SqliteFile;
    url.path = m_dir->filePath(u"db-%1.sqlite"_s.arg(++m_counter));
    return url;
}

std::unique_ptr<Store> TstExport::openWritable(const StoreUrl &url)
{
    QString error;
    std::unique_ptr<Store> store = Store::open(url, {}, &error);
    if (!store)
        qWarning().noquote() << "Store::open failed:" << error;
    return store;
}

std::unique_ptr<Store> TstExport::openReader(const StoreUrl &url)
{
    // As the export command and the window's worker do.
    StoreOptions options;
    options.readOnly = true;
    QString error;
    std::unique_ptr<Store> store = Store::open(url, options, &error);
    if (!store)
        qWarning().noquote() << "Store::open (read-only) failed:" << error;
    return store;
}

std::optional<TstExport::Direct> TstExport::directDatabase(int extraPushes, int extraAgents)
{
    const std::optional<StoreUrl> url = newDatabase();
    if (!url)
        return std::nullopt;
    const std::unique_ptr<Store> store = openWritable(*url);
    if (!store)
        return std::nullopt;
    const QStringList &n = nastyStrings();
    Direct d;
    d.url = *url;
    const Instant t0 = *parseIsoTimestamp(u"2026-02-01T10:00:00.123456Z");
    auto add = [&d](Summary s, Instant received, const QString &source) {
        d.pushes.append({std::move(s), received, source});
    };
    Summary first = makeSummary(u"b-agent"_s, t0, {{n[0], 1}, {n[1], BigCount}}, {u"h1"_s, n[3]});
    first.metadata =
        QJsonObject{{u"version"_s, u"0.3.0"_s}, {u"nested"_s, QJsonObject{{u"k"_s, 1}}}};
    first.hasMetadata = true;
    first.memoryTypes = QJsonArray{u"episodic"_s, u"semantic"_s};
    first.hasMemoryTypes = true;
    add(first, Received, u"127.0.0.1"_s);
    add(makeSummary(u"=cmd|' /C calc'!A0"_s, t0 + Second, {{n[6], 2}, {n[2], 3}}, {n[7], n[8]}),
        Received + Second, u"10.0.0.7"_s);
    add(makeSummary(u"é-agent, \"x\""_s, t0, {{n[5], 4}, {n[4], 5}, {n[11], 6}}, {n[9], n[10]}),
        Received + 2 * Second, u"::1"_s);
    // b-agent again, newer: replaces its summary; then an older one (history only).
    add(makeSummary(u"b-agent"_s, t0 + 10 * Second, {{n[0], 2}}, {u"h1"_s, u"h2"_s, u"h3"_s}),
        Received + 3 * Second, u"127.0.0.1"_s);
    add(makeSummary(u"b-agent"_s, t0 - 10 * Second, {{u"old"_s, 1}}, {}), Received + 4 * Second,
        u"127.0.0.1"_s);
    // Code point order is not UTF-16 order: U+FF21 before U+1F600.
    add(makeSummary(u"\uFF21-agent"_s, t0, {}, {}), Received + 5 * Second, u"127.0.0.1"_s);
    add(makeSummary(u"😀-agent"_s, t0, {{n[12], 7}}, {n[13]}), Received + 6 * Second,
        u"127.0.0.1"_s);
    for (int i = 0; i < extraPushes; ++i) {
        const QString agent = u"bulk-%1"_s.arg(i % qMax(1, extraAgents ? extraAgents : 7));
        add(makeSummary(agent, t0 + i * Second, {{u"topic-%1"_s.arg(i % 13), i}},
                        {u"fact-%1"_s.arg(i % 17)}),
            Received + (7 + i) * Second, u"127.0.0.1"_s);
    }
    for (int i = extraPushes; i < extraAgents; ++i) {
        add(makeSummary(u"bulk-%1"_s.arg(i), t0, {{u"t"_s, 1}}, {}), Received + (7 + i) * Second,
            u"127.0.0.1"_s);
    }
    MergeEngine engine;
    if (!test::commitPushes(*store, engine, d.pushes)) {
        qWarning().noquote() << "commit failed:" << store->lastError();
        return std::nullopt;
    }
    return d;
}

void TstExport::names()
{
    for (ExportWhat w : {ExportWhat::Merged, ExportWhat::Agents, ExportWhat::History})
        QCOMPARE(exportWhatFromName(exportWhatName(w)), w);
    for (ExportFormat f : {ExportFormat::Json, ExportFormat::Csv})
        QCOMPARE(exportFormatFromName(exportFormatName(f)), f);
    QCOMPARE(exportWhatName(ExportWhat::History), u"history"_s);
    QCOMPARE(exportFormatName(ExportFormat::Csv), u"csv"_s);
    QVERIFY(!exportWhatFromName(u"Merged"));
    QVERIFY(!exportWhatFromName(u""));
    QVERIFY(!exportFormatFromName(u"xml"));
}

void TstExport::csvField_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<bool>("userText");
    QTest::addColumn<QByteArray>("expected");
    QTest::addRow("plain") << u"abc"_s << true << QByteArray("abc");
    QTest::addRow("empty") << QString() << true << QByteArray();
    QTest::addRow("comma") << u"a,b"_s << true << QByteArray("\"a,b\"");
    QTest::addRow("quote") << u"say \"hi\""_s << true << QByteArray("\"say \"\"hi\"\"\"");
    QTest::addRow("LF") << u"a\nb"_s << true << QByteArray("\"a\nb\"");
    QTest::addRow("CR") << u"a\rb"_s << true << QByteArray("\"a\rb\"");
    QTest::addRow("non-ASCII") << u"Ü 東 😀"_s << true << u"Ü 東 😀"_s.toUtf8();
    QTest::addRow("formula =") << u"=1+1"_s << true << QByteArray("'=1+1");
    QTest::addRow("formula +") << u"+1"_s << true << QByteArray("'+1");
    QTest::addRow("formula -") << u"-1"_s << true << QByteArray("'-1");
    QTest::addRow("formula @") << u"@SUM(1)"_s << true << QByteArray("'@SUM(1)");
    QTest::addRow("formula tab") << u"\tx"_s << true << QByteArray("'\tx");
    QTest::addRow("formula CR") << u"\rx"_s << true << QByteArray("\"'\rx\"");
    QTest::addRow("formula and comma") << u"=HYPERLINK(\"a\",\"b\")"_s << true
                                       << QByteArray("\"'=HYPERLINK(\"\"a\"\",\"\"b\"\")\"");
    QTest::addRow("not user text") << u"-5"_s << false << QByteArray("-5");
    QTest::addRow("inner sign") << u"a=b"_s << true << QByteArray("a=b");
}

void TstExport::csvField()
{
    QFETCH(QString, text);
    QFETCH(bool, userText);
    QFETCH(QByteArray, expected);
    const QByteArray field = Exporter::csvField(text, userText);
    QCOMPARE(field, expected);
    // And a strict reader gets the (guarded) text back.
    QString why;
    const auto records = test::parseCsv(field + ",x\r\n", &why);
    QVERIFY2(records, qPrintable(why));
    QCOMPARE(records->size(), qsizetype(1));
    QCOMPARE(records->first(), (QStringList{userText ? test::csvGuarded(text) : text, u"x"_s}));
}

void TstExport::mergedJsonIsThePullBody_data()
{
    QTest::addColumn<int>("mode");
    QTest::addRow("latest") << int(MergeMode::Latest);
    QTest::addRow("cumulative") << int(MergeMode::Cumulative);
}

void TstExport::mergedJsonIsThePullBody()
{
    QFETCH(int, mode);
    test::TestServer server;
    server.config.mergeMode = MergeMode(mode);
    QString error;
    QVERIFY2(server.start(&error), qPrintable(error));
    for (const ServerPush &p : serverPushes())
        VERIFY_STATUS(test::httpPostJson(server.port(), "/push", pushBody(p)), 200);
    VERIFY_STATUS(
        test::httpExchange(server.port(), test::buildRequest("DELETE", "/agents/agent-d")), 200);
    const test::HttpResponse pull = test::httpGet(server.port(), "/pull");
    VERIFY_STATUS(pull, 200);
    QVERIFY(pull.body.contains("\"contributing_agents\":3"));
    QVERIFY(pull.body.contains(mode == int(MergeMode::Latest) ? "\"merge_mode\":\"latest\""
                                                              : "\"merge_mode\":\"cumulative\""));

    // While the server runs, on a connection of its own.
    const std::unique_ptr<Store> reader = openReader(*server.store());
    QVERIFY(reader);
    Exporter exporter(*reader);
    QBuffer buffer;
    QVERIFY(buffer.open(QIODevice::WriteOnly));
    const ExportResult streamed = exporter.write(ExportWhat::Merged, ExportFormat::Json, &buffer);
    QVERIFY2(streamed.ok, qPrintable(streamed.error));
    QCOMPARE(buffer.data(), pull.body);
    QCOMPARE(streamed.bytes, qint64(pull.body.size()));

    const QString file = path(u"merged.json"_s);
    const ExportResult written = exporter.writeFile(ExportWhat::Merged, ExportFormat::Json, file);
    QVERIFY2(written.ok, qPrintable(written.error));
    QCOMPARE(readAll(file), pull.body);
    const QJsonObject object = QJsonDocument::fromJson(readAll(file)).object();
    QCOMPARE(written.records,
             object.value(u"metadata"_s).toObject().value(u"total_topics"_s).toInteger() +
                 object.value(u"metadata"_s).toObject().value(u"total_facts"_s).toInteger());
    QVERIFY(written.records > 10);
}

void TstExport::mergedCsv()
{
    test::TestServer server;
    QString error;
    QVERIFY2(server.start(&error), qPrintable(error));
    for (const ServerPush &p : serverPushes())
        VERIFY_STATUS(test::httpPostJson(server.port(), "/push", pushBody(p)), 200);
    VERIFY_STATUS(
        test::httpExchange(server.port(), test::buildRequest("DELETE", "/agents/agent-d")), 200);

    // What latest-mode merging gives, worked out here from the pushes.
    std::map<QString, qint64, CodePointLess> topics;
    std::map<QString, qint64, CodePointLess> holders;
    for (const auto &[agent, push] : currentSummaries()) {
        for (const auto &[topic, count] : push.topics)
            topics[topic] += count;
        for (const QString &fact : push.facts)
            ++holders[fact];
    }
    // The server agrees.
    const test::HttpResponse pull = test::httpGet(server.port(), "/pull");
    VERIFY_STATUS(pull, 200);
    const QJsonObject merged = pull.object().value(u"merged_topic_counts"_s).toObject();
    QCOMPARE(qsizetype(merged.size()), qsizetype(topics.size()));
    for (const auto &[topic, count] : topics)
        QCOMPARE(merged.value(topic).toInteger(), count);
    QCOMPARE(qsizetype(pull.object().value(u"unique_fact_hashes"_s).toArray().size()),
             qsizetype(holders.size()));

    const std::unique_ptr<Store> reader = openReader(*server.store());
    QVERIFY(reader);
    Exporter exporter(*reader);
    exporter.setBatchSize(3); // several writes
    const QString file = path(u"merged.csv"_s);
    const ExportResult result = exporter.writeFile(ExportWhat::Merged, ExportFormat::Csv, file);
    QVERIFY2(result.ok, qPrintable(result.error));
    QString why;
    const auto records = test::parseCsv(readAll(file), &why);
    QVERIFY2(records, qPrintable(why));

    QList<QStringList> expected{{u"kind"_s, u"name"_s, u"count"_s}};
    for (const auto &[topic, count] : topics)
        expected.append({u"topic"_s, test::csvGuarded(topic), QString::number(count)});
    for (const auto &[fact, count] : holders)
        expected.append({u"fact"_s, test::csvGuarded(fact), QString::number(count)});
    QCOMPARE(*records, expected);
    QCOMPARE(result.records, qint64(expected.size() - 1));
    // The big count stays exact.
    QVERIFY(records->contains(QStringList{u"topic"_s, u"big"_s, QString::number(BigCount)}));
}

void TstExport::agents_data()
{
    QTest::addColumn<int>("format");
    QTest::addColumn<int>("batch");
    QTest::addRow("json") << int(ExportFormat::Json) << Exporter::DefaultBatchSize;
    QTest::addRow("csv") << int(ExportFormat::Csv) << Exporter::DefaultBatchSize;
    QTest::addRow("json, batches of 2") << int(ExportFormat::Json) << 2;
    QTest::addRow("csv, batches of 1") << int(ExportFormat::Csv) << 1;
}

void TstExport::agents()
{
    QFETCH(int, format);
    QFETCH(int, batch);
    const auto direct = directDatabase();
    QVERIFY(direct);

    // Expected, from the pushes: first/last received, count, newest summary's sizes.
    struct Expected
    {
        Instant first = 0, last = 0, newest = 0;
        qint64 pushes = 0, topics = 0, facts = 0;
    };
    std::map<QString, Expected, CodePointLess> expected;
    for (const test::StoredPush &p : direct->pushes) {
        Expected &e = expected[p.summary.agentId];
        if (e.pushes == 0)
            e.first = p.receivedAt;
        e.last = qMax(e.last, p.receivedAt);
        ++e.pushes;
        if (e.pushes == 1 || p.summary.timestamp >= e.newest) {
            e.newest = p.summary.timestamp;
            e.topics = p.summary.topicCounts.size();
            e.facts = p.summary.factHashes.size();
        }
    }
    QCOMPARE(expected.size(), size_t(5));

    const std::unique_ptr<Store> reader = openReader(direct->url);
    QVERIFY(reader);
    Exporter exporter(*reader);
    exporter.setBatchSize(batch);
    const QString file = path(u"agents.out"_s);
    const ExportResult result = exporter.writeFile(ExportWhat::Agents, ExportFormat(format), file);
    QVERIFY2(result.ok, qPrintable(result.error));
    QCOMPARE(result.records, qint64(expected.size()));
    const QByteArray bytes = readAll(file);

    QList<QStringList> rows;
    if (ExportFormat(format) == ExportFormat::Csv) {
        QString why;
        const auto records = test::parseCsv(bytes, &why);
        QVERIFY2(records, qPrintable(why));
        QCOMPARE(records->first(), (QStringList{u"agent_id"_s, u"first_seen"_s, u"last_seen"_s,
                                                u"pushes"_s, u"topics"_s, u"facts"_s}));
        rows = records->mid(1);
        for (QStringList &row : rows) {
            // Undo the formula guard for the comparison below (checked separately).
            if (row.first().startsWith(u"'="))
                row.first().remove(0, 1);
        }
        QVERIFY(records->contains(
            QStringList{u"'=cmd|' /C calc'!A0"_s, formatIsoTimestamp(Received + Second),
                        formatIsoTimestamp(Received + Second), u"1"_s, u"2"_s, u"2"_s}));
    } else {
        QJsonParseError error;
        const QJsonDocument doc = QJsonDocument::fromJson(bytes, &error);
        QVERIFY2(error.error == QJsonParseError::NoError, qPrintable(error.errorString()));
        QVERIFY(doc.isArray());
        for (const QJsonValue &v : doc.array()) {
            const QJsonObject o = v.toObject();
            QCOMPARE(o.size(), qsizetype(6));
            QVERIFY(o.value(u"pushes"_s).isDouble());
            rows.append({o.value(u"agent_id"_s).toString(), o.value(u"first_seen"_s).toString(),
                         o.value(u"last_seen"_s).toString(),
                         QString::number(o.value(u"pushes"_s).toInteger()),
                         QString::number(o.value(u"topics"_s).toInteger()),
                         QString::number(o.value(u"facts"_s).toInteger())});
        }
    }
    QList<QStringList> wanted;
    for (const auto &[agent, e] : expected) {
        wanted.append({agent, formatIsoTimestamp(e.first), formatIsoTimestamp(e.last),
                       QString::number(e.pushes), QString::number(e.topics),
                       QString::number(e.facts)});
    }
    // In code point order, on both databases.
    QCOMPARE(rows, wanted);
    QCOMPARE(wanted.at(3).first(), u"\uFF21-agent"_s);
    QCOMPARE(wanted.at(4).first(), u"😀-agent"_s);
}

void TstExport::historyJsonLines()
{
    const auto direct = directDatabase();
    QVERIFY(direct);
    const std::unique_ptr<Store> reader = openReader(direct->url);
    QVERIFY(reader);
    Exporter exporter(*reader);
    exporter.setBatchSize(2);
    const QString file = path(u"history.jsonl"_s);
    const ExportResult result = exporter.writeFile(ExportWhat::History, ExportFormat::Json, file);
    QVERIFY2(result.ok, qPrintable(result.error));
    QCOMPARE(result.records, qint64(direct->pushes.size()));
    QString why;
    const auto lines = test::parseJsonLines(readAll(file), &why);
    QVERIFY2(lines, qPrintable(why));
    QCOMPARE(lines->size(), direct->pushes.size());
    qint64 previousId = 0;
    for (qsizetype i = 0; i < lines->size(); ++i) {
        const QJsonObject line = lines->at(i);
        const test::StoredPush &p = direct->pushes.at(i);
        const qint64 id = line.value(u"id"_s).toInteger();
        QVERIFY2(id > previousId, "ids ascend");
        previousId = id;
        QCOMPARE(line.value(u"agent_id"_s).toString(), p.summary.agentId);
        QCOMPARE(line.value(u"timestamp"_s).toString(), formatIsoTimestamp(p.summary.timestamp));
        QCOMPARE(line.value(u"received_at"_s).toString(), formatIsoTimestamp(p.receivedAt));
        QCOMPARE(line.value(u"source"_s).toString(), p.source);
        const QJsonObject topics = line.value(u"topic_counts"_s).toObject();
        QCOMPARE(topics.size(), p.summary.topicCounts.size());
        for (const auto &[topic, count] : p.summary.topicCounts)
            QCOMPARE(topics.value(topic).toInteger(-1), count);
        QCOMPARE(line.value(u"fact_hashes"_s).toArray(),
                 QJsonArray::fromStringList(p.summary.factHashes));
        QCOMPARE(line.contains(u"metadata"_s), p.summary.hasMetadata);
        QCOMPARE(line.contains(u"memory_types"_s), p.summary.hasMemoryTypes);
        if (p.summary.hasMetadata)
            QCOMPARE(line.value(u"metadata"_s).toObject(), p.summary.metadata);
        if (p.summary.hasMemoryTypes)
            QCOMPARE(line.value(u"memory_types"_s).toArray(), p.summary.memoryTypes);
    }
    // Exact beyond 2^53, in the text itself.
    QVERIFY(readAll(file).contains(QByteArray::number(BigCount)));
}

void TstExport::historyCsv()
{
    const auto direct = directDatabase();
    QVERIFY(direct);
    const std::unique_ptr<Store> reader = openReader(direct->url);
    QVERIFY(reader);
    Exporter exporter(*reader);
    exporter.setBatchSize(3);
    const QString file = path(u"history.csv"_s);
    const ExportResult result = exporter.writeFile(ExportWhat::History, ExportFormat::Csv, file);
    QVERIFY2(result.ok, qPrintable(result.error));
    QString why;
    const auto records = test::parseCsv(readAll(file), &why);
    QVERIFY2(records, qPrintable(why));
    QCOMPARE(records->size(), direct->pushes.size() + 1);
    QCOMPARE(records->first(),
             (QStringList{u"id"_s, u"agent_id"_s, u"timestamp"_s, u"received_at"_s, u"source"_s,
                          u"topics"_s, u"facts"_s}));
    qint64 previousId = 0;
    for (qsizetype i = 0; i < direct->pushes.size(); ++i) {
        const QStringList &row = records->at(i + 1);
        const test::StoredPush &p = direct->pushes.at(i);
        QCOMPARE(row.size(), qsizetype(7));
        QVERIFY(row.at(0).toLongLong() > previousId);
        previousId = row.at(0).toLongLong();
        QCOMPARE(row.mid(1), (QStringList{test::csvGuarded(p.summary.agentId),
                                          formatIsoTimestamp(p.summary.timestamp),
                                          formatIsoTimestamp(p.receivedAt), p.source,
                                          QString::number(p.summary.topicCounts.size()),
                                          QString::number(p.summary.factHashes.size())}));
    }
}

void TstExport::everyExportParses_data()
{
    QTest::addColumn<int>("what");
    QTest::addColumn<int>("format");
    for (ExportWhat w : {ExportWhat::Merged, ExportWhat::Agents, ExportWhat::History}) {
        for (ExportFormat f : {ExportFormat::Json, ExportFormat::Csv}) {
            QTest::addRow("%s %s", qPrintable(exportWhatName(w)), qPrintable(exportFormatName(f)))
                << int(w) << int(f);
        }
    }
}

void TstExport::everyExportParses()
{
    QFETCH(int, what);
    QFETCH(int, format);
    const auto direct = directDatabase(40, 9);
    QVERIFY(direct);
    const std::unique_ptr<Store> reader = openReader(direct->url);
    QVERIFY(reader);
    Exporter exporter(*reader);
    exporter.setBatchSize(7);
    const QString file = path(u"out"_s);
    const ExportResult result = exporter.writeFile(ExportWhat(what), ExportFormat(format), file);
    QVERIFY2(result.ok, qPrintable(result.error));
    QVERIFY(!result.cancelled);
    const QByteArray bytes = readAll(file);
    QCOMPARE(result.bytes, qint64(bytes.size()));
    qint64 records = -1;
    QString why;
    if (ExportFormat(format) == ExportFormat::Csv) {
        const auto rows = test::parseCsv(bytes, &why);
        QVERIFY2(rows, qPrintable(why));
        const qsizetype columns = rows->first().size();
        for (const QStringList &row : *rows)
            QCOMPARE(row.size(), columns);
        records = rows->size() - 1;
    } else if (ExportWhat(what) == ExportWhat::History) {
        const auto lines = test::parseJsonLines(bytes, &why);
        QVERIFY2(lines, qPrintable(why));
        records = lines->size();
    } else {
        QJsonParseError error;
        const QJsonDocument doc = QJsonDocument::fromJson(bytes, &error);
        QVERIFY2(error.error == QJsonParseError::NoError, qPrintable(error.errorString()));
        if (ExportWhat(what) == ExportWhat::Agents) {
            records = doc.array().size();
        } else {
            records = doc.object().value(u"merged_topic_counts"_s).toObject().size() +
                      doc.object().value(u"unique_fact_hashes"_s).toArray().size();
        }
    }
    QCOMPARE(records, result.records);
    switch (ExportWhat(what)) {
    case ExportWhat::History:
        QCOMPARE(records, qint64(direct->pushes.size()));
        break;
    case ExportWhat::Agents:
        QCOMPARE(records, qint64(5 + 9));
        break;
    case ExportWhat::Merged:
        QVERIFY(records > 20);
        break;
    }
}

void TstExport::emptyDatabase_data()
{
    everyExportParses_data();
}

void TstExport::emptyDatabase()
{
    QFETCH(int, what);
    QFETCH(int, format);
    test::TestServer server;
    QString error;
    QVERIFY2(server.start(&error), qPrintable(error));
    const std::unique_ptr<Store> reader = openReader(*server.store());
    QVERIFY(reader);
    Exporter exporter(*reader);
    ProgressLog log;
    exporter.setProgress(log.callback());
    const QString file = path(u"empty.out"_s);
    const ExportResult result = exporter.writeFile(ExportWhat(what), ExportFormat(format), file);
    QVERIFY2(result.ok, qPrintable(result.error));
    QCOMPARE(result.records, qint64(0));
    QVERIFY(!log.calls.isEmpty());
    QCOMPARE(log.calls.last(), (QPair<qint64, qint64>(0, 0)));
    const QByteArray bytes = readAll(file);
    QByteArray expected;
    switch (ExportWhat(what)) {
    case ExportWhat::Merged:
        if (ExportFormat(format) == ExportFormat::Json) {
            const test::HttpResponse pull = test::httpGet(server.port(), "/pull");
            VERIFY_STATUS(pull, 200);
            expected = pull.body;
            QVERIFY(expected.contains("\"last_updated\":null"));
        } else {
            expected = "kind,name,count\r\n";
        }
        break;
    case ExportWhat::Agents:
        expected = ExportFormat(format) == ExportFormat::Json
                       ? QByteArray("[]\n")
                       : QByteArray("agent_id,first_seen,last_seen,pushes,topics,facts\r\n");
        break;
    case ExportWhat::History:
        expected = ExportFormat(format) == ExportFormat::Json
                       ? QByteArray()
                       : QByteArray("id,agent_id,timestamp,received_at,source,topics,facts\r\n");
        break;
    }
    QCOMPARE(bytes, expected);
    QVERIFY(QFileInfo::exists(file)); // an empty history is an empty file, not no file
}

void TstExport::progressReachesTotal_data()
{
    QTest::addColumn<int>("what");
    QTest::addColumn<int>("format");
    QTest::addColumn<qint64>("total");
    QTest::addRow("history json") << int(ExportWhat::History) << int(ExportFormat::Json)
                                  << qint64(7 + 250);
    QTest::addRow("history csv") << int(ExportWhat::History) << int(ExportFormat::Csv)
                                 << qint64(7 + 250);
    QTest::addRow("agents json") << int(ExportWhat::Agents) << int(ExportFormat::Json)
                                 << qint64(5 + 60);
    QTest::addRow("agents csv") << int(ExportWhat::Agents) << int(ExportFormat::Csv)
                                << qint64(5 + 60);
    QTest::addRow("merged csv") << int(ExportWhat::Merged) << int(ExportFormat::Csv) << qint64(-1);
    QTest::addRow("merged json") << int(ExportWhat::Merged) << int(ExportFormat::Json)
                                 << qint64(-1);
}

void TstExport::progressReachesTotal()
{
    QFETCH(int, what);
    QFETCH(int, format);
    QFETCH(qint64, total);
    const auto direct = directDatabase(250, 60);
    QVERIFY(direct);
    const std::unique_ptr<Store> reader = openReader(direct->url);
    QVERIFY(reader);
    Exporter exporter(*reader);
    exporter.setBatchSize(10);
    ProgressLog log;
    exporter.setProgress(log.callback());
    const ExportResult result =
        exporter.writeFile(ExportWhat(what), ExportFormat(format), path(u"p.out"_s));
    QVERIFY2(result.ok, qPrintable(result.error));
    if (total < 0)
        total = result.records; // merged: topics plus facts
    QVERIFY(total > 20);
    QCOMPARE(result.records, total);
    QVERIFY(log.calls.size() >= 2);
    QCOMPARE(log.calls.first(), (QPair<qint64, qint64>(0, total)));
    QCOMPARE(log.calls.last(), (QPair<qint64, qint64>(total, total)));
    for (qsizetype i = 1; i < log.calls.size(); ++i) {
        QVERIFY(log.calls.at(i).first >= log.calls.at(i - 1).first);
        QCOMPARE(log.calls.at(i).second, total);
    }
    if (ExportFormat(format) == ExportFormat::Csv || ExportWhat(what) != ExportWhat::Merged)
        QVERIFY2(log.calls.size() >= total / 10, "a report per batch");
}

void TstExport::cancelLeavesNoFile_data()
{
    QTest::addColumn<int>("what");
    QTest::addColumn<int>("format");
    QTest::addColumn<QString>("when");
    QTest::addColumn<bool>("existing");
    for (const QString &when : {u"start"_s, u"middle"_s, u"end"_s}) {
        for (bool existing : {false, true}) {
            const char *suffix = existing ? ", existing file" : "";
            QTest::addRow("history json, %s%s", qPrintable(when), suffix)
                << int(ExportWhat::History) << int(ExportFormat::Json) << when << existing;
            QTest::addRow("history csv, %s%s", qPrintable(when), suffix)
                << int(ExportWhat::History) << int(ExportFormat::Csv) << when << existing;
            QTest::addRow("agents json, %s%s", qPrintable(when), suffix)
                << int(ExportWhat::Agents) << int(ExportFormat::Json) << when << existing;
            QTest::addRow("merged csv, %s%s", qPrintable(when), suffix)
                << int(ExportWhat::Merged) << int(ExportFormat::Csv) << when << existing;
            QTest::addRow("merged json, %s%s", qPrintable(when), suffix)
                << int(ExportWhat::Merged) << int(ExportFormat::Json) << when << existing;
        }
    }
}

void TstExport::cancelLeavesNoFile()
{
    QFETCH(int, what);
    QFETCH(int, format);
    QFETCH(QString, when);
    QFETCH(bool, existing);
    const auto direct = directDatabase(300, 40);
    QVERIFY(direct);
    const std::unique_ptr<Store> reader = openReader(direct->url);
    QVERIFY(reader);
    // The folder holds only what the test put there (SQLite: the database files).
    const QString file = path(u"export.out"_s);
    const QByteArray before = QByteArrayLiteral("an earlier export, kept\n");
    if (existing)
        QVERIFY(writeText(file, before));
    const QStringList filesBefore = filesInDir();

    Exporter exporter(*reader);
    exporter.setBatchSize(10);
    ProgressLog log;
    log.stopAt = [&when](qint64 done, qint64 total) {
        if (when == u"start")
            return true;
        if (when == u"middle")
            return done > 0 && done >= total / 2;
        return done == total && total > 0;
    };
    exporter.setProgress(log.callback());
    const ExportResult result = exporter.writeFile(ExportWhat(what), ExportFormat(format), file);
    QVERIFY(!result.ok);
    QVERIFY(result.cancelled);
    QVERIFY(!result.error.isEmpty());
    QVERIFY(!log.calls.isEmpty());
    if (when == u"middle" && ExportFormat(format) == ExportFormat::Csv)
        QVERIFY2(log.calls.last().first < log.calls.last().second, "stopped half-way");
    // Nothing new in the folder (no temporary file left), the old file as it was.
    QCOMPARE(filesInDir(), filesBefore);
    QCOMPARE(QFileInfo::exists(file), existing);
    if (existing)
        QCOMPARE(readAll(file), before);
}

void TstExport::failedWriteLeavesNoFile()
{
    const auto direct = directDatabase();
    QVERIFY(direct);
    const std::unique_ptr<Store> reader = openReader(direct->url);
    QVERIFY(reader);
    Exporter exporter(*reader);
    const QString file = path(u"no-such-folder/out.json"_s);
    const ExportResult result = exporter.writeFile(ExportWhat::Agents, ExportFormat::Json, file);
    QVERIFY(!result.ok);
    QVERIFY(!result.cancelled);
    QVERIFY2(result.error.contains(u"no-such-folder"), qPrintable(result.error));
    QVERIFY(!QFileInfo::exists(file));
    QVERIFY(!QFileInfo::exists(path(u"no-such-folder"_s)));
}

void TstExport::historyStopsAtItsStartAndDoesNotBlockWriters()
{
    const auto direct = directDatabase(200, 5);
    QVERIFY(direct);
    const qint64 before = direct->pushes.size();
    const std::unique_ptr<Store> writer = openWritable(direct->url);
    QVERIFY(writer);
    MergeEngine engine;
    QVERIFY(writer->loadAgents(engine));
    QVERIFY(writer->readState());
    engine.setSequence(writer->readState()->sequence);

    const std::unique_ptr<Store> reader = openReader(direct->url);
    QVERIFY(reader);
    Exporter exporter(*reader);
    exporter.setBatchSize(25);
    bool wrote = false;
    QString writeError;
    exporter.setProgress([&](qint64 done, qint64) {
        if (done >= 50 && !wrote) {
            // A push batch commits in the middle of the export, on another connection.
            QList<test::StoredPush> more;
            for (int i = 0; i < 30; ++i)
                more.append({makeSummary(u"late"_s, Received + i * Second, {{u"late"_s, i}}, {}),
                             Received + (1000 + i) * Second, u"127.0.0.1"_s});
            wrote = true;
            if (!test::commitPushes(*writer, engine, more))
                writeError = writer->lastError() + u" (a writer was blocked)"_s;
        }
        return true;
    });
    const QString file = path(u"history.jsonl"_s);
    const ExportResult result = exporter.writeFile(ExportWhat::History, ExportFormat::Json, file);
    QVERIFY2(result.ok, qPrintable(result.error));
    QVERIFY(wrote);
    QVERIFY2(writeError.isEmpty(), qPrintable(writeError));
    QCOMPARE(result.records, before);
    const auto lines = test::parseJsonLines(readAll(file));
    QVERIFY(lines);
    QCOMPARE(qint64(lines->size()), before);
    for (const QJsonObject &line : *lines)
        QVERIFY(line.value(u"agent_id"_s).toString() != u"late");
    QCOMPARE(writer->historyExtent()->count, before + 30);
}

QTEST_GUILESS_MAIN(TstExport)
#include "tst_export.moc"
