// Runs the real agmem-coordinator binary (AGMEM_TEST_BINARY) as a user would: command
// line, environment, saved settings, signals, access log, database location. Every process
// gets a throwaway HOME / XDG_CONFIG_HOME / XDG_DATA_HOME so the user's files are never
// touched.

#include "clisupport.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRandomGenerator>
#include <QRegularExpression>
#include <QStandardPaths>
#include <QTcpServer>
#include <QtTest>

#include <signal.h>
#include <sys/types.h>

using namespace agmem::test;
using namespace Qt::StringLiterals;

namespace {

// Generous bounds; a healthy start or stop takes well under 200 ms.
constexpr int StartTimeoutMs = 5000;
constexpr int StopTimeoutMs = 5000;
// What "quickly" means for a failing start and for a signal-triggered stop.
constexpr qint64 QuickMs = 3000;

QByteArray pushBody(const QString &agent, int episodic,
                    const QString &timestamp = u"2026-11-27T09:29:35.164165+00:00"_s)
{
    const QJsonObject summary{
        {u"agent_id"_s, agent},
        {u"timestamp"_s, timestamp},
        {u"topic_counts"_s, QJsonObject{{u"episodic"_s, episodic}}},
        {u"fact_hashes"_s, QJsonArray{QString(u"fact-of-"_s + agent)}},
    };
    return QJsonDocument(QJsonObject{{u"summary"_s, summary}}).toJson(QJsonDocument::Compact);
}

// The merged count of topic "episodic", -1 when /pull failed or has no such topic.
qint64 pulledEpisodic(quint16 port)
{
    const HttpResult pull = httpRequest(port, "GET", "/pull");
    if (pull.status != 200)
        return -1;
    return pull.json()
        .value(u"merged_topic_counts"_s)
        .toObject()
        .value(u"episodic"_s)
        .toInteger(-1);
}

QStringList nonEmptyLines(const QByteArray &text)
{
    return QString::fromLocal8Bit(text).split(u'\n', Qt::SkipEmptyParts);
}

// Lines of `text` that contain `needle`.
QStringList linesContaining(const QByteArray &text, const QString &needle)
{
    return nonEmptyLines(text).filter(needle);
}

} // namespace

class TstCli : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void init();
    void cleanup();

    void version();
    void help();
    void badOptions_data();
    void badOptions();
    void badEnvironmentValues_data();
    void badEnvironmentValues();
    void portInUse();
    void databaseNotADatabase();
    void databaseFolderCannotBeCreated();
    void environmentPortAndDatabaseUrl();
    void mergeModePrecedence_data();
    void mergeModePrecedence();
    void savedSettingsAlone();
    void signalStopsAndKeepsPushes_data();
    void signalStopsAndKeepsPushes();
    void killedProcessKeepsConfirmedPush();
    void accessLog();
    void accessLogCanBeTurnedOff();
    void writerThreadUnlessTurnedOff_data();
    void writerThreadUnlessTurnedOff();
    void durabilityNormal();
    void defaultDatabaseLocation();

private:
    QString tmp(const QString &name) const { return m_cli.tmp(name); }
    QString dbPath() const { return tmp(u"c.db"_s); }
    QString dbUrl() const { return u"sqlite://"_s + dbPath(); }
    QString dataHome() const { return tmp(u"data"_s); }
    QString configHome() const { return tmp(u"config"_s); }
    QString settingsPath() const { return configHome() + u"/agmem/agmem-coordinator.conf"_s; }
    QString defaultDbPath() const
    {
        return dataHome() + u"/agmem/agmem-coordinator/coordinator.db"_s;
    }
    QProcessEnvironment environment() const { return m_cli.environment(); }
    QProcess *launch(const QStringList &arguments, const QProcessEnvironment &env)
    {
        return m_cli.launch(arguments, env);
    }
    QProcess *launch(const QStringList &arguments) { return launch(arguments, environment()); }
    quint16 waitListening(QProcess *process, QString *why)
    {
        return CliRunner::waitListening(process, why, StartTimeoutMs);
    }
    // Starts, waits for the port; 0 on failure (with a message in `why`).
    quint16 startServing(const QStringList &arguments, const QProcessEnvironment &env,
                         QProcess **process, QString *why);
    Finished runToExit(const QStringList &arguments, const QProcessEnvironment &env)
    {
        return m_cli.runToExit(arguments, env, StartTimeoutMs);
    }
    Finished runToExit(const QStringList &arguments) { return runToExit(arguments, environment()); }
    // Sends `signal` (SIGTERM through QProcess::terminate) and waits for the exit.
    Finished stop(QProcess *process, int signal);

    CliRunner m_cli;
};

void TstCli::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
    QString why;
    QVERIFY2(m_cli.findBinary(&why), qPrintable(why));
}

void TstCli::init()
{
    QVERIFY(m_cli.newHome());
}

void TstCli::cleanup()
{
    m_cli.cleanup(StopTimeoutMs);
}

quint16 TstCli::startServing(const QStringList &arguments, const QProcessEnvironment &env,
                             QProcess **process, QString *why)
{
    *process = launch(arguments, env);
    return waitListening(*process, why);
}

Finished TstCli::stop(QProcess *process, int signal)
{
    QElapsedTimer timer;
    timer.start();
    if (signal == SIGTERM)
        process->terminate();
    else
#ifdef Q_OS_UNIX
        ::kill(pid_t(process->processId()), signal);
#else
        process->kill(); // no POSIX signals: this suite is left out on Windows (release.yml)
#endif
    const bool finished = process->waitForFinished(StopTimeoutMs);
    return finishedOf(process, finished, timer.elapsed());
}

void TstCli::version()
{
    const Finished run = runToExit({u"--no-gui"_s, u"--version"_s});
    QVERIFY(run.finished);
    QCOMPARE(run.exitStatus, QProcess::NormalExit);
    QCOMPARE(run.exitCode, 0);
    QCOMPARE(run.out, QByteArrayLiteral("agmem-coordinator " AGMEM_VERSION "\n"));
    QCOMPARE(run.err, QByteArray());
}

void TstCli::help()
{
    const Finished run = runToExit({u"--no-gui"_s, u"--help"_s});
    QVERIFY(run.finished);
    QCOMPARE(run.exitStatus, QProcess::NormalExit);
    QCOMPARE(run.exitCode, 0);
    QCOMPARE(run.err, QByteArray());
    const QString text = QString::fromLocal8Bit(run.out);
    for (const QString &mention : {u"--merge-mode"_s, u"--durability"_s, u"--max-body"_s,
                                   u"AGMEM_COORDINATOR_"_s, u"--port"_s, u"--db"_s}) {
        QVERIFY2(text.contains(mention), qPrintable(mention));
    }
    // Printing help must not start a server or create a database.
    QVERIFY(!QFileInfo::exists(defaultDbPath()));
}

void TstCli::badOptions_data()
{
    QTest::addColumn<QStringList>("arguments");
    // Every fragment must be on the single error line.
    QTest::addColumn<QStringList>("fragments");

    QTest::addRow("unknown option") << QStringList{u"--bogus"_s} << QStringList{u"bogus"_s};
    QTest::addRow("port out of range")
        << QStringList{u"--port"_s, u"70000"_s} << QStringList{u"port"_s, u"70000"_s};
    QTest::addRow("port not a number")
        << QStringList{u"--port"_s, u"abc"_s} << QStringList{u"port"_s, u"abc"_s};
    QTest::addRow("port negative")
        << QStringList{u"--port=-1"_s} << QStringList{u"port"_s, u"-1"_s};
    QTest::addRow("merge mode") << QStringList{u"--merge-mode"_s, u"foo"_s}
                                << QStringList{u"merge-mode"_s, u"foo"_s};
    QTest::addRow("durability") << QStringList{u"--durability"_s, u"x"_s}
                                << QStringList{u"durability"_s, u"\"x\""_s};
    QTest::addRow("host not an IP")
        << QStringList{u"--host"_s, u"not-an-ip"_s} << QStringList{u"host"_s, u"not-an-ip"_s};
    QTest::addRow("db scheme") << QStringList{u"--db"_s, u"mysql://x"_s}
                               << QStringList{u"db"_s, u"mysql"_s};
    QTest::addRow("max-body too small")
        << QStringList{u"--max-body"_s, u"10"_s} << QStringList{u"max-body"_s, u"10"_s};
    QTest::addRow("forwarded header") << QStringList{u"--forwarded-header"_s, u"x-real-ip"_s}
                                      << QStringList{u"forwarded-header"_s, u"x-real-ip"_s};
    QTest::addRow("allowed host") << QStringList{u"--allowed-host"_s, u"bad host/x"_s}
                                  << QStringList{u"allowed-host"_s, u"bad host/x"_s};
    QTest::addRow("unknown command")
        << QStringList{u"frobnicate"_s} << QStringList{u"frobnicate"_s};
}

void TstCli::badOptions()
{
    QFETCH(QStringList, arguments);
    QFETCH(QStringList, fragments);

    QStringList all{u"--no-gui"_s, u"--port"_s, u"0"_s, u"--db"_s, dbUrl()};
    all += arguments; // a repeated option: the last one wins
    const Finished run = runToExit(all);
    QVERIFY(run.finished);
    QVERIFY2(run.elapsedMs < QuickMs, qPrintable(QString::number(run.elapsedMs)));
    QCOMPARE(run.exitStatus, QProcess::NormalExit);
    QCOMPARE(run.exitCode, 2);
    QCOMPARE(run.out, QByteArray());
    const QStringList lines = nonEmptyLines(run.err);
    QVERIFY2(lines.size() == 1, run.err.constData());
    QVERIFY2(lines.first().startsWith(u"agmem-coordinator: "), run.err.constData());
    for (const QString &fragment : fragments)
        QVERIFY2(lines.first().contains(fragment), qPrintable(fragment + u" in " + lines.first()));
    // A refused start touches nothing.
    QVERIFY(!QFileInfo::exists(dbPath()));
    QVERIFY(!QFileInfo::exists(dataHome()));
}

void TstCli::badEnvironmentValues_data()
{
    QTest::addColumn<QString>("variable");
    QTest::addColumn<QString>("value");

    QTest::addRow("port abc") << u"AGMEM_COORDINATOR_PORT"_s << u"abc"_s;
    QTest::addRow("port too big") << u"AGMEM_COORDINATOR_PORT"_s << u"65536"_s;
    QTest::addRow("host") << u"AGMEM_COORDINATOR_HOST"_s << u"nowhere"_s;
    QTest::addRow("merge mode") << u"AGMEM_COORDINATOR_MERGE_MODE"_s << u"sometimes"_s;
    QTest::addRow("durability") << u"AGMEM_COORDINATOR_DURABILITY"_s << u"maybe"_s;
    QTest::addRow("max body") << u"AGMEM_COORDINATOR_MAX_BODY"_s << u"lots"_s;
    QTest::addRow("DATABASE_URL") << u"DATABASE_URL"_s << u"mysql://x/y"_s;
}

void TstCli::badEnvironmentValues()
{
    QFETCH(QString, variable);
    QFETCH(QString, value);

    QProcessEnvironment env = environment();
    env.insert(variable, value);
    // No --db: a bad DATABASE_URL must not fall back to anything, and the other rows must
    // fail before the default database is created. --port 0 where the port is not the
    // subject, so a regression that ignores the variable never takes a real port.
    QStringList arguments{u"--no-gui"_s};
    if (variable != u"AGMEM_COORDINATOR_PORT")
        arguments << u"--port"_s << u"0"_s;
    const Finished run = runToExit(arguments, env);
    QVERIFY(run.finished);
    QCOMPARE(run.exitStatus, QProcess::NormalExit);
    QCOMPARE(run.exitCode, 2);
    QCOMPARE(run.out, QByteArray());
    const QStringList lines = nonEmptyLines(run.err);
    QVERIFY2(lines.size() == 1, run.err.constData());
    QVERIFY2(lines.first().startsWith(u"agmem-coordinator: "), run.err.constData());
    // The offending value (or, for a URL, its scheme) is quoted back.
    QVERIFY2(lines.first().contains(value.section(u"://"_s, 0, 0)), run.err.constData());
    QVERIFY(!QFileInfo::exists(defaultDbPath()));
}

void TstCli::portInUse()
{
    QTcpServer occupier;
    QVERIFY(occupier.listen(QHostAddress::LocalHost, 0));
    const QString port = QString::number(occupier.serverPort());

    const Finished run =
        runToExit({u"--no-gui"_s, u"--port"_s, port, u"--db"_s, dbUrl()}, environment());
    QVERIFY(run.finished);
    QVERIFY2(run.elapsedMs < QuickMs, qPrintable(QString::number(run.elapsedMs)));
    QCOMPARE(run.exitStatus, QProcess::NormalExit);
    QCOMPARE(run.exitCode, 1);
    QVERIFY2(!run.out.contains("listening"), run.out.constData());
    // Exactly one line reports the problem, and it names the port.
    const QStringList mentions = linesContaining(run.err, port);
    QVERIFY2(mentions.size() == 1, run.err.constData());
    QVERIFY2(mentions.first().startsWith(u"agmem-coordinator: "), run.err.constData());
    QVERIFY2(mentions.first().contains(u"port " + port), run.err.constData());
    // The port is checked before the database is opened: no empty database is left behind.
    QVERIFY(!QFileInfo::exists(dbPath()));
}

void TstCli::databaseNotADatabase()
{
    QByteArray garbage(4096, Qt::Uninitialized);
    QRandomGenerator rng(20261127);
    for (char &c : garbage)
        c = char(rng.bounded(256));
    garbage.replace(0, 16, "not-sqlite-at-all"); // never the SQLite magic by chance
    {
        QFile file(dbPath());
        QVERIFY(file.open(QIODevice::WriteOnly));
        QCOMPARE(file.write(garbage), garbage.size());
    }

    const Finished run = runToExit({u"--no-gui"_s, u"--port"_s, u"0"_s, u"--db"_s, dbUrl()});
    QVERIFY(run.finished);
    QVERIFY2(run.elapsedMs < QuickMs, qPrintable(QString::number(run.elapsedMs)));
    QCOMPARE(run.exitStatus, QProcess::NormalExit);
    QCOMPARE(run.exitCode, 1);
    QVERIFY2(!run.out.contains("listening"), run.out.constData());
    const QStringList reported = linesContaining(run.err, u"agmem-coordinator: "_s);
    QVERIFY2(reported.size() == 1, run.err.constData());
    QVERIFY2(reported.first().contains(dbPath()), run.err.constData());
    QVERIFY2(reported.first().contains(u"not a database"), run.err.constData());

    // The file that is not ours is left exactly as it was (no WAL switch, no schema).
    QFile file(dbPath());
    QVERIFY(file.open(QIODevice::ReadOnly));
    QCOMPARE(file.readAll(), garbage);
    QVERIFY(!QFileInfo::exists(dbPath() + u"-wal"));
}

void TstCli::databaseFolderCannotBeCreated()
{
    const QString blocker = tmp(u"plain-file"_s);
    {
        QFile file(blocker);
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write("just a file\n");
    }
    const QString db = blocker + u"/sub/c.db"_s;

    const Finished run =
        runToExit({u"--no-gui"_s, u"--port"_s, u"0"_s, u"--db"_s, u"sqlite://"_s + db});
    QVERIFY(run.finished);
    QVERIFY2(run.elapsedMs < QuickMs, qPrintable(QString::number(run.elapsedMs)));
    QCOMPARE(run.exitStatus, QProcess::NormalExit);
    QCOMPARE(run.exitCode, 1);
    QVERIFY2(!run.out.contains("listening"), run.out.constData());
    const QStringList reported = linesContaining(run.err, u"agmem-coordinator: "_s);
    QVERIFY2(reported.size() == 1, run.err.constData());
    QVERIFY2(reported.first().contains(blocker), run.err.constData());
    QVERIFY(QFileInfo(blocker).isFile());
}

void TstCli::environmentPortAndDatabaseUrl()
{
    const QString db = tmp(u"from-env.db"_s);
    QProcessEnvironment env = environment();
    env.insert(u"AGMEM_COORDINATOR_PORT"_s, u"0"_s);
    env.insert(u"DATABASE_URL"_s, u"sqlite://"_s + db);

    QProcess *process = nullptr;
    QString why;
    const quint16 port = startServing({u"--no-gui"_s}, env, &process, &why);
    QVERIFY2(port != 0, qPrintable(why));
    QVERIFY(port != 8000); // the default, had the variable been ignored
    QCOMPARE(httpRequest(port, "POST", "/push", pushBody(u"env-agent"_s, 4)).status, 200);
    QCOMPARE(pulledEpisodic(port), 4);
    QVERIFY(QFileInfo(db).isFile());
    QVERIFY(!QFileInfo::exists(defaultDbPath()));
    const Finished stopped = stop(process, SIGTERM);
    QVERIFY(stopped.finished);
    QCOMPARE(stopped.exitCode, 0);
}

void TstCli::mergeModePrecedence_data()
{
    // Empty: not given at that level.
    QTest::addColumn<QString>("flag");
    QTest::addColumn<QString>("env");
    QTest::addColumn<QString>("saved");
    QTest::addColumn<QString>("expected");

    QTest::addRow("default") << QString() << QString() << QString() << u"latest"_s;
    QTest::addRow("flag") << u"cumulative"_s << QString() << QString() << u"cumulative"_s;
    QTest::addRow("environment") << QString() << u"cumulative"_s << QString() << u"cumulative"_s;
    QTest::addRow("flag beats environment")
        << u"latest"_s << u"cumulative"_s << QString() << u"latest"_s;
    QTest::addRow("saved settings") << QString() << QString() << u"cumulative"_s << u"cumulative"_s;
    QTest::addRow("environment beats saved settings")
        << QString() << u"latest"_s << u"cumulative"_s << u"latest"_s;
    QTest::addRow("flag beats saved settings")
        << u"latest"_s << QString() << u"cumulative"_s << u"latest"_s;
    QTest::addRow("flag beats both")
        << u"cumulative"_s << u"latest"_s << u"latest"_s << u"cumulative"_s;
}

void TstCli::mergeModePrecedence()
{
    QFETCH(QString, flag);
    QFETCH(QString, env);
    QFETCH(QString, saved);
    QFETCH(QString, expected);

    QStringList arguments{u"--no-gui"_s, u"--port"_s, u"0"_s, u"--db"_s, dbUrl()};
    if (!flag.isEmpty())
        arguments << u"--merge-mode"_s << flag;
    QProcessEnvironment processEnv = environment();
    if (!env.isEmpty())
        processEnv.insert(u"AGMEM_COORDINATOR_MERGE_MODE"_s, env);
    if (!saved.isEmpty()) {
        QVERIFY(QDir().mkpath(QFileInfo(settingsPath()).absolutePath()));
        QFile file(settingsPath());
        QVERIFY(file.open(QIODevice::WriteOnly | QIODevice::Text));
        file.write("[General]\nmerge-mode=" + saved.toUtf8() + "\n");
    }

    QProcess *process = nullptr;
    QString why;
    const quint16 port = startServing(arguments, processEnv, &process, &why);
    QVERIFY2(port != 0, qPrintable(why));
    const QByteArray body = pushBody(u"same-agent"_s, 3);
    QCOMPARE(httpRequest(port, "POST", "/push", body).status, 200);
    QCOMPARE(httpRequest(port, "POST", "/push", body).status, 200);
    const HttpResult pull = httpRequest(port, "GET", "/pull");
    QCOMPARE(pull.status, 200);
    const QJsonObject json = pull.json();
    QCOMPARE(json.value(u"metadata"_s).toObject().value(u"merge_mode"_s).toString(), expected);
    const qint64 episodic =
        json.value(u"merged_topic_counts"_s).toObject().value(u"episodic"_s).toInteger(-1);
    QCOMPARE(episodic, expected == u"cumulative" ? 6 : 3);
}

void TstCli::savedSettingsAlone()
{
    // Port, database and merge mode all from the settings file, nothing on the command line
    // but --no-gui.
    const QString db = tmp(u"from-settings.db"_s);
    QVERIFY(QDir().mkpath(QFileInfo(settingsPath()).absolutePath()));
    {
        QFile file(settingsPath());
        QVERIFY(file.open(QIODevice::WriteOnly | QIODevice::Text));
        file.write("[General]\nport=0\nmerge-mode=cumulative\ndb=sqlite://" + db.toUtf8() + "\n");
    }
    QProcess *process = nullptr;
    QString why;
    const quint16 port = startServing({u"--no-gui"_s}, environment(), &process, &why);
    QVERIFY2(port != 0, qPrintable(why));
    QVERIFY(port != 8000);
    const QByteArray body = pushBody(u"saved-agent"_s, 2);
    QCOMPARE(httpRequest(port, "POST", "/push", body).status, 200);
    QCOMPARE(httpRequest(port, "POST", "/push", body).status, 200);
    QCOMPARE(pulledEpisodic(port), 4);
    QVERIFY(QFileInfo(db).isFile());
    QVERIFY(!QFileInfo::exists(defaultDbPath()));
}

void TstCli::signalStopsAndKeepsPushes_data()
{
    QTest::addColumn<int>("signal");
    QTest::addRow("SIGTERM") << int(SIGTERM);
    QTest::addRow("SIGINT") << int(SIGINT);
}

void TstCli::signalStopsAndKeepsPushes()
{
    QFETCH(int, signal);
    const QStringList arguments{u"--no-gui"_s, u"--port"_s, u"0"_s, u"--db"_s, dbUrl()};

    QProcess *first = nullptr;
    QString why;
    quint16 port = startServing(arguments, environment(), &first, &why);
    QVERIFY2(port != 0, qPrintable(why));
    QCOMPARE(httpRequest(port, "POST", "/push", pushBody(u"before-signal"_s, 7)).status, 200);

    const Finished stopped = stop(first, signal);
    QVERIFY2(stopped.finished, "still running after the signal");
    QVERIFY2(stopped.elapsedMs < QuickMs, qPrintable(QString::number(stopped.elapsedMs)));
    QCOMPARE(stopped.exitStatus, QProcess::NormalExit);
    QCOMPARE(stopped.exitCode, 0);
    // The port is released: nothing answers there any more.
    QCOMPARE(httpRequest(port, "GET", "/health").status, 0);

    QProcess *second = nullptr;
    port = startServing(arguments, environment(), &second, &why);
    QVERIFY2(port != 0, qPrintable(why));
    const HttpResult pull = httpRequest(port, "GET", "/pull");
    QCOMPARE(pull.status, 200);
    const QJsonObject json = pull.json();
    QCOMPARE(json.value(u"merged_topic_counts"_s).toObject().value(u"episodic"_s).toInteger(), 7);
    QCOMPARE(json.value(u"contributing_agents"_s).toInteger(), 1);
    QCOMPARE(json.value(u"unique_fact_hashes"_s).toArray(), QJsonArray{u"fact-of-before-signal"_s});
}

void TstCli::killedProcessKeepsConfirmedPush()
{
    // A 200 means committed: even SIGKILL right after the answer loses nothing.
    const QStringList arguments{u"--no-gui"_s, u"--port"_s, u"0"_s, u"--db"_s, dbUrl()};
    QProcess *first = nullptr;
    QString why;
    quint16 port = startServing(arguments, environment(), &first, &why);
    QVERIFY2(port != 0, qPrintable(why));
    QCOMPARE(httpRequest(port, "POST", "/push", pushBody(u"a"_s, 1)).status, 200);
    QCOMPARE(httpRequest(port, "POST", "/push", pushBody(u"b"_s, 10)).status, 200);
    first->kill();
    QVERIFY(first->waitForFinished(StopTimeoutMs));
    QCOMPARE(first->exitStatus(), QProcess::CrashExit);

    QProcess *second = nullptr;
    port = startServing(arguments, environment(), &second, &why);
    QVERIFY2(port != 0, qPrintable(why));
    QCOMPARE(pulledEpisodic(port), 11);
}

void TstCli::accessLog()
{
    QProcess *process = nullptr;
    QString why;
    const quint16 port = startServing({u"--no-gui"_s, u"--port"_s, u"0"_s, u"--db"_s, dbUrl()},
                                      environment(), &process, &why);
    QVERIFY2(port != 0, qPrintable(why));
    QCOMPARE(httpRequest(port, "POST", "/push", pushBody(u"logged"_s, 1)).status, 200);
    QCOMPARE(httpRequest(port, "POST", "/push", "{\"summary\": {}}").status, 422);
    QCOMPARE(httpRequest(port, "GET", "/pull").status, 200);
    QCOMPARE(httpRequest(port, "GET", "/no-such-path").status, 404);
    QCOMPARE(httpRequest(port, "DELETE", "/pull").status, 405);
    const Finished stopped = stop(process, SIGTERM);
    QVERIFY(stopped.finished);
    QCOMPARE(stopped.exitCode, 0);

    const QString err = QString::fromLocal8Bit(stopped.err);
    for (const QString &expected : {u"POST /push 200"_s, u"POST /push 422"_s, u"GET /pull 200"_s,
                                    u"GET /no-such-path 404"_s, u"DELETE /pull 405"_s}) {
        QVERIFY2(linesContaining(stopped.err, expected).size() == 1,
                 qPrintable(expected + u" in:\n" + err));
    }
    // One line per request, no more.
    static const QRegularExpression requestLine(u"\\b(GET|POST|DELETE|PUT|HEAD) /\\S* \\d{3}\\b"_s);
    QCOMPARE(nonEmptyLines(stopped.err).filter(requestLine).size(), 5);
}

void TstCli::writerThreadUnlessTurnedOff_data()
{
    QTest::addColumn<bool>("turnedOff");
    QTest::newRow("default") << false;
    QTest::newRow("--no-writer-thread") << true;
}

void TstCli::writerThreadUnlessTurnedOff()
{
#ifndef Q_OS_LINUX
    QSKIP("reads the process's thread names from /proc");
#else
    QFETCH(bool, turnedOff);
    QStringList args{u"--no-gui"_s, u"--port"_s, u"0"_s, u"--db"_s, dbUrl()};
    if (turnedOff)
        args << u"--no-writer-thread"_s;
    QProcess *process = nullptr;
    QString why;
    const quint16 port = startServing(args, environment(), &process, &why);
    QVERIFY2(port != 0, qPrintable(why));
    QCOMPARE(httpRequest(port, "POST", "/push", pushBody(u"threaded"_s, 1)).status, 200);
    QStringList names;
    const QString tasks = u"/proc/%1/task"_s.arg(process->processId());
    for (const QString &task : QDir(tasks).entryList(QDir::Dirs | QDir::NoDotAndDotDot)) {
        QFile comm(tasks + u'/' + task + u"/comm"_s);
        if (comm.open(QIODevice::ReadOnly))
            names << QString::fromUtf8(comm.readAll().trimmed());
    }
    const Finished stopped = stop(process, SIGTERM);
    QVERIFY(stopped.finished);
    QCOMPARE(stopped.exitCode, 0);
    QVERIFY2(!names.isEmpty(), qPrintable(tasks));
    QCOMPARE(names.contains(u"agmem-writer"_s), !turnedOff);
#endif
}

void TstCli::accessLogCanBeTurnedOff()
{
    QProcess *process = nullptr;
    QString why;
    const quint16 port =
        startServing({u"--no-gui"_s, u"--port"_s, u"0"_s, u"--db"_s, dbUrl(), u"--no-access-log"_s},
                     environment(), &process, &why);
    QVERIFY2(port != 0, qPrintable(why));
    QCOMPARE(httpRequest(port, "POST", "/push", pushBody(u"quiet"_s, 1)).status, 200);
    QCOMPARE(httpRequest(port, "GET", "/pull").status, 200);
    const Finished stopped = stop(process, SIGTERM);
    QVERIFY(stopped.finished);
    QCOMPARE(stopped.exitCode, 0);
    QVERIFY2(!stopped.err.contains("/push 200"), stopped.err.constData());
    QVERIFY2(!stopped.err.contains("/pull 200"), stopped.err.constData());
}

void TstCli::durabilityNormal()
{
    const QStringList arguments{u"--no-gui"_s, u"--port"_s,       u"0"_s,     u"--db"_s,
                                dbUrl(),       u"--durability"_s, u"normal"_s};
    QProcess *process = nullptr;
    QString why;
    quint16 port = startServing(arguments, environment(), &process, &why);
    QVERIFY2(port != 0, qPrintable(why));
    QCOMPARE(httpRequest(port, "POST", "/push", pushBody(u"fast"_s, 5)).status, 200);
    QCOMPARE(pulledEpisodic(port), 5);
    const Finished stopped = stop(process, SIGTERM);
    QVERIFY(stopped.finished);
    QCOMPARE(stopped.exitCode, 0);

    // Normal survives a clean stop of the coordinator.
    port = startServing(arguments, environment(), &process, &why);
    QVERIFY2(port != 0, qPrintable(why));
    QCOMPARE(pulledEpisodic(port), 5);
}

void TstCli::defaultDatabaseLocation()
{
    QVERIFY(!QFileInfo::exists(defaultDbPath()));
    QProcess *process = nullptr;
    QString why;
    const quint16 port =
        startServing({u"--no-gui"_s, u"--port"_s, u"0"_s}, environment(), &process, &why);
    QVERIFY2(port != 0, qPrintable(why));
    QVERIFY2(QFileInfo(defaultDbPath()).isFile(), qPrintable(defaultDbPath()));
    QCOMPARE(httpRequest(port, "POST", "/push", pushBody(u"default-db"_s, 9)).status, 200);
    const Finished stopped = stop(process, SIGTERM);
    QVERIFY(stopped.finished);
    QCOMPARE(stopped.exitCode, 0);
    // Nothing was written next to the process or in the home folder's top level.
    QVERIFY(!QFileInfo::exists(tmp(u"coordinator.db"_s)));

    // The next start without --db finds the same data.
    QProcess *again = nullptr;
    const quint16 port2 =
        startServing({u"--no-gui"_s, u"--port"_s, u"0"_s}, environment(), &again, &why);
    QVERIFY2(port2 != 0, qPrintable(why));
    QCOMPARE(pulledEpisodic(port2), 9);
}

QTEST_GUILESS_MAIN(TstCli)

#include "tst_cli.moc"
