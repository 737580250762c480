// `agmem-coordinator export` as a user runs it (the real binary, AGMEM_TEST_BINARY): against a
// database a running server writes to, to a file and to standard output, and bad values.
// Every process gets a throwaway HOME / XDG_CONFIG_HOME / XDG_DATA_HOME.

#include "clisupport.h"
#include "exportsupport.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QStandardPaths>
#include <QtTest>

using namespace agmem::test;
using namespace Qt::StringLiterals;

namespace {

constexpr int TimeoutMs = 10000;

QByteArray pushBody(const QString &agent, const QString &topic, int count, const QString &fact,
                    const QString &timestamp)
{
    const QJsonObject summary{
        {u"agent_id"_s, agent},
        {u"timestamp"_s, timestamp},
        {u"topic_counts"_s, QJsonObject{{topic, count}}},
        {u"fact_hashes"_s, QJsonArray{fact}},
        {u"metadata"_s, QJsonObject{{u"version"_s, u"0.3.0"_s}}},
    };
    return QJsonDocument(QJsonObject{{u"summary"_s, summary}}).toJson(QJsonDocument::Compact);
}

QByteArray readAll(const QString &path)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return QByteArrayLiteral("<cannot read>");
    return file.readAll();
}

} // namespace

class TstExportCli : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void init();
    void cleanup();

    void exportWhileServerRuns();
    void standardOutput();
    void defaultsToMergedJsonOnStandardOutput();
    void badValues_data();
    void badValues();
    void missingDatabaseIsNotCreated();

private:
    QString tmp(const QString &name) const { return m_cli.tmp(name); }
    QString dbPath() const { return tmp(u"c.db"_s); }
    QString dbUrl() const { return u"sqlite://"_s + dbPath(); }
    QProcessEnvironment environment() const { return m_cli.environment(); }
    QProcess *launch(const QStringList &arguments)
    {
        return m_cli.launch(arguments, environment());
    }
    Finished run(const QStringList &arguments)
    {
        return m_cli.runToExit(arguments, environment(), TimeoutMs);
    }
    // Starts a headless server on dbUrl(), port 0; its port, or 0 (and `why`).
    quint16 startServer(QString *why);
    // Pushes `count` summaries through the server; false when one is not accepted.
    bool push(quint16 port, int first, int count);

    CliRunner m_cli;
};

void TstExportCli::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
    QString why;
    QVERIFY2(m_cli.findBinary(&why), qPrintable(why));
}

void TstExportCli::init()
{
    QVERIFY(m_cli.newHome());
}

void TstExportCli::cleanup()
{
    m_cli.cleanup(TimeoutMs);
}

quint16 TstExportCli::startServer(QString *why)
{
    QProcess *process =
        launch({u"--no-gui"_s, u"--port"_s, u"0"_s, u"--db"_s, dbUrl(), u"--no-access-log"_s,
                u"--auth"_s, u"open"_s, u"--rate-limit"_s, u"0"_s});
    return CliRunner::waitListening(process, why, TimeoutMs);
}

bool TstExportCli::push(quint16 port, int first, int count)
{
    for (int i = first; i < first + count; ++i) {
        // Nasty topics: commas, quotes, newlines, non-ASCII, a formula.
        const QString topic = i % 3 == 0   ? u"comma, \"quoted\"\nline %1"_s.arg(i % 4)
                              : i % 3 == 1 ? u"Ünïcödé 😀 %1"_s.arg(i % 5)
                                           : u"=SUM(A%1)"_s.arg(i % 2);
        const QByteArray body =
            pushBody(u"agent-%1"_s.arg(i % 4), topic, i, u"fact-%1"_s.arg(i % 6),
                     u"2026-01-01T00:00:%1Z"_s.arg(i % 60, 2, 10, QChar(u'0')));
        if (httpRequest(port, "POST", "/push", body).status != 200)
            return false;
    }
    return true;
}

void TstExportCli::exportWhileServerRuns()
{
    QString why;
    const quint16 port = startServer(&why);
    QVERIFY2(port, qPrintable(why));
    QVERIFY(push(port, 0, 25));

    // Merged JSON: the /pull body, byte for byte, while the server keeps running.
    const QString merged = tmp(u"merged.json"_s);
    Finished run = this->run({u"export"_s, u"--db"_s, dbUrl(), u"--what"_s, u"merged"_s,
                              u"--format"_s, u"json"_s, u"--out"_s, merged});
    QVERIFY(run.finished);
    QVERIFY2(run.exitCode == 0, run.err.constData());
    const HttpResult pull = httpRequest(port, "GET", "/pull");
    QCOMPARE(pull.status, 200);
    QCOMPARE(readAll(merged), pull.body);
    QVERIFY2(
        run.out.startsWith(QByteArray("exported merged as json to " + merged.toLocal8Bit() + ": ")),
        run.out.constData());
    QVERIFY(run.out.contains(" topics and facts, "));
    QCOMPARE(run.err, QByteArray());

    // The server still takes pushes; the history export has every one, in order.
    QVERIFY(push(port, 25, 5));
    const QString history = tmp(u"history.jsonl"_s);
    run = this->run({u"export"_s, u"--db"_s, dbUrl(), u"--what"_s, u"history"_s, u"--format"_s,
                     u"json"_s, u"--out"_s, history});
    QVERIFY(run.finished);
    QVERIFY2(run.exitCode == 0, run.err.constData());
    QVERIFY2(run.out.contains(": 30 pushes, "), run.out.constData());
    const auto lines = agmem::test::parseJsonLines(readAll(history), &why);
    QVERIFY2(lines, qPrintable(why));
    QCOMPARE(lines->size(), qsizetype(30));
    for (int i = 0; i < 30; ++i) {
        QCOMPARE(lines->at(i).value(u"agent_id"_s).toString(), u"agent-%1"_s.arg(i % 4));
        QCOMPARE(lines->at(i).value(u"fact_hashes"_s).toArray(),
                 (QJsonArray{u"fact-%1"_s.arg(i % 6)}));
        QCOMPARE(lines->at(i).value(u"metadata"_s).toObject().value(u"version"_s).toString(),
                 u"0.3.0"_s);
    }

    // Agents and the history as CSV parse strictly.
    const QString agents = tmp(u"agents.csv"_s);
    run = this->run({u"export"_s, u"--db"_s, dbUrl(), u"--what"_s, u"agents"_s, u"--format"_s,
                     u"csv"_s, u"--out"_s, agents});
    QVERIFY2(run.exitCode == 0, run.err.constData());
    const auto agentRows = agmem::test::parseCsv(readAll(agents), &why);
    QVERIFY2(agentRows, qPrintable(why));
    QCOMPARE(agentRows->size(), qsizetype(5));
    QCOMPARE(agentRows->at(1).first(), u"agent-0"_s);
    QCOMPARE(agentRows->at(1).at(3), u"8"_s); // pushes 0, 4, ..., 28

    const QString mergedCsv = tmp(u"merged.csv"_s);
    run = this->run({u"export"_s, u"--db"_s, dbUrl(), u"--what"_s, u"merged"_s, u"--format"_s,
                     u"csv"_s, u"--out"_s, mergedCsv});
    QVERIFY2(run.exitCode == 0, run.err.constData());
    const auto mergedRows = agmem::test::parseCsv(readAll(mergedCsv), &why);
    QVERIFY2(mergedRows, qPrintable(why));
    const QJsonObject topics = QJsonDocument::fromJson(httpRequest(port, "GET", "/pull").body)
                                   .object()
                                   .value(u"merged_topic_counts"_s)
                                   .toObject();
    qsizetype topicRows = 0;
    for (const QStringList &row : mergedRows->mid(1)) {
        if (row.first() != u"topic")
            continue;
        ++topicRows;
        QString name = row.at(1);
        if (name.startsWith(u"'="))
            name.remove(0, 1);
        QVERIFY2(topics.contains(name), qPrintable(name));
        QCOMPARE(row.at(2).toLongLong(), topics.value(name).toInteger());
    }
    QCOMPARE(topicRows, topics.size());
}

void TstExportCli::standardOutput()
{
    QString why;
    const quint16 port = startServer(&why);
    QVERIFY2(port, qPrintable(why));
    QVERIFY(push(port, 0, 12));

    Finished run =
        this->run({u"export"_s, u"--db"_s, dbUrl(), u"--what"_s, u"history"_s, u"--out"_s, u"-"_s});
    QVERIFY(run.finished);
    QVERIFY2(run.exitCode == 0, run.err.constData());
    // Standard output holds the export alone; the summary goes to standard error.
    const auto lines = agmem::test::parseJsonLines(run.out, &why);
    QVERIFY2(lines, qPrintable(why));
    QCOMPARE(lines->size(), qsizetype(12));
    QVERIFY2(run.err.startsWith("exported history as json to standard output: 12 pushes, "),
             run.err.constData());

    run = this->run({u"export"_s, u"--db"_s, dbUrl(), u"--what"_s, u"agents"_s, u"--format"_s,
                     u"csv"_s, u"--out"_s, u"-"_s});
    QVERIFY2(run.exitCode == 0, run.err.constData());
    const auto rows = agmem::test::parseCsv(run.out, &why);
    QVERIFY2(rows, qPrintable(why));
    QCOMPARE(rows->size(), qsizetype(5));
    QVERIFY(!QFileInfo::exists(tmp(u"-"_s)));
}

void TstExportCli::defaultsToMergedJsonOnStandardOutput()
{
    QString why;
    const quint16 port = startServer(&why);
    QVERIFY2(port, qPrintable(why));
    QVERIFY(push(port, 0, 3));
    const Finished run = this->run({u"export"_s, u"--db"_s, dbUrl()});
    QVERIFY(run.finished);
    QVERIFY2(run.exitCode == 0, run.err.constData());
    QCOMPARE(run.out, httpRequest(port, "GET", "/pull").body);
    QVERIFY2(run.err.startsWith("exported merged as json to standard output: "),
             run.err.constData());
}

void TstExportCli::badValues_data()
{
    QTest::addColumn<QStringList>("arguments");
    QTest::addColumn<QString>("message");
    QTest::addRow("what") << QStringList{u"--what"_s, u"everything"_s}
                          << u"--what: expected merged, agents or history, got \"everything\""_s;
    QTest::addRow("what, capitalised")
        << QStringList{u"--what"_s, u"History"_s} << u"--what: expected"_s;
    QTest::addRow("what, empty") << QStringList{u"--what"_s, u""_s} << u"--what: expected"_s;
    QTest::addRow("format") << QStringList{u"--format"_s, u"xml"_s}
                            << u"--format: expected json or csv, got \"xml\""_s;
    QTest::addRow("format and what")
        << QStringList{u"--what"_s, u"agents"_s, u"--format"_s, u"jsonl"_s}
        << u"--format: expected json or csv"_s;
    QTest::addRow("extra argument")
        << QStringList{u"history"_s} << u"usage: agmem-coordinator export"_s;
    QTest::addRow("empty out") << QStringList{u"--out="_s} << u"--out: expected a file name"_s;
}

void TstExportCli::badValues()
{
    QFETCH(QStringList, arguments);
    QFETCH(QString, message);
    // A database with data, so only the values can be wrong.
    QString why;
    const quint16 port = startServer(&why);
    QVERIFY2(port, qPrintable(why));
    QVERIFY(push(port, 0, 2));

    const QString out = tmp(u"out.file"_s);
    QStringList all{u"export"_s, u"--db"_s, dbUrl()};
    all += arguments;
    if (!arguments.join(u' ').contains(u"--out"))
        all += QStringList{u"--out"_s, out};
    const Finished run = this->run(all);
    QVERIFY(run.finished);
    QCOMPARE(run.exitStatus, QProcess::NormalExit);
    QCOMPARE(run.exitCode, 2);
    QVERIFY2(QString::fromLocal8Bit(run.err).contains(message), run.err.constData());
    QCOMPARE(run.out, QByteArray());
    QVERIFY(!QFileInfo::exists(out));
}

void TstExportCli::missingDatabaseIsNotCreated()
{
    const QString out = tmp(u"out.json"_s);
    const QString missing = tmp(u"missing.db"_s);
    const Finished run = this->run({u"export"_s, u"--db"_s, u"sqlite://"_s + missing, u"--what"_s,
                                    u"agents"_s, u"--out"_s, out});
    QVERIFY(run.finished);
    QCOMPARE(run.exitCode, 1);
    QVERIFY2(run.err.contains("missing.db"), run.err.constData());
    QVERIFY(!QFileInfo::exists(out));
    QVERIFY(!QFileInfo::exists(missing));

    const Finished memory = this->run({u"export"_s, u"--db"_s, u":memory:"_s, u"--out"_s, out});
    QCOMPARE(memory.exitCode, 2);
    QVERIFY2(memory.err.contains(":memory:"), memory.err.constData());
    QVERIFY(!QFileInfo::exists(out));
}

QTEST_GUILESS_MAIN(TstExportCli)
#include "tst_export_cli.moc"
