#include "accesslog.h"

#include "apiserver.h"

#include "core/logging.h"

#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <utility>

#ifdef Q_OS_LINUX
#include <pthread.h>
#endif

namespace agmem {

namespace {

std::atomic<quint64> g_dropped = 0;
std::atomic<FILE *> g_directOutput = nullptr;

// DefaultMessagePattern's text between %{time} and %{message} for an info of agmem.access.
constexpr char DirectInfix[] = " agmem.access info: ";
// A batch is written in pieces of about this size.
constexpr qsizetype DirectChunk = 64 * 1024;

// `value` with two decimals, exactly as std::to_chars(fixed, 2) writes it (the exact binary
// value rounded, ties to even); returns the end.
char *appendMilliseconds(char *out, char *end, double value)
{
    // The usual durations by integer arithmetic; whatever lies within a hair of a tie
    // between two results (where value * 100 may round either way: below 1e7 its error is
    // under 1e-7), and anything unusual, through to_chars.
    if (std::isfinite(value) && !std::signbit(value) && value < 1e7) {
        const double scaled = value * 100;
        const double whole = std::floor(scaled);
        const double fraction = scaled - whole;
        if (std::abs(fraction - 0.5) > 1e-6) {
            const auto hundredths = qint64(fraction > 0.5 ? whole + 1 : whole);
            out = std::to_chars(out, end, hundredths / 100).ptr;
            const auto cents = int(hundredths % 100);
            *out++ = '.';
            *out++ = char('0' + cents / 10);
            *out++ = char('0' + cents % 10);
            return out;
        }
    }
    return std::to_chars(out, end, value, std::chars_format::fixed, 2).ptr;
}

} // namespace

QByteArray accessLogLine(const RequestEvent &event, bool clientGone)
{
    // The fields as QDebug wrote them (space-separated, the last one possibly empty).
    QByteArray line;
    line.reserve(event.source.size() + event.path.size() + event.method.size() + 96);
    // Fields a client chose are escaped: a request cannot write a line of its own.
    appendLogSafeUtf8(line, event.source);
    // The rest goes through one buffer and one append.
    char text[512];
    char *p = text;
    *p++ = ' ';
    const qsizetype methodSize = std::min<qsizetype>(event.method.size(), 64);
    std::memcpy(p, event.method.constData(), size_t(methodSize));
    p += methodSize;
    *p++ = ' ';
    if (methodSize == event.method.size()) {
        line.append(text, p - text);
    } else {
        line += ' ';
        line += event.method;
        line += ' ';
    }
    appendLogSafeUtf8(line, event.path);
    // Each number within a bound it always fits in (the double: any in fixed notation).
    p = text;
    *p++ = ' ';
    p = std::to_chars(p, p + 24, event.status).ptr;
    *p++ = ' ';
    p = std::to_chars(p, p + 24, event.bytes).ptr;
    *p++ = ' ';
    p = appendMilliseconds(p, p + 400, event.milliseconds);
    std::memcpy(p, "ms ", 3);
    p += 3;
    if (clientGone) {
        std::memcpy(p, "(client gone)", 13);
        p += 13;
    }
    line.append(text, p - text);
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

void AccessLogWriter::write(QByteArray line)
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

void AccessLogWriter::setDirectOutput(FILE *out)
{
    g_directOutput.store(out);
}

void AccessLogWriter::run()
{
#ifdef Q_OS_LINUX
    // Named for top/perf (it would inherit the server thread's name).
    pthread_setname_np(pthread_self(), "agmem-accesslog");
#endif
    std::deque<QByteArray> batch;
    QByteArray text;
    text.reserve(DirectChunk + 4096);
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
        if (FILE *out = g_directOutput.load()) {
            // The lines as Qt's handler would write them with DefaultMessagePattern, a
            // whole piece of the batch per call (one write(2): stderr is unbuffered).
            const auto put = [&] {
                std::fwrite(text.constData(), 1, size_t(text.size()), out);
                std::fflush(out);
                text.resize(0); // keeps the capacity
            };
            for (const QByteArray &line : batch) {
                appendLogTime(text);
                text += DirectInfix;
                text += line;
                text += '\n';
                if (text.size() >= DirectChunk)
                    put();
            }
            if (!text.isEmpty())
                put();
        } else {
            // Through Qt's message handler: the pattern or --log-format json applies.
            for (const QByteArray &line : batch)
                qCInfo(lcAccess).noquote() << QString::fromUtf8(line);
        }
        batch.clear();
        lock.lock();
        m_writing = false;
        if (m_queue.empty())
            m_idle.notify_all();
    }
    m_idle.notify_all();
}

} // namespace agmem
