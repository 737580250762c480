#include "jsonlog.h"

#include <QDateTime>
#include <QJsonDocument>
#include <QJsonObject>
#include <QStringList>

#include <cstdio>
#include <cstring>

namespace agmem {

namespace {

QString levelName(QtMsgType type)
{
    switch (type) {
    case QtDebugMsg:
        return QStringLiteral("debug");
    case QtInfoMsg:
        return QStringLiteral("info");
    case QtWarningMsg:
        return QStringLiteral("warning");
    case QtCriticalMsg:
        return QStringLiteral("critical");
    case QtFatalMsg:
        return QStringLiteral("fatal");
    }
    return QStringLiteral("info");
}

// An access line is "client METHOD path status bytes 1.23ms [(client gone)]"; the path may
// hold spaces, so it is what lies between the method and the last three fields.
void addAccessFields(QJsonObject &object, const QString &message)
{
    QStringList parts = message.split(u' ', Qt::SkipEmptyParts);
    bool gone = false;
    if (parts.size() >= 2 && parts.last() == u"gone)" && parts.at(parts.size() - 2) == u"(client") {
        parts.removeLast();
        parts.removeLast();
        gone = true;
    }
    if (parts.size() < 6 || !parts.last().endsWith(u"ms"))
        return;
    bool statusOk = false;
    bool bytesOk = false;
    const int status = parts.at(parts.size() - 3).toInt(&statusOk);
    const qint64 bytes = parts.at(parts.size() - 2).toLongLong(&bytesOk);
    if (!statusOk || !bytesOk)
        return;
    object.insert(QStringLiteral("client"), parts.at(0));
    object.insert(QStringLiteral("method"), parts.at(1));
    object.insert(QStringLiteral("path"), parts.mid(2, parts.size() - 5).join(u' '));
    object.insert(QStringLiteral("status"), status);
    object.insert(QStringLiteral("bytes"), bytes);
    object.insert(QStringLiteral("ms"), parts.last().chopped(2).toDouble());
    if (gone)
        object.insert(QStringLiteral("client_gone"), true);
}

void handler(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    const QByteArray line = jsonLogLine(type, context.category, message) + '\n';
    std::fwrite(line.constData(), 1, size_t(line.size()), stderr);
    std::fflush(stderr);
    if (type == QtFatalMsg)
        std::abort();
}

} // namespace

QByteArray jsonLogLine(QtMsgType type, const char *category, const QString &message)
{
    QJsonObject object{
        {QStringLiteral("time"), QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs)},
        {QStringLiteral("level"), levelName(type)},
        {QStringLiteral("category"), QString::fromUtf8(category ? category : "default")},
        {QStringLiteral("message"), message.trimmed()},
    };
    if (category && std::strcmp(category, "agmem.access") == 0)
        addAccessFields(object, message.trimmed());
    return QJsonDocument(object).toJson(QJsonDocument::Compact);
}

void installJsonLogHandler()
{
    qInstallMessageHandler(handler);
}

} // namespace agmem
