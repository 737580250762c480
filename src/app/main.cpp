#include "keyscommand.h"
#include "options.h"

#include "core/logging.h"
#include "server/servercontroller.h"

#include <QCoreApplication>
#include <QSettings>
#include <QSocketNotifier>

#include <cstdio>

#ifdef Q_OS_UNIX
#include <csignal>
#include <sys/socket.h>
#include <unistd.h>
#endif

using namespace agmem;

namespace {

#ifdef Q_OS_UNIX
int signalPipe[2] = {-1, -1};

void onSignal(int)
{
    const char byte = 1;
    [[maybe_unused]] const auto written = ::write(signalPipe[1], &byte, 1);
}

// SIGINT and SIGTERM end the event loop from the main thread (a self-pipe: a signal
// handler may do nothing more than write a byte).
void quitOnSignals(QCoreApplication *app)
{
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, signalPipe) != 0)
        return;
    auto *notifier = new QSocketNotifier(signalPipe[0], QSocketNotifier::Read, app);
    QObject::connect(notifier, &QSocketNotifier::activated, app, [notifier] {
        notifier->setEnabled(false);
        char byte;
        [[maybe_unused]] const auto got = ::read(signalPipe[0], &byte, 1);
        qCInfo(lcApp) << "signal received, stopping";
        QCoreApplication::quit();
    });
    struct sigaction action = {};
    action.sa_handler = onSignal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    ::sigaction(SIGINT, &action, nullptr);
    ::sigaction(SIGTERM, &action, nullptr);
}
#else
void quitOnSignals(QCoreApplication *) {}
#endif

void printTo(FILE *stream, const QString &text)
{
    const QByteArray bytes = text.toLocal8Bit();
    std::fwrite(bytes.constData(), 1, size_t(bytes.size()), stream);
    std::fflush(stream);
}

int serveHeadless(QCoreApplication &app, const AppOptions &options)
{
    quitOnSignals(&app);
    ServerController controller;
    QString error;
    if (!controller.startAndWait(options.server, &error)) {
        printTo(stderr, QStringLiteral("agmem-coordinator: %1\n").arg(error));
        return 1;
    }
    printTo(stdout,
            QStringLiteral("agmem-coordinator listening on %1\n").arg(controller.url().toString()));
    const int code = app.exec();
    controller.stopAndWait();
    qCInfo(lcApp) << "stopped";
    return code;
}

} // namespace

int main(int argc, char *argv[])
{
    if (qEnvironmentVariableIsEmpty("QT_MESSAGE_PATTERN")) {
        qSetMessagePattern(QStringLiteral("%{time yyyy-MM-ddThh:mm:ss.zzz} "
                                          "%{if-category}%{category} %{endif}%{type}: %{message}"));
    }
    QCoreApplication app(argc, argv);
    QCoreApplication::setOrganizationName(QStringLiteral("agmem"));
    QCoreApplication::setApplicationName(QStringLiteral("agmem-coordinator"));
    QCoreApplication::setApplicationVersion(QStringLiteral(AGMEM_VERSION));

    const QSettings settings;
    const AppOptions options = parseOptions(QCoreApplication::arguments(), &settings);
    switch (options.outcome) {
    case AppOptions::Outcome::ExitOk:
        printTo(stdout, options.message);
        return 0;
    case AppOptions::Outcome::ExitError:
        printTo(stderr, QStringLiteral("agmem-coordinator: %1\n").arg(options.message));
        return 2;
    case AppOptions::Outcome::Run:
        break;
    }
    if (options.command == u"keys")
        return runKeysCommand(options);
    return serveHeadless(app, options);
}
