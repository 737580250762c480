#pragma once

#include <QByteArray>
#include <QString>
#include <QtGlobal>

namespace agmem {

// --log-format json: every log line on stderr is one JSON object: time (UTC), level,
// category, message; access lines (agmem.access) also carry client, method, path, status,
// bytes and ms as fields.
void installJsonLogHandler();

// The JSON line for one message (without the newline); exposed for tests.
QByteArray jsonLogLine(QtMsgType type, const char *category, const QString &message);

} // namespace agmem
