#pragma once

#include <QtGlobal>

#include <functional>

class QObject;

namespace agmem::platform {

// The only place with operating-system calls (POSIX or Win32); everything else is Qt.

// Ends the sending side of a connected socket (FIN) and keeps it readable: the guard's
// lingering close after an error answer. False if the system refused.
bool shutdownWrite(qintptr descriptor);

// Sends what a connected, non-blocking socket (as Qt's are) takes at once, never waiting:
// the bytes sent (0 when none fit, or where this is not supported), -1 when the connection
// failed. No SIGPIPE.
qint64 sendNow(qintptr descriptor, const char *data, qint64 size);

// Raises the soft limit of open files to the hard limit (systemd's default soft limit,
// 1024, equals the default connection cap). The soft limit now in force; 0 when unlimited
// or unknown (Windows has no such limit for sockets).
qint64 raiseOpenFileLimit();

// Whether standard error is a terminal (progress output).
bool stderrIsTerminal();
// Standard output passes bytes as written (Windows: no LF -> CRLF translation).
void setStdoutBinary();

// Calls `stop` once, on the thread of `context`, when the process is asked to stop:
//   Unix:    SIGINT, SIGTERM (Ctrl+C, systemd/docker stop), through a self-pipe.
//   Windows: Ctrl+C and Ctrl+Break in the console, closing the console window, logoff and
//            system shutdown (SetConsoleCtrlHandler); a service run by NSSM gets Ctrl+C
//            first. For a close/logoff/shutdown event Windows ends the process when the
//            handler returns, so the handler waits (up to 20 s) for the process to exit.
//   NSSM's later steps (WM_CLOSE to windows, WM_QUIT to threads) reach Qt directly: the
//   window closes as Quit does; WM_QUIT ends the headless event loop.
// Call once per process.
void onStopRequest(QObject *context, std::function<void()> stop);

} // namespace agmem::platform
