#include "config/options.h"
#include "exportcommand.h"
#include "jsonlog.h"
#include "keyscommand.h"
#include "migratecommand.h"

#include "core/logging.h"
#include "gui/dashboard.h"
#include "server/servercontroller.h"

#include <QApplication>
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

// Decided once, before any application object exists: only `serve` without --no-gui
// opens the window, so headless runs never construct QApplication or a widget.
bool wantsWindow(int argc, char *argv[])
{
    QStringList arguments;
    for (int i = 0; i < argc; ++i)
        arguments.append(QString::fromLocal8Bit(argv[i]));
    const QSettings settings;
    const AppOptions options = parseOptions(arguments, &settings);
    return options.outcome == AppOptions::Outcome::Run && options.command == u"serve" &&
           !options.noGui;
}

bool displayAvailable()
{
#if defined(Q_OS_UNIX) && !defined(Q_OS_MACOS)
    return !qEnvironmentVariableIsEmpty("DISPLAY") ||
           !qEnvironmentVariableIsEmpty("WAYLAND_DISPLAY") ||
           !qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM");
#else
    return true;
#endif
}

} // namespace

int main(int argc, char *argv[])
{
    if (qEnvironmentVariableIsEmpty("QT_MESSAGE_PATTERN")) {
        qSetMessagePattern(QStringLiteral("%{time yyyy-MM-ddThh:mm:ss.zzz} "
                                          "%{if-category}%{category} %{endif}%{type}: %{message}"));
    }
    QCoreApplication::setOrganizationName(QStringLiteral("agmem"));
    QCoreApplication::setApplicationName(QStringLiteral("agmem-coordinator"));
    QCoreApplication::setApplicationVersion(QStringLiteral(AGMEM_VERSION));
    if (wantsWindow(argc, argv)) {
        if (displayAvailable()) {
            QApplication app(argc, argv);
            const QSettings settings;
            const AppOptions options = parseOptions(QCoreApplication::arguments(), &settings);
            if (options.jsonLog)
                installJsonLogHandler();
            // SIGTERM and SIGINT close the window as Quit does (the server stops cleanly).
            quitOnSignals(&app);
            return runDashboard(app, options.server, options.language);
        }
        printTo(stderr, QStringLiteral("agmem-coordinator: no display found, serving without "
                                       "the window (as with --no-gui)\n"));
    }
    QCoreApplication app(argc, argv);

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
    if (options.jsonLog)
        installJsonLogHandler();
    if (options.command == u"keys")
        return runKeysCommand(options);
    if (options.command == u"migrate")
        return runMigrateCommand(options);
    if (options.command == u"export")
        return runExportCommand(options);
    return serveHeadless(app, options);
}
