// `agmem-coordinator export` as a user runs it (the real binary, AGMEM_TEST_BINARY): against a
// database a running server writes to, to a file and to standard output, and bad values.
// Every process gets a throwaway HOME / XDG_CONFIG_HOME / XDG_DATA_HOME.

#include "exportsupport.h"

#include <QDeadlineTimer>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRegularExpression>
#include <QStandardPaths>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QtTest>

#include <memory>
#include <vector>

using namespace Qt::StringLiterals;

namespace {

constexpr int TimeoutMs = 10000;

struct HttpResult
{
    int status = 0;
    QByteArray body;
};

// One request with Connection: close; reads until the server hangs up.
HttpResult httpRequest(quint16 port, const QByteArray &method, const QByteArray &path,
                       const QByteArray &body = QByteArray())
{
    HttpResult result;
    QTcpSocket socket;
    socket.connectToHost(QHostAddress::LocalHost, port);
    if (!socket.waitForConnected(3000))
        return result;
    QByteArray request =
        method + ' ' + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
    if (method == "POST")
        request +=
            "Content-Type: application/json\r\nContent-Length: " + QByteArray::number(body.size()) +
            "\r\n";
    socket.write(request + "\r\n" + body);
    QByteArray response;
    const QDeadlineTimer deadline(5000);
    while (!deadline.hasExpired() && socket.waitForReadyRead(int(deadline.remainingTime())))
        response += socket.readAll();
    response += socket.readAll();
    const qsizetype split = response.indexOf("\r\n\r\n");
    if (split < 0 || !response.startsWith("HTTP/1.1 "))
        return result;
    result.status = response.mid(9, 3).toInt();
    result.body = response.mid(split + 4);
    return result;
}

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

struct Finished
{
    bool finished = false;
    QProcess::ExitStatus exitStatus = QProcess::CrashExit;
    int exitCode = -1;
    QByteArray out;
    QByteArray err;
};

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
    QString tmp(const QString &name) const { return m_dir->filePath(name); }
    QString dbPath() const { return tmp(u"c.db"_s); }
    QString dbUrl() const { return u"sqlite://"_s + dbPath(); }
    QProcessEnvironment environment() const;
    QProcess *launch(const QStringList &arguments);
    Finished run(const QStringList &arguments);
    // Starts a headless server on dbUrl(), port 0; its port, or 0 (and `why`).
    quint16 startServer(QString *why);
    // Pushes `count` summaries through the server; false when one is not accepted.
    bool push(quint16 port, int first, int count);

    QString m_binary;
    std::unique_ptr<QTemporaryDir> m_dir;
    std::vector<std::unique_ptr<QProcess>> m_processes;
};

void TstExportCli::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
    QVERIFY2(!qEnvironmentVariableIsEmpty("AGMEM_TEST_BINARY"),
             "AGMEM_TEST_BINARY is not set (run through ctest)");
    m_binary = QFileInfo(qEnvironmentVariable("AGMEM_TEST_BINARY")).absoluteFilePath();
    QVERIFY2(QFileInfo(m_binary).isExecutable(), qPrintable(m_binary));
}

void TstExportCli::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
}

void TstExportCli::cleanup()
{
    for (const auto &process : m_processes) {
        if (process->state() != QProcess::NotRunning) {
            process->kill();
            process->waitForFinished(TimeoutMs);
        }
    }
    m_processes.clear();
    m_dir.reset();
}

QProcessEnvironment TstExportCli::environment() const
{
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    const QStringList keys = env.keys();
    for (const QString &key : keys) {
        if (key.startsWith(u"AGMEM_COORDINATOR_") || key == u"DATABASE_URL" ||
            key == u"QT_MESSAGE_PATTERN" || key == u"QT_LOGGING_RULES" || key == u"QT_LOGGING_CONF")
            env.remove(key);
    }
    env.insert(u"HOME"_s, m_dir->path());
    env.insert(u"XDG_CONFIG_HOME"_s, tmp(u"config"_s));
    env.insert(u"XDG_CONFIG_DIRS"_s, tmp(u"system-config"_s));
    env.insert(u"XDG_DATA_HOME"_s, tmp(u"data"_s));
    return env;
}

QProcess *TstExportCli::launch(const QStringList &arguments)
{
    auto process = std::make_unique<QProcess>();
    process->setProgram(m_binary);
    process->setArguments(arguments);
    process->setProcessEnvironment(environment());
    process->setWorkingDirectory(m_dir->path());
    process->start();
    m_processes.push_back(std::move(process));
    return m_processes.back().get();
}

Finished TstExportCli::run(const QStringList &arguments)
{
    QProcess *process = launch(arguments);
    Finished result;
    result.finished = process->waitForFinished(TimeoutMs);
    result.exitStatus = process->exitStatus();
    result.exitCode = process->exitCode();
    result.out = process->readAllStandardOutput();
    result.err = process->readAllStandardError();
    return result;
}

quint16 TstExportCli::startServer(QString *why)
{
    static const QRegularExpression listening(
        u"^agmem-coordinator listening on http://127\\.0\\.0\\.1:(\\d+)/?\\n"_s,
        QRegularExpression::MultilineOption);
    QProcess *process =
        launch({u"--no-gui"_s, u"--port"_s, u"0"_s, u"--db"_s, dbUrl(), u"--no-access-log"_s,
                u"--auth"_s, u"open"_s, u"--rate-limit"_s, u"0"_s});
    if (!process->waitForStarted(TimeoutMs)) {
        *why = u"did not start: "_s + process->errorString();
        return 0;
    }
    QByteArray out;
    const QDeadlineTimer deadline(TimeoutMs);
    while (true) {
        out += process->readAllStandardOutput();
        const auto match = listening.match(QString::fromLocal8Bit(out));
        if (match.hasMatch())
            return quint16(match.captured(1).toUInt());
        if (process->state() == QProcess::NotRunning || deadline.hasExpired())
            break;
        process->waitForReadyRead(int(qMax<qint64>(1, deadline.remainingTime())));
    }
    *why = u"no \"listening on\" line; stdout: %1 stderr: %2"_s.arg(
        QString::fromLocal8Bit(out), QString::fromLocal8Bit(process->readAllStandardError()));
    return 0;
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
