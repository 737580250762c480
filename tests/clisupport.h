#pragma once

// Runs the real agmem-coordinator binary (AGMEM_TEST_BINARY) as a user would, in a
// throwaway home: shared by the command-line suites (tests/app).

#include <QDeadlineTimer>
#include <QFileInfo>
#include <QHostAddress>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QProcessEnvironment>
#include <QRegularExpression>
#include <QTcpSocket>
#include <QTemporaryDir>

#include <memory>
#include <vector>

namespace agmem::test {

struct HttpResult
{
    int status = 0;
    QByteArray head;
    QByteArray body;

    QJsonObject json() const { return QJsonDocument::fromJson(body).object(); }
};

// One request on a fresh connection with Connection: close; reads until the server hangs
// up. status 0 when nothing (or no status line) came back.
inline HttpResult httpRequest(quint16 port, const QByteArray &method, const QByteArray &path,
                              const QByteArray &body = QByteArray())
{
    HttpResult result;
    QTcpSocket socket;
    socket.connectToHost(QHostAddress::LocalHost, port);
    if (!socket.waitForConnected(3000))
        return result;
    QByteArray request = method + ' ' + path +
                         " HTTP/1.1\r\nHost: 127.0.0.1:" + QByteArray::number(port) +
                         "\r\nConnection: close\r\n";
    if (method == "POST" || method == "PUT") {
        request +=
            "Content-Type: application/json\r\nContent-Length: " + QByteArray::number(body.size()) +
            "\r\n";
    }
    request += "\r\n" + body;
    socket.write(request);
    QByteArray response;
    const QDeadlineTimer deadline(5000);
    while (!deadline.hasExpired() && socket.waitForReadyRead(int(deadline.remainingTime())))
        response += socket.readAll();
    response += socket.readAll();

    const qsizetype split = response.indexOf("\r\n\r\n");
    if (split < 0)
        return result;
    result.head = response.left(split);
    result.body = response.mid(split + 4);
    static const QRegularExpression statusLine(QStringLiteral("^HTTP/1\\.[01] (\\d{3})"));
    const auto match = statusLine.match(QString::fromLatin1(result.head));
    if (match.hasMatch())
        result.status = match.captured(1).toInt();
    return result;
}

// How a process ended.
struct Finished
{
    bool finished = false;
    QProcess::ExitStatus exitStatus = QProcess::CrashExit;
    int exitCode = -1;
    QByteArray out;
    QByteArray err;
    qint64 elapsedMs = 0;
};

inline Finished finishedOf(QProcess *process, bool finished, qint64 elapsedMs)
{
    Finished result;
    result.finished = finished;
    result.elapsedMs = elapsedMs;
    result.exitStatus = process->exitStatus();
    result.exitCode = process->exitCode();
    result.out = process->readAllStandardOutput();
    result.err = process->readAllStandardError();
    return result;
}

// The binary, a temporary home per test (HOME, XDG_CONFIG_HOME = tmp("config"),
// XDG_DATA_HOME = tmp("data")) and the processes started in it, killed at cleanup.
class CliRunner
{
public:
    // The absolute path of AGMEM_TEST_BINARY (every process runs in its own temporary
    // working directory); false and `why` when it is not set or not executable.
    bool findBinary(QString *why)
    {
        if (qEnvironmentVariableIsEmpty("AGMEM_TEST_BINARY")) {
            *why = QStringLiteral("AGMEM_TEST_BINARY is not set (run through ctest)");
            return false;
        }
        m_binary = QFileInfo(qEnvironmentVariable("AGMEM_TEST_BINARY")).absoluteFilePath();
        *why = m_binary;
        return QFileInfo(m_binary).isExecutable();
    }

    bool newHome()
    {
        m_dir = std::make_unique<QTemporaryDir>();
        return m_dir->isValid();
    }

    void cleanup(int timeoutMs)
    {
        for (const auto &process : m_processes) {
            if (process->state() != QProcess::NotRunning) {
                process->kill();
                process->waitForFinished(timeoutMs);
            }
        }
        m_processes.clear();
        m_dir.reset();
    }

    QString tmp(const QString &name) const { return m_dir->filePath(name); }
    QString home() const { return m_dir->path(); }

    // The system's environment without anything that would change what the binary does.
    QProcessEnvironment environment() const
    {
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        const QStringList keys = env.keys();
        for (const QString &key : keys) {
            if (key.startsWith(u"AGMEM_COORDINATOR_") || key == u"DATABASE_URL" ||
                key == u"QT_MESSAGE_PATTERN" || key == u"QT_LOGGING_RULES" ||
                key == u"QT_LOGGING_CONF")
                env.remove(key);
        }
        env.insert(QStringLiteral("HOME"), home());
        env.insert(QStringLiteral("XDG_CONFIG_HOME"), tmp(QStringLiteral("config")));
        env.insert(QStringLiteral("XDG_CONFIG_DIRS"), tmp(QStringLiteral("system-config")));
        env.insert(QStringLiteral("XDG_DATA_HOME"), tmp(QStringLiteral("data")));
        return env;
    }

    QProcess *launch(const QStringList &arguments, const QProcessEnvironment &env)
    {
        auto process = std::make_unique<QProcess>();
        process->setProgram(m_binary);
        process->setArguments(arguments);
        process->setProcessEnvironment(env);
        process->setWorkingDirectory(home());
        process->start();
        m_processes.push_back(std::move(process));
        return m_processes.back().get();
    }

    Finished runToExit(const QStringList &arguments, const QProcessEnvironment &env, int timeoutMs)
    {
        QElapsedTimer timer;
        timer.start();
        QProcess *process = launch(arguments, env);
        const bool finished = process->waitForFinished(timeoutMs);
        return finishedOf(process, finished, timer.elapsed());
    }

    // Waits for the "listening on" line and returns the port; 0 (and `why`) on failure.
    static quint16 waitListening(QProcess *process, QString *why, int timeoutMs)
    {
        static const QRegularExpression listening(
            QStringLiteral("^agmem-coordinator listening on http://127\\.0\\.0\\.1:(\\d+)/?\\n"),
            QRegularExpression::MultilineOption);
        if (!process->waitForStarted(timeoutMs)) {
            *why = QStringLiteral("did not start: ") + process->errorString();
            return 0;
        }
        QByteArray out;
        const QDeadlineTimer deadline(timeoutMs);
        while (true) {
            out += process->readAllStandardOutput();
            const auto match = listening.match(QString::fromLocal8Bit(out));
            if (match.hasMatch())
                return quint16(match.captured(1).toUInt());
            if (process->state() == QProcess::NotRunning || deadline.hasExpired())
                break;
            process->waitForReadyRead(int(qMax<qint64>(1, deadline.remainingTime())));
        }
        *why = QStringLiteral("no \"listening on\" line; stdout: %1 stderr: %2")
                   .arg(QString::fromLocal8Bit(out),
                        QString::fromLocal8Bit(process->readAllStandardError()));
        return 0;
    }

private:
    QString m_binary;
    std::unique_ptr<QTemporaryDir> m_dir;
    std::vector<std::unique_ptr<QProcess>> m_processes;
};

} // namespace agmem::test
