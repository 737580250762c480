#pragma once

#include <QByteArray>

#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>

namespace agmem {

struct RequestEvent;

// The access log's line for an answered request (message of the agmem.access category):
// "client METHOD path status bytes 1.23ms " or "... 1.23ms (client gone)", in UTF-8.
QByteArray accessLogLine(const RequestEvent &event, bool clientGone);

// Writes access-log lines on a thread of its own, so a request never waits for the log's
// output (a terminal, a pipe, journald). Lines keep their order. The queue is bounded: when
// the output cannot keep up, new lines are dropped and counted (droppedTotal(), shown in
// /metrics as agmem_access_log_dropped_total) instead of slowing requests down.
class AccessLogWriter
{
public:
    explicit AccessLogWriter(qsizetype capacity = DefaultCapacity);
    // Writes what is queued, then stops.
    ~AccessLogWriter();
    AccessLogWriter(const AccessLogWriter &) = delete;
    AccessLogWriter &operator=(const AccessLogWriter &) = delete;

    // Never blocks on the output: queues the line, or drops it when the queue is full.
    void write(QByteArray line);
    // Waits until every line queued so far has been written (tests).
    void flush();

    // Lines dropped by every writer of the process since start.
    static quint64 droppedTotal();

    // Where the lines go. By default (nullptr) each line is a qCInfo(lcAccess) message, so
    // whatever message handler or QT_MESSAGE_PATTERN is in place applies. The app sets its
    // stderr here when Qt's own handler writes DefaultMessagePattern (core/logging.h) there:
    // the writer then formats the same "time agmem.access info: line" itself and writes
    // each batch with one call, which costs a fraction of the message handler's work per line.
    static void setDirectOutput(FILE *out);

    static constexpr qsizetype DefaultCapacity = 16384;
    // How long the writer waits for more lines after a batch before it sleeps until woken:
    // the most a line waits for its turn while requests keep coming.
    static constexpr int LingerMs = 10;

private:
    void run();

    const qsizetype m_capacity;
    std::mutex m_mutex;
    std::condition_variable m_wake;
    std::condition_variable m_idle;
    std::deque<QByteArray> m_queue;
    bool m_writing = false;
    // Waiting without a time limit: the next line wakes it.
    bool m_sleeping = false;
    bool m_stop = false;
    std::thread m_thread;
};

} // namespace agmem
