#include "accesslog.h"

#include "apiserver.h"

#include "core/logging.h"

#include <atomic>
#include <chrono>
#include <utility>

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
        m_queue.push_back(std::move(line));
        // Only a writer asleep for good is woken (a system call, and a thread switch, per
        // request otherwise); a lingering one finds the line when its short wait ends.
        wake = std::exchange(m_sleeping, false);
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
    const auto ready = [this] { return m_stop || !m_queue.empty(); };
    for (;;) {
        if (!ready()) {
            // Under load lines keep coming: they are collected for a moment without a
            // wake-up, then written as one batch. Idle, the writer sleeps until woken.
            m_wake.wait_for(lock, std::chrono::milliseconds(LingerMs), ready);
            if (!ready()) {
                m_sleeping = true;
                m_wake.wait(lock, ready);
                m_sleeping = false;
            }
        }
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
