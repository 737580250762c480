#include "config/options.h"
#include "exportcommand.h"
#include "jsonlog.h"
#include "keyscommand.h"
#include "migratecommand.h"

#include "core/logging.h"
#include "server/accesslog.h"
#include "server/platform.h"
#include "server/servercontroller.h"

#ifdef AGMEM_WITH_GUI
#include "gui/dashboard.h"

#include <QApplication>
#endif
#include <QCoreApplication>
#include <QSettings>

#include <cstdio>

using namespace agmem;

namespace {

// SIGINT/SIGTERM, or Ctrl+C / console close / service stop on Windows, end the event loop
// from the main thread (the window closes as Quit does; the server stops cleanly).
void quitOnSignals(QCoreApplication *app)
{
    platform::onStopRequest(app, [] {
        qCInfo(lcApp) << "signal received, stopping";
        QCoreApplication::quit();
    });
}

void printTo(FILE *stream, const QString &text)
{
    const QByteArray bytes = text.toLocal8Bit();
    std::fwrite(bytes.constData(), 1, size_t(bytes.size()), stream);
    std::fflush(stream);
}

// Access lines are formatted by the access log's writer itself and written to stderr in
// batches when Qt's own handler would write them there with our pattern anyway: no
// QT_MESSAGE_PATTERN, no --log-format json, and stderr not systemd's journal stream (Qt may
// send messages to the journal instead then).
void chooseAccessLogOutput(bool jsonLog)
{
    if (jsonLog || !qEnvironmentVariableIsEmpty("QT_MESSAGE_PATTERN") ||
        !qEnvironmentVariableIsEmpty("JOURNAL_STREAM"))
        return;
    AccessLogWriter::setDirectOutput(stderr);
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

#ifdef AGMEM_WITH_GUI
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
#else
// Built with -DAGMEM_GUI=OFF: serving headless is the only mode (--no-gui is accepted and
// changes nothing). An option that only concerns the window says so instead of being
// ignored; from the environment or the settings it is ignored.
QString windowOptionGiven(const QStringList &arguments)
{
    static const QStringList windowOptions{QStringLiteral("lang")};
    for (qsizetype i = 1; i < arguments.size(); ++i) {
        const QString &arg = arguments.at(i);
        if (arg == u"--")
            break;
        for (const QString &name : windowOptions) {
            const QStringList spellings{QStringLiteral("--") + name, QStringLiteral("-") + name};
            for (const QString &option : spellings) {
                if (arg == option || arg.startsWith(option + u'='))
                    return QStringLiteral("--") + name;
            }
        }
    }
    return {};
}
#endif

} // namespace

int main(int argc, char *argv[])
{
#if defined(Q_OS_UNIX) && !defined(Q_OS_DARWIN)
    // Threads other than the main one (the HTTP thread, the store's writer) get Qt's own
    // poll loop instead of glib's; the main thread, the window's, keeps glib. glib wakes
    // its loop through an eventfd on every change of the watched descriptors, and a socket
    // enables and disables its write notifier for each answer: two extra system calls per
    // request on the HTTP thread (measured: 5.3 -> 3.2 per push, pushes/s about +10-15%,
    // CPU per push unchanged within the noise). Set before any thread starts; a value the
    // user set is kept.
    if (!qEnvironmentVariableIsSet("QT_NO_THREADED_GLIB"))
        qputenv("QT_NO_THREADED_GLIB", "1");
#endif
    if (qEnvironmentVariableIsEmpty("QT_MESSAGE_PATTERN")) {
        qSetMessagePattern(QString::fromLatin1(DefaultMessagePattern));
    }
    QCoreApplication::setOrganizationName(QStringLiteral("agmem"));
    QCoreApplication::setApplicationName(QStringLiteral("agmem-coordinator"));
    QCoreApplication::setApplicationVersion(QStringLiteral(AGMEM_VERSION));
#ifdef AGMEM_WITH_GUI
    if (wantsWindow(argc, argv)) {
        if (displayAvailable()) {
            QApplication app(argc, argv);
            const QSettings settings;
            const AppOptions options = parseOptions(QCoreApplication::arguments(), &settings);
            if (options.jsonLog)
                installJsonLogHandler();
            chooseAccessLogOutput(options.jsonLog);
            // A stop request closes the window as Quit does (the server stops cleanly).
            quitOnSignals(&app);
            return runDashboard(app, options.server, options.language);
        }
        printTo(stderr, QStringLiteral("agmem-coordinator: no display found, serving without "
                                       "the window (as with --no-gui)\n"));
    }
#endif
    QCoreApplication app(argc, argv);
#ifndef AGMEM_WITH_GUI
    if (const QString option = windowOptionGiven(QCoreApplication::arguments());
        !option.isEmpty()) {
        printTo(stderr, QStringLiteral("agmem-coordinator: %1 only concerns the window, and this "
                                       "build has none (built with -DAGMEM_GUI=OFF: it always "
                                       "serves headless, as with --no-gui)\n")
                            .arg(option));
        return 2;
    }
#endif

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
    chooseAccessLogOutput(options.jsonLog);
    if (options.command == u"keys")
        return runKeysCommand(options);
    if (options.command == u"migrate")
        return runMigrateCommand(options);
    if (options.command == u"export")
        return runExportCommand(options);
    return serveHeadless(app, options);
}
