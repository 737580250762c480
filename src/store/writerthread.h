#pragma once

#include "coordinatorwriter.h"

#include <QMutex>
#include <QObject>
#include <QThread>

#include <functional>
#include <memory>

namespace agmem {

// Runs a CoordinatorWriter on a thread of its own, so commits (and their fsync) never
// block the threads that parse requests: while one batch commits, the next one gathers.
//
// Work is queued in one FIFO: pushes that are next to each other become one batch (group
// commit, at most `maxBatch`); any other write runs alone, in its place in the order.
// Results come back as callbacks that run in the thread that started it (the HTTP
// thread), in the order the work was queued, after the work committed.
class WriterThread : public QObject
{
    Q_OBJECT

public:
    using Open = std::function<std::unique_ptr<CoordinatorWriter>(QString *error)>;

    // Starts the thread and runs `open` in it; nullptr and `error` when that fails.
    // `ownThread` false: the writer runs in the calling thread instead, and each piece of
    // work (and its callbacks) runs at once when queued (commits then block that thread;
    // the default, see ServerConfig::writerThread).
    static std::unique_ptr<WriterThread> start(const Open &open, int maxBatch, QString *error,
                                               bool ownThread = true);
    // Finishes the queued work, destroys the writer in its thread, and joins it. Callbacks
    // not delivered by then are dropped.
    ~WriterThread() override;

    // For read(), pullBody() and connecting to its signals (queued: it lives in the writer
    // thread). Its write functions must not be called from other threads: use these.
    CoordinatorWriter &writer() { return *m_writer; }

    // Queues validated pushes; each `done` runs in the delivery thread after its commit.
    using PushDone = std::function<void(const PushOutcome &)>;
    void push(QList<QPair<PushRequest, PushDone>> pushes);
    // Queues a write `job(writer)`; `done(result)` runs in the delivery thread after it.
    template <typename Job, typename Done>
    void submit(Job job, Done done)
    {
        enqueue(Item{{}, {}, [this, job = std::move(job), done = std::move(done)]() mutable {
                         auto result = job(*m_writer);
                         deliver([done = std::move(done), result = std::move(result)] {
                             done(result);
                         });
                     }});
    }
    // Runs `job(writer)` in the writer thread after the work queued before, and waits for
    // it (start-up, shutdown and tests; never on a request's path).
    template <typename Job>
    auto call(Job job)
    {
        using Result = decltype(job(*m_writer));
        std::optional<Result> result;
        runAndWait([&] { result.emplace(job(*m_writer)); });
        return std::move(*result);
    }
    // Waits until everything queued so far is done, then runs the callbacks now (in the
    // calling thread, which must be the delivery thread).
    void waitForIdle();
    // Runs the callbacks whose work is done (queued to the delivery thread as well).
    void deliverNow();

private:
    struct Item
    {
        std::optional<PushRequest> push;
        std::function<void(const PushOutcome &)> pushDone;
        std::function<void()> job;
    };

    explicit WriterThread(int maxBatch);
    void enqueue(Item item);
    // Posts drain() to the writer thread; the caller holds m_queueLock.
    void wakeWriter();
    void drain();
    void deliver(std::function<void()> callback);
    void runAndWait(const std::function<void()> &job);

    QThread m_thread;
    // Lives in m_thread: the context of the queued calls into it.
    QObject *m_host = nullptr;
    // m_host when the writer has no thread of its own.
    std::unique_ptr<QObject> m_inlineHost;
    bool m_draining = false;
    // Lives in the starting thread: the context of the callbacks' delivery.
    QObject m_delivery;
    int m_maxBatch;
    std::unique_ptr<CoordinatorWriter> m_writer;

    QMutex m_queueLock;
    QList<Item> m_queue;
    bool m_drainPosted = false;

    QMutex m_doneLock;
    QList<std::function<void()>> m_done;
    bool m_deliveryPosted = false;
};

} // namespace agmem
