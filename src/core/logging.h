#pragma once

#include <QLoggingCategory>

Q_DECLARE_LOGGING_CATEGORY(lcCore)
Q_DECLARE_LOGGING_CATEGORY(lcStore)
Q_DECLARE_LOGGING_CATEGORY(lcServer)
Q_DECLARE_LOGGING_CATEGORY(lcAccess)
Q_DECLARE_LOGGING_CATEGORY(lcApp)
Q_DECLARE_LOGGING_CATEGORY(lcGui)

#include <QString>
#include <QStringView>

namespace agmem {

// A field taken from a request (path, client, agent id, header), made safe for one log
// line: control characters (C0, DEL, C1) and the Unicode line and paragraph separators
// are written as \n, \r, \t or \xHH / \uHHHH, and a backslash as \\, so a request can
// never start a second, forged line nor blur where a field ends.
QString logSafe(QStringView text);

} // namespace agmem
