// The access log's background writer (server/accesslog.h): the same lines as before, in
// order, never blocking the caller; drops are counted and shown in /metrics.
#include "server/accesslog.h"
#include "server/apiserver.h"
#include "server/metrics.h"

#include "core/logging.h"

#include <QSemaphore>
#include <QtTest>

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

    void keepsOrderAndWritesEverything()
    {
        qInstallMessageHandler(capture);
        QStringList expected;
        {
            AccessLogWriter writer;
            for (int i = 0; i < 3000; ++i) {
                expected << agmem::accessLogLine(makeEvent(i), false);
                writer.write(expected.last());
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
            writer.write(u"first"_s);
            QVERIFY(g_entered.tryAcquire(1, 30000)); // the writer thread is stuck in the output
            for (int i = 0; i < Capacity + 25; ++i)
                writer.write(u"line %1"_s.arg(i)); // returns although nothing is written
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
