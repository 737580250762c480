#include "platform.h"

#include <QCoreApplication>
#include <QMetaObject>
#include <QSocketNotifier>

#include <atomic>

#include <cstdio>

#ifdef Q_OS_WIN
// winsock2.h before windows.h (which would otherwise pull in the old winsock.h).
#include <winsock2.h>
// (separate block: clang-format keeps the order)
#include <windows.h>

#include <fcntl.h>
#include <io.h>
#else
#include <cerrno>
#include <csignal>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#endif

namespace agmem::platform {

bool shutdownWrite(qintptr descriptor)
{
#ifdef Q_OS_WIN
    return ::shutdown(SOCKET(descriptor), SD_SEND) == 0;
#else
    return ::shutdown(int(descriptor), SHUT_WR) == 0;
#endif
}

qint64 sendNow(qintptr descriptor, const char *data, qint64 size)
{
#ifdef Q_OS_WIN
    const int n = ::send(SOCKET(descriptor), data, int(qMin<qint64>(size, 1 << 30)), 0);
    if (n == SOCKET_ERROR)
        return WSAGetLastError() == WSAEWOULDBLOCK ? 0 : -1;
    return n;
#elif defined(MSG_NOSIGNAL)
    ssize_t n = 0;
    do {
        n = ::send(int(descriptor), data, size_t(size), MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    return qint64(n);
#else
    // No MSG_NOSIGNAL (macOS): a closed peer would raise SIGPIPE; the caller uses Qt.
    Q_UNUSED(descriptor);
    Q_UNUSED(data);
    Q_UNUSED(size);
    return 0;
#endif
}

qint64 raiseOpenFileLimit()
{
#ifdef Q_OS_UNIX
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0)
        return 0;
    if (limit.rlim_cur < limit.rlim_max) {
        rlimit raised = limit;
        raised.rlim_cur = limit.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
            limit = raised;
    }
    if (limit.rlim_cur == RLIM_INFINITY)
        return 0;
    return qint64(limit.rlim_cur);
#else
    return 0;
#endif
}

bool stderrIsTerminal()
{
#ifdef Q_OS_WIN
    return ::_isatty(::_fileno(stderr)) != 0;
#else
    return ::isatty(STDERR_FILENO) == 1;
#endif
}

void setStdoutBinary()
{
#ifdef Q_OS_WIN
    ::_setmode(::_fileno(stdout), _O_BINARY);
#endif
}

namespace {

std::function<void()> stopHandler;

} // namespace

#ifdef Q_OS_WIN

namespace {

// The application object: it outlives the event loop the stop is posted to.
std::atomic<QObject *> stopContext{nullptr};
std::atomic<bool> stopRequested{false};

BOOL WINAPI onConsoleEvent(DWORD event)
{
    // Runs on a thread Windows creates for it: hand the stop to the context's thread.
    QObject *context = stopContext.load();
    if (!context)
        return FALSE;
    if (!stopRequested.exchange(true))
        QMetaObject::invokeMethod(
            context, [] { stopHandler(); }, Qt::QueuedConnection);
    switch (event) {
    case CTRL_C_EVENT:
    case CTRL_BREAK_EVENT:
        return TRUE;
    default:
        // CTRL_CLOSE_EVENT, CTRL_LOGOFF_EVENT, CTRL_SHUTDOWN_EVENT: returning ends the
        // process at once; main() exits it once the server has stopped.
        ::Sleep(20000);
        return TRUE;
    }
}

} // namespace

void onStopRequest(QObject *context, std::function<void()> stop)
{
    stopHandler = std::move(stop);
    stopContext = context;
    ::SetConsoleCtrlHandler(onConsoleEvent, TRUE);
}

#else

namespace {

int signalPipe[2] = {-1, -1};

void onSignal(int)
{
    // A signal handler may do little more than write a byte.
    const char byte = 1;
    [[maybe_unused]] const auto written = ::write(signalPipe[1], &byte, 1);
}

} // namespace

void onStopRequest(QObject *context, std::function<void()> stop)
{
    if (signalPipe[0] >= 0 || ::socketpair(AF_UNIX, SOCK_STREAM, 0, signalPipe) != 0)
        return;
    stopHandler = std::move(stop);
    auto *notifier = new QSocketNotifier(signalPipe[0], QSocketNotifier::Read, context);
    QObject::connect(notifier, &QSocketNotifier::activated, context, [notifier] {
        notifier->setEnabled(false);
        char byte;
        [[maybe_unused]] const auto got = ::read(signalPipe[0], &byte, 1);
        stopHandler();
    });
    struct sigaction action = {};
    action.sa_handler = onSignal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    ::sigaction(SIGINT, &action, nullptr);
    ::sigaction(SIGTERM, &action, nullptr);
}

#endif

} // namespace agmem::platform
