#include "accesslog.h"

#include "apiserver.h"

#include "core/logging.h"

#include <atomic>

#ifdef Q_OS_LINUX
#include <pthread.h>
#endif

namespace agmem {

namespace {

std::atomic<quint64> g_dropped = 0;

} // namespace

QString accessLogLine(const RequestEvent &event, bool clientGone)
{
    // The fields as QDebug wrote them (space-separated, the last one possibly empty).
    QString line;
    line.reserve(event.source.size() + event.path.size() + 48);
    // Fields a client chose are escaped: a request cannot write a line of its own.
    line += logSafe(event.source);
    line += u' ';
    line += QString::fromLatin1(event.method);
    line += u' ';
    line += logSafe(event.path);
    line += u' ';
    line += QString::number(event.status);
    line += u' ';
    line += QString::number(event.bytes);
    line += u' ';
    line += QString::number(event.milliseconds, 'f', 2);
    line += u"ms ";
    if (clientGone)
        line += u"(client gone)";
    return line;
}

AccessLogWriter::AccessLogWriter(qsizetype capacity)
    : m_capacity(qMax<qsizetype>(1, capacity))
    , m_thread([this] { run(); })
{}

AccessLogWriter::~AccessLogWriter()
{
    {
        std::lock_guard lock(m_mutex);
        m_stop = true;
    }
    m_wake.notify_one();
    m_thread.join();
}

void AccessLogWriter::write(QString line)
{
    bool wake = false;
    {
        std::lock_guard lock(m_mutex);
        if (qsizetype(m_queue.size()) >= m_capacity) {
            g_dropped.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        // The writer sleeps only with an empty queue and nothing being written: a line
        // added to a non-empty queue, or while a batch is written, is taken with the next
        // batch without a wake-up (one per batch, not one per request).
        wake = m_queue.empty() && !m_writing;
        m_queue.push_back(std::move(line));
    }
    if (wake)
        m_wake.notify_one();
}

void AccessLogWriter::flush()
{
    std::unique_lock lock(m_mutex);
    m_idle.wait(lock, [this] { return m_queue.empty() && !m_writing; });
}

quint64 AccessLogWriter::droppedTotal()
{
    return g_dropped.load(std::memory_order_relaxed);
}

void AccessLogWriter::run()
{
#ifdef Q_OS_LINUX
    // Named for top/perf (it would inherit the server thread's name).
    pthread_setname_np(pthread_self(), "agmem-accesslog");
#endif
    std::deque<QString> batch;
    std::unique_lock lock(m_mutex);
    for (;;) {
        m_wake.wait(lock, [this] { return m_stop || !m_queue.empty(); });
        if (m_queue.empty() && m_stop)
            break;
        batch.swap(m_queue);
        m_writing = true;
        lock.unlock();
        // Through Qt's message handler, as before: the pattern or --log-format json applies.
        for (const QString &line : batch)
            qCInfo(lcAccess).noquote() << line;
        batch.clear();
        lock.lock();
        m_writing = false;
        if (m_queue.empty())
            m_idle.notify_all();
    }
    m_idle.notify_all();
}

} // namespace agmem
