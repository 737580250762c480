#pragma once

#include <QLoggingCategory>

Q_DECLARE_LOGGING_CATEGORY(lcCore)
Q_DECLARE_LOGGING_CATEGORY(lcStore)
Q_DECLARE_LOGGING_CATEGORY(lcServer)
Q_DECLARE_LOGGING_CATEGORY(lcAccess)
Q_DECLARE_LOGGING_CATEGORY(lcApp)
Q_DECLARE_LOGGING_CATEGORY(lcGui)

#include <QByteArray>
#include <QString>
#include <QStringView>

namespace agmem {

// A field taken from a request (path, client, agent id, header), made safe for one log
// line: control characters (C0, DEL, C1) and the Unicode line and paragraph separators
// are written as \n, \r, \t or \xHH / \uHHHH, and a backslash as \\, so a request can
// never start a second, forged line nor blur where a field ends.
QString logSafe(QStringView text);
// logSafe(text) appended to out in UTF-8 (without a QString in between when nothing needs
// escaping).
void appendLogSafeUtf8(QByteArray &out, QStringView text);

// The message pattern the app sets unless QT_MESSAGE_PATTERN is given.
inline constexpr char DefaultMessagePattern[] =
    "%{time yyyy-MM-ddThh:mm:ss.zzz} %{if-category}%{category} %{endif}%{type}: %{message}";

// The local time now as DefaultMessagePattern's %{time} writes it ("2024-05-01T12:34:56.789"),
// appended to out. Cheaper than QDateTime::currentDateTime().toString(): the date and time
// of the second are computed once per second and thread, so the time zone (and a change of
// it) is looked up once a second instead of for every line.
void appendLogTime(QByteArray &out);

} // namespace agmem
