// The access log's background writer (server/accesslog.h): the same lines as before, in
// order, never blocking the caller; drops are counted and shown in /metrics.
#include "server/accesslog.h"
#include "server/apiserver.h"
#include "server/metrics.h"

#include "core/logging.h"

#include <QDateTime>
#include <QSemaphore>
#include <QTemporaryFile>
#include <QThread>
#include <QTimeZone>
#include <QtTest>

#include <charconv>

#include <cstdio>
#include <mutex>

using namespace Qt::StringLiterals;
using agmem::AccessLogWriter;
using agmem::RequestEvent;

namespace {

std::mutex g_mutex;
QStringList g_lines;
QSemaphore g_entered;
QSemaphore g_release;
bool g_block = false;

void capture(QtMsgType, const QMessageLogContext &context, const QString &message)
{
    if (qstrcmp(context.category, "agmem.access") != 0)
        return;
    bool block = false;
    {
        std::lock_guard lock(g_mutex);
        g_lines << message;
        block = g_block;
    }
    if (block) {
        g_entered.release();
        g_release.acquire();
    }
}

QStringList lines()
{
    std::lock_guard lock(g_mutex);
    return g_lines;
}

RequestEvent makeEvent(int i)
{
    RequestEvent e;
    e.source = u"127.0.0.%1"_s.arg(i % 250);
    e.method = i % 2 ? "POST" : "GET";
    e.path = i % 3 ? u"/push"_s : u"/path with spaces/%1"_s.arg(i);
    e.status = 200 + i % 300;
    e.bytes = 1000 + i;
    e.milliseconds = i / 7.0;
    return e;
}

} // namespace

class TstAccessLog : public QObject
{
    Q_OBJECT

private slots:
    void init()
    {
        std::lock_guard lock(g_mutex);
        g_lines.clear();
        g_block = false;
    }
    void cleanup() { qInstallMessageHandler(nullptr); }

    // The message is exactly what the synchronous qCInfo(lcAccess) chain logged before.
    void sameLineAsBefore_data()
    {
        QTest::addColumn<bool>("gone");
        QTest::addRow("answered") << false;
        QTest::addRow("client gone") << true;
    }
    void sameLineAsBefore()
    {
        QFETCH(bool, gone);
        qInstallMessageHandler(capture);
        const RequestEvent e = makeEvent(5);
        qCInfo(lcAccess).noquote() << e.source << e.method << e.path << e.status << e.bytes
                                   << QString::number(e.milliseconds, 'f', 2) + u"ms"
                                   << (gone ? QStringLiteral("(client gone)") : QString());
        {
            AccessLogWriter writer;
            writer.write(agmem::accessLogLine(e, gone));
            writer.flush();
        }
        const QStringList got = lines();
        QCOMPARE(got.size(), 2);
        QCOMPARE(got.at(1), got.at(0));
    }

    // The duration has two decimals exactly as std::to_chars(fixed, 2) writes them (the
    // exact binary value rounded, ties to even; QString::number rounds those few exact ties
    // up), also next to ties and for odd values.
    void durationLikeToChars()
    {
        QList<double> values = {0,     0.005, 0.125,  0.375,  1.005,  2.675, 0.994999,
                                0.995, 9.995, 99.995, 0.0049, 1e6,    1e7,   123456789.125,
                                1e300, -0.0,  -1.5,   qInf(), 5e-324, 0.015, 4.345};
        for (int i = 0; i < 200000; ++i)
            values.append(i / 997.0);
        for (int i = 0; i < 20000; ++i)
            values.append((i * 5 + 0.5) / 1000.0); // x.xx5: ties in decimal, not in binary
        for (int i = 0; i < 4000; ++i)
            values.append(i / 8.0); // exact binary ties
        RequestEvent e = makeEvent(2);
        for (const double ms : std::as_const(values)) {
            e.milliseconds = ms;
            const QByteArray line = agmem::accessLogLine(e, false);
            char number[400];
            const auto done =
                std::to_chars(number, number + sizeof number, ms, std::chars_format::fixed, 2);
            const QByteArray expected = ' ' + QByteArray::number(e.bytes) + ' ' +
                                        QByteArray(number, done.ptr - number) + "ms ";
            if (!line.endsWith(expected))
                QFAIL(qPrintable(u"%1: %2"_s.arg(ms, 0, 'g', 17).arg(QString::fromUtf8(line))));
        }
    }

    // Fields a client chose stay escaped in the UTF-8 line; other text is kept as it is.
    void escapesClientFields()
    {
        RequestEvent e = makeEvent(1);
        e.source = u"cl\u00e9nt"_s;
        e.path = u"/a\nb\\c\u2028d\u00e9"_s;
        const QByteArray line = agmem::accessLogLine(e, false);
        QCOMPARE(QString::fromUtf8(line), agmem::logSafe(e.source) + u" POST "_s +
                                              agmem::logSafe(e.path) + u" 201 1001 0.14ms "_s);
        QVERIFY(!line.contains('\n'));
    }

    // With a direct output (the app's stderr under the default pattern) the writer formats
    // the lines itself: exactly what Qt's handler would write with DefaultMessagePattern,
    // local time included.
    void directOutputLikeThePattern()
    {
        QTemporaryFile file;
        QVERIFY(file.open());
        FILE *out = std::fopen(QFile::encodeName(file.fileName()).constData(), "wb");
        QVERIFY(out);
        QByteArrayList written;
        const QDateTime before = QDateTime::currentDateTime();
        AccessLogWriter::setDirectOutput(out);
        {
            AccessLogWriter writer;
            for (int i = 0; i < 3000; ++i) {
                RequestEvent e = makeEvent(i);
                if (i == 7)
                    e.path = u"/caf\u00e9\r\n"_s;
                written << agmem::accessLogLine(e, i % 5 == 0);
                writer.write(written.last());
            }
        }
        AccessLogWriter::setDirectOutput(nullptr);
        const QDateTime after = QDateTime::currentDateTime();
        std::fclose(out);
        QFile in(file.fileName());
        QVERIFY(in.open(QIODevice::ReadOnly));
        const QByteArrayList got = in.readAll().split('\n');
        QCOMPARE(got.size(), written.size() + 1);
        QVERIFY(got.last().isEmpty());

        qSetMessagePattern(QString::fromLatin1(agmem::DefaultMessagePattern));
        const QMessageLogContext context(nullptr, 0, nullptr, "agmem.access");
        constexpr qsizetype TimeLength = 23; // yyyy-MM-ddThh:mm:ss.zzz
        for (qsizetype i = 0; i < written.size(); ++i) {
            const QString expected =
                qFormatLogMessage(QtInfoMsg, context, QString::fromUtf8(written.at(i)));
            const QString line = QString::fromUtf8(got.at(i));
            QCOMPARE(line.mid(TimeLength), expected.mid(TimeLength));
            const QDateTime at =
                QDateTime::fromString(line.left(TimeLength), u"yyyy-MM-ddThh:mm:ss.zzz"_s);
            QVERIFY2(at.isValid(), qPrintable(line));
            // Local time, as %{time} writes it (a second either side for the clock's steps).
            QVERIFY2(at >= before.addSecs(-1) && at <= after.addSecs(1), qPrintable(line));
        }
        qSetMessagePattern(QString());
    }

    // The time is local time, and a change of the time zone shows within a second.
    void logTimeFollowsTimeZone()
    {
        const bool hadTz = qEnvironmentVariableIsSet("TZ");
        const QByteArray savedTz = qgetenv("TZ");
        const auto offsetFromUtc = [] {
            QByteArray text;
            agmem::appendLogTime(text);
            const QDateTime read =
                QDateTime::fromString(QString::fromLatin1(text), u"yyyy-MM-ddThh:mm:ss.zzz"_s);
            [&] { QVERIFY2(read.isValid(), text.constData()); }();
            // The wall-clock text read as if it were UTC, against the UTC time now.
            const QDateTime asUtc(read.date(), read.time(), QTimeZone::utc());
            return QDateTime::currentDateTimeUtc().secsTo(asUtc);
        };
        qputenv("TZ", "UTC0");
        QThread::msleep(1100); // the next second: computed anew
        const qint64 atUtc = offsetFromUtc();
        qputenv("TZ", "XST-5"); // UTC+5
        QThread::msleep(1100);
        const qint64 atPlus5 = offsetFromUtc();
        if (hadTz)
            qputenv("TZ", savedTz);
        else
            qunsetenv("TZ");
        QThread::msleep(1100);
        QVERIFY2(qAbs(atUtc) <= 2, QByteArray::number(atUtc).constData());
        QVERIFY2(qAbs(atPlus5 - 5 * 3600) <= 2, QByteArray::number(atPlus5).constData());
    }

    void keepsOrderAndWritesEverything()
    {
        qInstallMessageHandler(capture);
        QStringList expected;
        {
            AccessLogWriter writer;
            for (int i = 0; i < 3000; ++i) {
                const QByteArray line = agmem::accessLogLine(makeEvent(i), false);
                expected << QString::fromUtf8(line);
                writer.write(line);
            }
        } // the destructor writes what is still queued
        QCOMPARE(lines(), expected);
    }

    // A stalled output: the caller goes on, the lines beyond the queue are dropped and
    // counted, and /metrics shows the count.
    void stalledOutputDropsAndCounts()
    {
        qInstallMessageHandler(capture);
        {
            std::lock_guard lock(g_mutex);
            g_block = true;
        }
        const quint64 before = AccessLogWriter::droppedTotal();
        constexpr qsizetype Capacity = 100;
        {
            AccessLogWriter writer(Capacity);
            writer.write("first"_ba);
            QVERIFY(g_entered.tryAcquire(1, 30000)); // the writer thread is stuck in the output
            for (int i = 0; i < Capacity + 25; ++i)
                writer.write("line " +
                             QByteArray::number(i)); // returns although nothing is written
            QCOMPARE(AccessLogWriter::droppedTotal() - before, quint64(25));

            agmem::Metrics metrics;
            const QByteArray exposition = metrics.exposition({});
            const QByteArray line = QByteArray("agmem_access_log_dropped_total ") +
                                    QByteArray::number(AccessLogWriter::droppedTotal()) + '\n';
            QVERIFY2(exposition.contains(line), exposition.constData());
            {
                std::lock_guard lock(g_mutex);
                g_block = false;
            }
            g_release.release();
            writer.flush();
        }
        const QStringList got = lines();
        QCOMPARE(got.size(), 1 + Capacity);
        QCOMPARE(got.first(), u"first"_s);
        QCOMPARE(got.last(), u"line %1"_s.arg(Capacity - 1));
    }
};

QTEST_GUILESS_MAIN(TstAccessLog)

#include "tst_accesslog.moc"
